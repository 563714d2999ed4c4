"""Many machines: worker groups in separate processes (and project folders) share one PostgreSQL session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import wait_for, write_config, write_plan

from buildrunner.project import Project
from buildrunner.store import open_store

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_two_worker_groups_share_one_postgres_session(fast_project: Path, tmp_path: Path, postgres_url: str, run_br: Any) -> None:
    env = {"BR_DATABASE_URL": postgres_url}
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i:02d}", "command": "sleep 0.2; echo $PWD"} for i in range(24)]})
    # "Machine A": the start command's own detached workers.
    started = run_br("parallel", "start", "fleet", "--config", str(plan), "--workers", "2", "--format", "json", env=env)
    assert started.returncode == 0, started.stderr
    sid = json.loads(started.stdout)["session_id"]
    # "Machine B": another checkout that joins with the same database URL.
    machine_b = tmp_path / "machine-b"
    (machine_b / ".buildrunner").mkdir(parents=True)
    write_config(machine_b)
    group_b = [
        subprocess.Popen(
            [sys.executable, "-m", "buildrunner", "parallel", "worker", sid, "--name", f"b-{i}"],
            cwd=machine_b, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    for proc in group_b:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    store = open_store(url=postgres_url)
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
