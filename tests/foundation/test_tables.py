"""The table-width policy: ids are never shortened or broken; other columns wrap; too narrow turns vertical."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from buildrunner.cli.tables import Column, fit, print_table
from buildrunner.parallel.plan import validate_plan
from buildrunner.parallel.session_manager import SessionManager
from buildrunner.parallel.worker_coordinator import WorkerCoordinator
from buildrunner.project import Project

LONG_NAME = "nightly regression suite for the payments service and its reconciliation jobs"


def in_terminal(args: list[str], cwd: Path, columns: int = 80) -> str:
    """Run `br args` with its output on a real pseudo-terminal `columns` wide; returns what it showed."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "buildrunner", *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")


def _session_with_long_names(root: Path) -> tuple[str, list[str]]:
    with Project(root) as project:
        manager = SessionManager(project)
        plan = validate_plan({"tasks": [{"id": "compile-the-reconciliation-service-bundle", "command": "true"}]}, "p")
        sid = manager.create_session(LONG_NAME, plan=plan).session_id
        coordinator = WorkerCoordinator(sid, project)
        for i in range(2):
            coordinator.register_worker(name=f"ci-runner-eu-west-{i}-payments")
        names = [w.name for w in manager.list_workers(sid)]
    return sid, names


def test_parallel_list_and_workers_at_80_columns_show_whole_ids(tmp_project: Path) -> None:
    sid, workers = _session_with_long_names(tmp_project)
    listing = in_terminal(["parallel", "list"], tmp_project)
    assert sid in listing, listing
    assert "…" not in listing
    assert all(len(line) <= 80 for line in listing.splitlines()), listing
    shown = in_terminal(["parallel", "workers", sid], tmp_project)
    assert "…" not in shown
    for name in workers:
        assert name in shown, shown
    assert all(len(line) <= 80 for line in shown.splitlines()), shown


def test_piped_config_show_keeps_each_key_on_its_line(run_br, tmp_project: Path) -> None:
    r = run_br("config", "show", env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    matching = [line for line in r.stdout.splitlines() if "monthly" in line]
    assert len(matching) == 1 and matching[0].split()[0] == "routing.cost_limits.monthly", r.stdout
    assert any(line.split()[:1] == ["routing.models.haiku.cache_read_per_mtok"] for line in r.stdout.splitlines())


IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./", min_size=1, max_size=30)
WORDS = st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), min_size=1, max_size=8).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(IDS, WORDS, IDS, WORDS), min_size=1, max_size=4), width=st.integers(min_value=44, max_value=160))
def test_ids_are_whole_on_one_line_at_any_width(rows: list[tuple[str, str, str, str]], width: int) -> None:
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    columns = [Column("Session ID", key=True), Column("Name"), Column("Worker", key=True), Column("Notes")]
    print_table(console, columns, [list(row) for row in rows], title="T")
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert all(len(line) <= width for line in lines)
    for session, name, worker, notes in rows:
        assert any(session in line for line in lines) and any(worker in line for line in lines)
        for word in (name + " " + notes).split():
            assert any(word in line for line in lines)  # other columns wrap between words, never inside one


def test_too_narrow_turns_vertical_and_pipes_get_full_rows() -> None:
    columns = [Column("Session ID", key=True), "Name", "Status", "Progress", "Workers", "Created"]
    rows = [["session-26779b3fa1c2d4e5", "sprint 42", "completed", "10/10", "3", "2026-12-02 02:35:09"]]
    narrow = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    narrow.print(fit(narrow, columns, rows, 60))
    assert "Session ID: session-26779b3fa1c2d4e5" in narrow.file.getvalue()  # type: ignore[attr-defined]
    piped = Console(file=io.StringIO(), width=40)
    print_table(piped, columns, rows * 2)
    body = [line for line in piped.file.getvalue().splitlines() if "session-" in line]  # type: ignore[attr-defined]
    assert len(body) == 2 and all("2026-12-02 02:35:09" in line for line in body)


def test_the_dashboard_at_80_columns_shows_whole_worker_names(tmp_project: Path) -> None:
    from buildrunner.cli.dashboard import render

    sid, workers = _session_with_long_names(tmp_project)
    with Project(tmp_project) as project:
        manager = SessionManager(project)
        console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
        console.print(render(manager.get_session_status(sid), manager.list_workers(sid), width=80))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in text and sid in text
    for name in workers:
        assert name in text
    assert all(len(line) <= 80 for line in text.splitlines())
