"""Store outages: a PostgreSQL server that goes away and comes back, started and stopped by the test itself."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from parallel_helpers import exited, wait_for, write_config, write_plan
from pg_server import PrivateServer

from buildrunner.errors import ParallelError
from buildrunner.parallel.session_manager import SessionManager
from buildrunner.project import Project
from buildrunner.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    pg = PrivateServer()
    pg.start()
    yield pg
    pg.close()


def _scalar(url: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with open_store(url=url) as store:
        return store.scalar(sql, params)


def test_an_outage_shorter_than_the_window_loses_nothing_and_runs_nothing_twice(fast_project: Path, server: PrivateServer, run_br: Any) -> None:
    """8 s without the database mid-session: workers keep their tasks, wait, carry on; every task's work happens once."""
    out, gate = fast_project / "ran.txt", fast_project / "go"
    # The first tasks pass at once; the rest wait for the gate, opened after the outage, so every worker holds a
    # task through it however loaded the machine (the session cannot end before the server goes away).
    plan = write_plan(fast_project, {"tasks": [
        {"id": f"t{i:02d}", "command": ("" if i < 5 else f"until [ -e {gate} ]; do sleep 0.05; done; ") + f"echo $BR_TASK_ID >> {out}"}
        for i in range(40)
    ]})
    env = {"BR_DATABASE_URL": server.url}
    started = run_br("parallel", "start", "outage", "--config", str(plan), "--workers", "3", "--format", "json", env=env)
    assert started.returncode == 0, started.stderr
    sid, pids = json.loads(started.stdout)["session_id"], json.loads(started.stdout)["worker_pids"]
    wait_for(lambda: _scalar(server.url, "SELECT COUNT(*) FROM tasks WHERE status = 'completed'") >= 5, 60, "the first tasks to complete")
    wait_for(lambda: _scalar(server.url, "SELECT COUNT(*) FROM tasks WHERE status = 'running'") == 3, 60, "each worker to hold a task")
    server.stop()
    time.sleep(8)  # the outage itself: how long the server is away, not a wait for something to happen
    server.start()
    gate.touch()
    wait_for(lambda: _scalar(server.url, "SELECT status FROM sessions WHERE id = ?", (sid,)) == "completed", 120, "the session to complete")
    ran = Counter(out.read_text().split())
    assert sorted(ran) == [f"t{i:02d}" for i in range(40)] and set(ran.values()) == {1}, ran
    with open_store(url=server.url) as store:
        assert store.scalar("SELECT COUNT(*) FROM task_attempts WHERE session_id = ? AND status = 'completed'", (sid,)) == 40
        assert store.scalar("SELECT COUNT(*) FROM workers WHERE session_id = ? AND status = 'lost'", (sid,)) == 0
        assert store.scalar("SELECT COUNT(*) FROM events WHERE type = 'store_outage' AND session_id = ?", (sid,)) >= 1
    # The workers leave once they see the session over (before the server is stopped for good, or they would wait out its window).
    wait_for(lambda: exited(pids), 60, "the workers to exit")
    workers_log = (fast_project / ".buildrunner" / "logs" / sid / "workers.log").read_text()
    assert "gave up" not in workers_log


def test_an_outage_longer_than_the_window_ends_the_workers_with_one_line_and_the_session_says_so(
    fast_project: Path, server: PrivateServer, run_br: Any
) -> None:
    write_config(fast_project, store_outage_window=2)
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "sleep 30"} for i in range(4)]})
    secret_url = server.url.replace("postgres@", "postgres:hunter2hunter2@")  # trust auth ignores it; it must never be printed
    env = {"BR_DATABASE_URL": secret_url}
    started = run_br("parallel", "start", "long", "--config", str(plan), "--workers", "2", "--format", "json", env=env)
    assert started.returncode == 0, started.stderr
    sid, pids = json.loads(started.stdout)["session_id"], json.loads(started.stdout)["worker_pids"]
    wait_for(lambda: _scalar(server.url, "SELECT COUNT(*) FROM workers WHERE status = 'active'") == 2, 60, "two busy workers")
    server.stop()
    wait_for(lambda: exited(pids), 60, "the workers to give up")
    log = (fast_project / ".buildrunner" / "logs" / sid / "workers.log").read_text()
    lines = [line for line in log.splitlines() if "gave up" in line]
    assert len(lines) == 2 and all("127.0.0.1" in line for line in lines), log
    assert "hunter2" not in log
    # Its tasks were ended too: no process of this session is left (other tests' `sleep`s may run beside it under -n 8).
    assert not [proc for proc in psutil.process_iter(["environ"]) if (proc.info["environ"] or {}).get("BR_SESSION_ID") == sid]
    server.start()
    status = run_br("parallel", "status", sid, "--format", "json", env=env)
    assert json.loads(status.stdout)["stalled"] is True
    with open_store(url=server.url) as store:
        manager = SessionManager(Project(fast_project, store=store))
        with pytest.raises(ParallelError, match="no worker is alive"):
            manager.wait(sid, timeout=60)
        assert store.scalar("SELECT COUNT(*) FROM events WHERE type = 'session_stalled' AND session_id = ?", (sid,)) == 1
    assert "no live worker" in run_br("parallel", "status", sid, env=env).stdout.lower()
