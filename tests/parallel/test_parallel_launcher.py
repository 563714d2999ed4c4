"""How local workers are started: forked by `br parallel start`, spawned when the caller holds a connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from parallel_helpers import wait_for, write_plan

from buildrunner.parallel.session_manager import SessionManager
from buildrunner.project import Project

pytestmark = pytest.mark.slow


def session_done(project: Project, sid: str) -> bool:
    return SessionManager(project).get_session_status(sid, activity=0).finished


def test_start_forks_detached_workers_that_show_as_br_parallel_worker(fast_project: Path, run_br: Any) -> None:
    gate = fast_project / "go"  # the workers stay until they have been looked at, however loaded the machine
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": f"until [ -e {gate} ]; do sleep 0.05; done"} for i in range(6)]})
    result = run_br("parallel", "start", "fork", "--config", str(plan), "--workers", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout)
    sid, pids = started["session_id"], started["worker_pids"]
    assert len(pids) == 3
    for pid in pids:  # findable with ps / pgrep, like a spawned worker
        title = f"br parallel worker {sid}"
        wait_for(lambda: " ".join(psutil.Process(pid).cmdline()).strip() == title, 10, f"{pid} to be titled {title!r}")
        assert os.getsid(pid) == pid != os.getsid(0)  # its own session: a closed terminal or killed `start` leaves it be
    project = Project(fast_project)
    # Each launched process is a worker's supervisor; the worker that registers is its child.
    registered = wait_for(lambda: len(rows := project.store.fetchall("SELECT pid FROM workers WHERE session_id = ?", (sid,))) == 3 and rows, 30, "three workers")
    assert sorted(psutil.Process(row["pid"]).ppid() for row in registered) == sorted(pids)
    gate.touch()
    wait_for(lambda: session_done(project, sid), 60, "the session to finish")
    workers = project.store.fetchall("SELECT pid, tasks_completed FROM workers WHERE session_id = ?", (sid,))
    assert sum(row["tasks_completed"] for row in workers) == 6
    log = fast_project / ".buildrunner" / "logs" / sid / "workers.log"
    wait_for(lambda: log.read_text().count("session completed") == 3, 30, "each worker's report in workers.log")
    assert all(line.startswith(f"worker {sid}-w") and line.endswith(" failed") for line in log.read_text().splitlines())
    project.close()


@pytest.mark.parametrize(
    ("fork", "hold_connection"),
    [(False, False), (True, True)],
    ids=["library-default", "fork-asked-but-a-connection-is-open"],
)
def test_workers_are_fresh_interpreters_unless_forking_is_asked_for_and_safe(fast_project: Path, fork: bool, hold_connection: bool) -> None:
    """A library caller's process is never copied; nor is one holding a SQLite connection a fork would carry into the child."""
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "sleep 0.3"} for i in range(4)]})
    project = Project(fast_project)
    manager = SessionManager(project)
    other = Project(fast_project)
    if hold_connection:
        assert other.store.scalar("SELECT COUNT(*) FROM sessions") == 0  # this connection stays open throughout
    session = manager.create_session("spawn", config=plan, num_workers=2, start_workers=False)
    pids = manager.start_workers(session.session_id, 2, fork=fork)
    expected = ["-m", "buildrunner", "parallel", "worker", session.session_id]
    for pid in pids:  # Popen returns at exec's close-on-exec, a moment before the kernel points cmdline at the new args
        wait_for(lambda: psutil.Process(pid).cmdline()[1:] == expected, 10, f"{pid} to run {expected}")
    wait_for(lambda: session_done(project, session.session_id), 60, "the session to finish")
    assert other.store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'completed'") == 4
    other.close()
    project.close()


def test_forked_workers_hold_nothing_the_caller_passed_and_work_in_the_project(fast_project: Path, tmp_path: Path) -> None:
    """A CI step reading `br`'s pipes sees them close when `br` exits, not when the session ends; workers run in the project."""
    plan = write_plan(fast_project, {"tasks": [{"id": "slow", "command": "sleep 3"}]})
    read_end, write_end = os.pipe()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "buildrunner", "parallel", "start", "fds", "--config", str(plan), "--workers", "1",
         "--format", "json", "-C", str(fast_project)],
        cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(write_end,),
    )
    os.close(write_end)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    started = time.monotonic()
    assert os.read(read_end, 1) == b""  # end of file: no worker holds the write end
    assert time.monotonic() - started < 2  # long before the 3 s task ends
    os.close(read_end)
    sid, (pid,) = json.loads(out)["session_id"], json.loads(out)["worker_pids"]
    assert Path(f"/proc/{pid}/cwd").resolve() == fast_project.resolve()  # not the folder `br` was started from
    project = Project(fast_project)
    wait_for(lambda: session_done(project, sid), 60, "the session to finish")
    project.close()


SESSION_MANAGER_EXAMPLE = """\
from buildrunner.parallel.session_manager import SessionManager

manager = SessionManager()

# Create session
session = manager.create_session(
    name="Sprint 42",
    total_tasks=20,
    num_workers=3
)

print(f"Session ID: {session.session_id}")

# Check status
status = manager.get_session_status(session.session_id)
print(f"Progress: {status.completed_tasks}/{status.total_tasks}")

# Pause/resume
manager.pause_session(session.session_id)
manager.resume_session(session.session_id)

# Stop
manager.stop_session(session.session_id)
"""


def test_the_spec_session_manager_example_runs_as_written_after_br_init(tmp_project: Path, run_br: Any) -> None:
    """`br init` writes an example plan, so the spec's create_session(name, total_tasks, num_workers) has work to start."""
    assert run_br("init").returncode == 0
    assert "tasks:" in (tmp_project / ".buildrunner" / "plan.yaml").read_text()
    ran = subprocess.run([sys.executable, "-c", SESSION_MANAGER_EXAMPLE], cwd=tmp_project, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    sid_line, progress = ran.stdout.splitlines()
    sid = sid_line.removeprefix("Session ID: ")
    assert sid.startswith("session-") and progress.endswith("/3")  # the example plan's three tasks (of the 20 asked for)
    project = Project(tmp_project)
    wait_for(lambda: session_done(project, sid), 60, "the session to end")
    assert SessionManager(project).get_session_status(sid).status == "stopped"
    assert (tmp_project / ".buildrunner" / "logs" / sid / "workers.log").exists()  # it launched workers (they found it stopped)
    again = run_br("init")  # an existing plan is the user's: never rewritten
    assert again.returncode == 0 and "plan.yaml" not in again.stderr
    project.close()
