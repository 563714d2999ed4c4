"""Many machines: worker groups in separate processes (and project folders) share one PostgreSQL session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import wait_for, write_config, write_plan

from buildrunner.project import Project
from buildrunner.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def start_on_machine_a(run_br: Any, plan: Path, env: dict[str, str]) -> str:
    """`br parallel start` with its own 2 detached workers; returns the session id."""
    started = run_br("parallel", "start", "fleet", "--config", str(plan), "--workers", "2", "--format", "json", env=env)
    assert started.returncode == 0, started.stderr
    return str(json.loads(started.stdout)["session_id"])


def join_from_machine_b(
    root: Path, sid: str, env: dict[str, str], name: str, prefix: list[str] | None = None, joined: Any = None
) -> None:
    """Two workers from another checkout (`prefix` wraps their command) that join with the same database URL; waits for both.

    `joined()` runs once both are started (before waiting for them to end)."""
    (root / ".buildrunner").mkdir(parents=True)
    write_config(root)
    group = [
        subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "buildrunner", "parallel", "worker", sid, "--name", f"{name}-{i}"],
            cwd=root, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    if joined is not None:
        joined()
    for proc in group:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


def test_two_worker_groups_share_one_postgres_session(fast_project: Path, tmp_path: Path, postgres_url: str, run_br: Any) -> None:
    env = {"BR_DATABASE_URL": postgres_url}
    gate = tmp_path / "gate"  # every task waits for it, so both groups hold tasks when the work starts, however slow the machine
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i:02d}", "command": f"while [ ! -e {gate} ]; do sleep 0.05; done; echo $PWD"} for i in range(24)]})
    sid = start_on_machine_a(run_br, plan, env)
    machine_b = tmp_path / "machine-b"
    store = open_store(url=postgres_url)

    def open_gate() -> None:
        wait_for(lambda: store.scalar("SELECT COUNT(*) FROM workers WHERE session_id = ? AND status = 'active'", (sid,)) == 4, 60, "four busy workers")
        gate.touch()

    join_from_machine_b(machine_b, sid, env, "b", joined=open_gate)
    project = Project(fast_project, store=store)
    wait_for(lambda: store.scalar("SELECT status FROM sessions WHERE id = ?", (sid,)) == "completed", 60, "the session to complete")
    done = store.fetchall(
        "SELECT w.name, COUNT(*) AS n FROM task_attempts a JOIN workers w ON w.id = a.worker_id "
        "WHERE a.session_id = ? AND a.status = 'completed' GROUP BY w.name ORDER BY w.name",
        (sid,),
    )
    per_worker = {row["name"]: row["n"] for row in done}
    assert sum(per_worker.values()) == 24
    assert store.scalar("SELECT COUNT(DISTINCT task_id) FROM task_attempts WHERE session_id = ? AND status = 'completed'", (sid,)) == 24
    assert per_worker.get("b-0", 0) + per_worker.get("b-1", 0) > 0  # machine B did real work
    assert per_worker.get("worker-1", 0) + per_worker.get("worker-2", 0) > 0
    # Each group ran its tasks in its own checkout.
    logs_b = list((machine_b / ".buildrunner" / "logs" / sid).glob("t*.log"))
    assert logs_b and all(str(machine_b) in p.read_text() for p in logs_b)
    project.close()
    store.close()


def test_a_machine_whose_clock_runs_ahead_does_not_declare_the_others_lost(
    fast_project: Path, tmp_path: Path, postgres_url: str, run_br: Any
) -> None:
    """Heartbeats are stamped and judged by the database's clock, not each machine's own."""
    faketime = shutil.which("faketime")
    if faketime is None:
        if os.environ.get("CI"):
            pytest.fail("faketime is required in CI (apt-get install faketime)")
        pytest.skip("faketime is not installed (apt-get install faketime)")
    env = {"BR_DATABASE_URL": postgres_url}
    gate = tmp_path / "go"  # no task finishes before machine B has joined: both machines get work however loaded
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i:02d}", "command": f"until [ -e {gate} ]; do sleep 0.05; done"} for i in range(24)]})
    sid = start_on_machine_a(run_br, plan, env)
    # "Machine B", whose clock is two minutes ahead: with its own clock it would see machine A's
    # heartbeats as two minutes old, far past heartbeat_timeout (10 s here), and reap A's workers.
    # Only the wall clock runs ahead: a faked monotonic clock stalls Python's timed waits.
    skewed = {**env, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    store = open_store(url=postgres_url)

    def open_the_gate() -> None:
        taken = "SELECT COUNT(*) FROM task_attempts a JOIN workers w ON w.id = a.worker_id WHERE a.session_id = ? AND w.name LIKE 'ahead-%'"
        wait_for(lambda: store.scalar(taken, (sid,)), 60, "machine B to take a task")
        # Both of B's workers joined: on a loaded machine the second one's start can outlast the whole session otherwise.
        joined = "SELECT COUNT(*) FROM workers WHERE session_id = ? AND name LIKE 'ahead-%'"
        wait_for(lambda: store.scalar(joined, (sid,)) == 2, 60, "both of machine B's workers to join")
        gate.touch()

    join_from_machine_b(tmp_path / "machine-b", sid, skewed, "ahead", prefix=[faketime, "-f", "+120s"], joined=open_the_gate)
    wait_for(lambda: store.scalar("SELECT status FROM sessions WHERE id = ?", (sid,)) == "completed", 60, "the session to complete")
    assert store.scalar("SELECT COUNT(*) FROM events WHERE session_id = ? AND type = 'worker_lost'", (sid,)) == 0
    assert store.scalar("SELECT COUNT(*) FROM task_attempts WHERE session_id = ? AND status = 'lost'", (sid,)) == 0
    ahead_attempt = store.scalar(
        "SELECT MIN(a.started_at) FROM task_attempts a JOIN workers w ON w.id = a.worker_id "
        "WHERE a.session_id = ? AND w.name LIKE 'ahead-%'",
        (sid,),
    )
    assert ahead_attempt > time.time() + 60  # machine B really ran ahead: the times it writes itself are in the future
    worker_times = store.fetchone("SELECT MAX(started_at) AS started, MAX(stopped_at) AS stopped FROM workers WHERE session_id = ?", (sid,))
    assert worker_times["stopped"] < time.time() + 5 and worker_times["started"] < time.time() + 5  # but worker times are the database's
    done = store.fetchall(
        "SELECT w.name, COUNT(*) AS n FROM task_attempts a JOIN workers w ON w.id = a.worker_id "
        "WHERE a.session_id = ? AND a.status = 'completed' GROUP BY w.name",
        (sid,),
    )
    assert sum(row["n"] for row in done) == 24 and {row["name"][:5] for row in done} == {"worke", "ahead"}
    store.close()
