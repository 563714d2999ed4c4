"""A bad task fails alone: nothing in a plan or a task row can take a worker (or the session) down."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import exited, wait_for, write_plan

from buildrunner.parallel.session_manager import SessionManager
from buildrunner.project import Project

BILLION_LAUGHS = "\n".join(
    [f'{chr(97 + i)}: &{chr(97 + i)} [' + ", ".join([f"*{chr(96 + i)}"] * 9 if i else ['"lol"'] * 9) + "]" for i in range(9)]
    + ['tasks: [{id: t, command: "true"}]']
)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("laughs.yaml", BILLION_LAUGHS, "aliases expand to"),
        ("deep.json", "[" * 50_000 + "]" * 50_000, "nested deeper than"),
        ("deep.yaml", "tasks:\n" + "".join("  " * i + "- \n" for i in range(100)), "nested deeper than"),
        ("big.json", '{"tasks": [{"id": "a", "command": "true", "retries": ' + "9" * 5000 + "}]}", "out of range"),
        ("nul.yaml", 'tasks:\n  - id: a\n    command: "echo \\0"\n', "tasks[0].command (task 'a'): contains a NUL byte"),
        ("envkey.yaml", 'tasks:\n  - id: a\n    command: "true"\n    env: {"A=B": "1"}\n', "tasks[0].env (task 'a'): variable name 'A=B'"),
        ("envnul.yaml", 'tasks:\n  - id: a\n    command: "true"\n    env: {"A": "x\\0y"}\n', "A: the value contains a NUL byte"),
        ("agent.yaml", 'agent_command: "claude \\0 -p {prompt}"\ntasks:\n  - id: a\n    prompt: hi\n', "agent_command: contains a NUL byte"),
        ("inf.yaml", "tasks:\n  - id: a\n    command: 'true'\n    timeout: .inf\n", "tasks[0].timeout (task 'a')"),
        ("long.yaml", "tasks:\n  - id: a\n    command: 'true'\n    timeout: 1e9\n", "tasks[0].timeout (task 'a')"),
    ],
)
def test_hostile_plans_are_refused_up_front_in_one_line(fast_project: Path, run_br: Any, name: str, text: str, expected: str) -> None:
    (fast_project / name).write_text(text)
    started = time.monotonic()
    result = run_br("parallel", "start", "x", "--config", name)
    assert result.returncode == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30  # not minutes of alias expansion (usually well under a second)
    assert Project(fast_project).store.scalar("SELECT COUNT(*) FROM sessions") == 0


def test_config_limits_have_upper_bounds(fast_project: Path, run_br: Any) -> None:
    config = fast_project / ".buildrunner" / "config.json"
    config.write_text(json.dumps({"parallel": {"heartbeat_timeout": 1e308}}))
    result = run_br("config", "show")
    assert result.returncode == 2 and "heartbeat_timeout" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_tasks_that_cannot_start_fail_alone_and_every_worker_carries_on(fast_project: Path, run_br: Any) -> None:
    garbage = fast_project / "garbage"
    garbage.write_bytes(b"\x7fELF\x00\x00not a program")
    garbage.chmod(0o755)
    plan = write_plan(
        fast_project,
        {
            "retries": 1,
            "tasks": [
                {"id": "missing", "command": "definitely-not-a-program-br"},
                {"id": "format", "command": "./garbage"},
                {"id": "nowhere", "command": "true", "cwd": "does/not/exist"},
                *({"id": f"ok{i}", "command": "true"} for i in range(6)),
            ],
        },
    )
    project = Project(fast_project)
    manager = SessionManager(project)
    session = manager.create_session("poison", plan=manager.load_plan(plan), num_workers=2, start_workers=False)
    # Rows the plan could never hold (the validation above refuses them), as a damaged or foreign store might: still one failed task each.
    store = project.store
    store.execute("UPDATE tasks SET command = ? WHERE task_id = 'ok4'", ("echo a\x00b",))
    store.execute("UPDATE tasks SET env = ? WHERE task_id = 'ok5'", (json.dumps({"A=B\x00": "1"}),))
    pids = manager.start_workers(session.session_id, 2)
    final = manager.wait(session.session_id, timeout=120)
    assert final.status == "failed" and final.completed_tasks == 4
    tasks = {t.task_id: t for t in manager.list_tasks(session.session_id)}
    assert {tid for tid, t in tasks.items() if t.status == "failed"} == {"missing", "format", "nowhere", "ok4", "ok5"}
    assert all(t.attempts == 2 and "\n" not in (t.error or "") for t in tasks.values() if t.status == "failed")
    assert "not found" in (tasks["missing"].error or "") or "127" in (tasks["missing"].error or "")
    assert "does not exist" in (tasks["nowhere"].error or "")
    assert "NUL" in (tasks["ok4"].error or "") or "null" in (tasks["ok4"].error or "")
    # None died, none was lost: each leaves on its own once it sees the session end (the second may
    # have found the session already over when it started, and never joined).
    def statuses() -> list[str]:
        return [w["status"] for w in store.fetchall("SELECT status FROM workers WHERE session_id = ?", (session.session_id,))]

    wait_for(lambda: statuses() and set(statuses()) == {"stopped"}, 30, "the workers to stop")
    log = (fast_project / ".buildrunner" / "logs" / session.session_id / "workers.log").read_text()
    assert "unexpected" not in log and "Traceback" not in log
    wait_for(lambda: exited(pids), 30, "the workers to exit")  # (a worker names itself in `ps`: its comm holds spaces)
    project.close()
