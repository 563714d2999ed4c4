"""`br parallel start --dry-run`: the plan checked as start checks it, each task's order and each prompt task's tier and
estimated cost as routing would pick them, with nothing stored and nothing run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import FAKE_AWS_KEY, write_plan

STANDINS = Path(__file__).resolve().parents[1] / "agents" / "standins"


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ['PATH']}")


def _json(result: Any) -> Any:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def test_a_dry_run_shows_order_tiers_and_costs_and_stores_and_runs_nothing(fast_project: Path, on_path: None, run_br: Any, tmp_path: Path) -> None:
    touched = tmp_path / "ran"
    plan = write_plan(fast_project, {"max_cost": 5.0, "agent": "claude", "tasks": [
        {"id": "lint", "command": f"touch {touched}"},
        {"id": "docs", "prompt": "Fix a typo in the README's install section", "depends_on": ["lint"]},
        {"id": "design", "prompt": f"Design the sharding and replication of the job store across regions (key {FAKE_AWS_KEY})"},
        {"id": "pinned", "prompt": "Rename a local variable", "model": "opus", "depends_on": ["docs", "design"]},
    ]})
    result = run_br("parallel", "start", "preview", "--config", str(plan), "--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    preview = _json(result)
    tasks = {task["task_id"]: task for task in preview["tasks"]}
    assert {name: task["wave"] for name, task in tasks.items()} == {"lint": 1, "docs": 2, "design": 1, "pinned": 3} and preview["waves"] == 3
    assert (preview["total_tasks"], preview["prompt_tasks"], preview["cost_limit"]) == (4, 3, 5.0)
    # Each prompt task's tier is the one `br routing select` gives its description (the pinned one keeps its model).
    for name in ("docs", "design"):
        text = "Fix a typo in the README's install section" if name == "docs" else tasks[name]["description"]
        selected = _json(run_br("routing", "select", text, "--cost-limit", "5", "--format", "json"))
        assert (tasks[name]["tier"], tasks[name]["routed"], tasks[name]["escalates"]) == (selected["selected_model"], True, True)
    assert tasks["docs"]["tier"] == "haiku" and tasks["design"]["tier"] == "opus"
    assert (tasks["pinned"]["tier"], tasks["pinned"]["routed"], tasks["pinned"]["escalates"]) == ("opus", False, False)
    assert preview["estimated_cost"] == pytest.approx(sum(t["estimated_cost"] for t in tasks.values() if t["kind"] == "prompt"))
    assert tasks["lint"]["tier"] is None and tasks["lint"]["estimated_cost"] is None
    assert FAKE_AWS_KEY not in result.stdout and "AKIA" in tasks["design"]["description"]
    # Nothing stored, nothing run; the same name starts for real afterwards.
    assert _json(run_br("parallel", "list", "--format", "json")) == [] and not touched.exists()
    text = run_br("parallel", "start", "preview", "--config", str(plan), "--dry-run")
    assert text.returncode == 0 and "nothing is stored or run" in text.stdout and "4 tasks in 3 waves" in text.stdout
    assert "opus (its model)" in text.stdout and FAKE_AWS_KEY not in text.stdout + text.stderr


def test_a_task_that_would_fail_as_planned_fails_the_dry_run(fast_project: Path, on_path: None, run_br: Any) -> None:
    plan = write_plan(fast_project, {"agent": "claude", "tasks": [
        {"id": "big", "prompt": "Design the sharding and replication of the job store across regions", "max_cost": 0.0001},
        {"id": "ok", "command": "true"},
    ]})
    result = run_br("parallel", "start", "capped", "--config", str(plan), "--dry-run")
    assert result.returncode == 1
    assert "big: routing:" in result.stderr and "max_cost" in result.stderr and "Traceback" not in result.stderr
    preview = _json(run_br("parallel", "start", "capped", "--config", str(plan), "--dry-run", "--format", "json"))
    big = next(task for task in preview["tasks"] if task["task_id"] == "big")
    assert big["tier"] is None and big["problem"].startswith("routing:")


def test_a_dry_run_refuses_what_start_refuses(fast_project: Path, run_br: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no agent installed
    plan = write_plan(fast_project, {"tasks": [{"id": "p", "prompt": "Add a flag", "agent": "codex"}]})
    missing = run_br("parallel", "start", "x", "--config", str(plan), "--dry-run")
    assert missing.returncode == 5 and "not on PATH" in missing.stderr
    cyclic = write_plan(fast_project, {"tasks": [{"id": "a", "command": "true", "depends_on": ["b"]}, {"id": "b", "command": "true", "depends_on": ["a"]}]}, "cyclic.yaml")
    bad = run_br("parallel", "start", "x", "--config", str(cyclic), "--dry-run")
    assert bad.returncode == 2 and "dependency cycle" in bad.stderr
    both = run_br("parallel", "start", "x", "--config", str(cyclic), "--dry-run", "--wait")
    assert both.returncode == 2 and "--dry-run" in both.stderr and "--wait" in both.stderr
    absent = run_br("parallel", "start", "x", "--config", str(fast_project / "nope.yaml"), "--dry-run")
    assert absent.returncode == 6


def test_a_dry_run_outside_a_project_creates_no_store(run_br: Any, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "plan.yaml").write_text("tasks:\n  - id: a\n    command: echo hi\n")
    result = run_br("parallel", "start", "x", "--config", "plan.yaml", "--dry-run", cwd=bare)
    assert result.returncode == 0 and "1 task in 1 wave" in result.stdout
    assert sorted(p.name for p in bare.iterdir()) == ["plan.yaml"]  # no .buildrunner/ made


def test_prompt_tasks_that_can_run_at_once_in_one_checkout_are_noted(fast_project: Path, on_path: None, run_br: Any) -> None:
    """Their security checks see each other's changes: start said nothing, and an innocent task failed for another's secret."""
    plan = write_plan(fast_project, {"tasks": [{"id": "docs", "prompt": "Write the docs"}, {"id": "deploy", "prompt": "Write the deploy script"}]})
    two = run_br("parallel", "start", "shared", "--config", str(plan), "--dry-run", "--workers", "2")
    assert two.returncode == 0 and "prompt tasks 'docs', 'deploy' share your checkout" in two.stderr
    one = run_br("parallel", "start", "shared", "--config", str(plan), "--dry-run", "--workers", "1")
    assert "share your checkout" not in one.stderr  # one worker runs them one after the other
    kept_apart = write_plan(fast_project, {"isolation": "worktree", "tasks": [{"id": "a", "prompt": "x"}, {"id": "b", "prompt": "y"}]}, "apart.yaml")
    assert "share your checkout" not in run_br("parallel", "start", "apart", "--config", str(kept_apart), "--dry-run", "--workers", "2").stderr


def test_merge_true_with_no_worktree_task_is_said_to_merge_nothing(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"merge": True, "tasks": [{"id": "a", "command": "true"}]})
    result = run_br("parallel", "start", "x", "--config", str(plan), "--dry-run")
    assert result.returncode == 0 and "no task has isolation: worktree: nothing will be merged" in result.stderr
