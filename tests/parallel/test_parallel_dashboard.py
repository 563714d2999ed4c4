"""The dashboard, driven headless: what it shows and what its keys do."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console

from buildrunner.cli.dashboard import Dashboard, progress_line, render
from buildrunner.parallel.plan import validate_plan
from buildrunner.parallel.session_manager import SessionManager
from buildrunner.parallel.worker_coordinator import WorkerCoordinator
from buildrunner.project import Project


def _session(project: Project) -> tuple[SessionManager, str]:
    manager = SessionManager(project)
    plan = validate_plan({"tasks": [{"id": "build", "command": "true"}, {"id": "test", "command": "false"}, {"id": "ship", "command": "true", "depends_on": ["test"]}]}, "p")
    sid = manager.create_session("Dash", plan=plan, start_workers=False).session_id
    coordinator = WorkerCoordinator(sid, project)
    worker = coordinator.register_worker()
    first = coordinator.get_next_task(worker)
    assert first is not None
    coordinator.complete_task(worker, first.task_id, first.attempt, cost=0.25)
    second = coordinator.get_next_task(worker)
    assert second is not None
    coordinator.fail_task(worker, second.task_id, second.attempt, "exit code 1: assertion failed", exit_code=1)
    return manager, sid


def test_render_shows_progress_workers_activity_failures_and_cost(fast_project: Path) -> None:
    project = Project(fast_project)
    manager, sid = _session(project)
    console = Console(file=io.StringIO(), width=140, force_terminal=False, color_system=None)
    console.print(render(manager.get_session_status(sid), manager.list_workers(sid)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Dash" in text and sid in text and "failed" in text
    assert "1/3 completed (33%)" in text and "cost $0.25" in text
    assert "worker-1" in text and "Completed build" in text and "Failed test" in text
    assert "exit code 1: assertion failed" in text and "dependency 'test' failed" in text
    assert "q quit" in text
    project.close()


def test_keys_pause_resume_stop_and_quit(fast_project: Path) -> None:
    project = Project(fast_project)
    manager = SessionManager(project)
    plan = validate_plan({"tasks": [{"id": "a", "command": "sleep 30"}]}, "p")  # still running when `s` stops it
    sid = manager.create_session("Keys", plan=plan, start_workers=False).session_id
    board = Dashboard(manager, sid, Console(file=io.StringIO()))
    assert board.handle_key("p") and manager.get_session_status(sid).status == "paused"
    assert board.handle_key("P") and manager.get_session_status(sid).status == "running"
    assert board.handle_key("r")
    assert board.handle_key("s") and manager.get_session_status(sid).status == "stopped"
    assert board.handle_key("q") is False
    project.close()


def test_plain_progress_line_when_not_a_terminal(fast_project: Path, run_br: Any) -> None:
    project = Project(fast_project)
    manager, sid = _session(project)
    line = progress_line(manager.get_session_status(sid))
    assert line.startswith(f"{sid} failed 1/3 (33%) failed 1 skipped 1")
    result = run_br("parallel", "dashboard", sid, timeout=30)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [line]  # one plain line: the session is over
    assert "\x1b[" not in result.stdout
    project.close()


def test_wait_off_a_terminal_prints_a_plain_line_per_task_change(fast_project: Path, run_br: Any) -> None:
    """`--wait | cat` in CI: each attempt's start or end, and the progress after it, without control characters."""
    plan = fast_project / "plan.yaml"
    plan.write_text(
        "tasks:\n"
        "  - {id: first, command: 'sleep 0.2'}\n"
        "  - {id: broken, command: 'exit 3'}\n"
        "  - {id: last, command: 'true', depends_on: [first]}\n"
    )
    result = run_br("parallel", "start", "ci", "--config", str(plan), "--workers", "2", "--wait", env={"NO_COLOR": None, "TERM": "xterm-256color"})
    assert result.returncode == 1, result.stderr  # a task failed: --wait says so for CI
    lines = result.stderr.splitlines()
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    for task, action in (("first", "completed"), ("broken", "failed"), ("last", "completed")):
        assert any(f" {task} {action} (" in line for line in lines), (task, action, lines)
    assert any(" broken failed (" in line and line.endswith(": exit code 3") for line in lines)
    progress = [line for line in lines if line.startswith("session-") and " workers " in line]
    assert progress and " failed 2/3 (67%) failed 1 " in progress[-1]  # one after each batch of changes, the last one final
