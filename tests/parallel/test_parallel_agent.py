"""Prompt tasks: routed model, the agent command run, Claude Code's JSON result parsed, cost tracked, budget kept."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import write_plan

from buildrunner.parallel.session_manager import SessionManager
from buildrunner.project import Project

# A stand-in for the `claude` CLI (which needs an account): it prints the documented
# `--output-format json` result and records its arguments.
FAKE_CLAUDE = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CLAUDE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
prompt = args[args.index("-p") + 1]
error = "FAIL" in prompt
print(json.dumps({{
    "type": "result", "subtype": "error_during_execution" if error else "success", "is_error": error,
    "duration_ms": 1500, "duration_api_ms": 1200, "num_turns": 2, "result": "could not do it" if error else "done",
    "session_id": "3f2a", "total_cost_usd": float(os.environ.get("FAKE_CLAUDE_COST", "0.0123")),
    "usage": {{"input_tokens": 1200, "output_tokens": 340, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}},
}}))
"""


@pytest.fixture
def fake_claude(fast_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "claude"
    script.write_text(FAKE_CLAUDE.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "claude-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))
    return log


def _sid(stdout: str) -> str:
    return next(line.split(": ")[1] for line in stdout.splitlines() if line.startswith("Session ID: "))


def test_prompt_tasks_run_the_agent_with_the_routed_model_and_record_cost(fast_project: Path, fake_claude: Path, run_br: Any) -> None:
    plan = write_plan(
        fast_project,
        {"tasks": [
            {"id": "typo", "prompt": "Fix the typo in the README", "description": "fix a typo in docs"},
            {"id": "pinned", "prompt": "Design the new storage layer", "model": "opus"},
            {"id": "broken", "prompt": "FAIL on purpose"},
        ]},
    )
    result = run_br("parallel", "start", "agents", "--config", str(plan), "--workers", "2", "--wait")
    assert result.returncode == 1  # `broken` failed
    sid = _sid(result.stdout)
    calls = [json.loads(line) for line in fake_claude.read_text().splitlines()]
    by_prompt = {call[call.index("-p") + 1]: call for call in calls}
    assert by_prompt["Fix the typo in the README"][-2:] == ["--output-format", "json"]
    assert "opus" in by_prompt["Design the new storage layer"][by_prompt["Design the new storage layer"].index("--model") + 1]
    project = Project(fast_project)
    costs = project.store.fetchall("SELECT task_id, cost, input_tokens, output_tokens, source FROM cost_records WHERE session_id = ? ORDER BY task_id", (sid,))
    assert [(c["task_id"], round(c["cost"], 4), c["input_tokens"], c["source"]) for c in costs] == [
        ("broken", 0.0123, 1200, "claude-code"), ("pinned", 0.0123, 1200, "claude-code"), ("typo", 0.0123, 1200, "claude-code")
    ]
    tasks = {t.task_id: t for t in SessionManager(project).list_tasks(sid)}
    assert tasks["typo"].status == "completed" and tasks["typo"].selected_model
    assert tasks["pinned"].selected_model == "opus"
    assert tasks["broken"].status == "failed" and "agent reported an error: could not do it" in (tasks["broken"].error or "")
    assert SessionManager(project).get_session_status(sid).cost == pytest.approx(0.0369)
    selected = project.store.scalar("SELECT COUNT(*) FROM events WHERE session_id = ? AND type = 'model_selected'", (sid,))
    assert selected == 3
    project.close()


def test_a_missing_agent_program_fails_at_start_not_per_task(fast_project: Path, run_br: Any) -> None:
    config = fast_project / ".buildrunner" / "config.json"
    data = json.loads(config.read_text())
    data["parallel"]["agent_command"] = "no-such-agent-xyz -p {prompt}"
    config.write_text(json.dumps(data))
    plan = write_plan(fast_project, {"tasks": [{"id": f"p{i}", "prompt": "do it"} for i in range(20)]})
    result = run_br("parallel", "start", "x", "--config", str(plan))
    assert result.returncode == 5
    assert "'no-such-agent-xyz' is not on PATH" in result.stderr
    assert json.loads(run_br("parallel", "list", "--format", "json").stdout) == []


def test_the_session_pauses_itself_and_alerts_when_the_daily_budget_is_spent(
    fast_project: Path, fake_claude: Path, run_br: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CLAUDE_COST", "0.6")
    monkeypatch.setenv("BR_COST_LIMIT_DAILY", "1.0")
    plan = write_plan(fast_project, {"tasks": [{"id": f"p{i}", "prompt": "Fix the typo in the README"} for i in range(5)]})
    result = run_br("parallel", "start", "budget", "--config", str(plan), "--workers", "1", "--wait")
    assert result.returncode == 1 and "budget" in result.stderr
    sid = _sid(result.stdout)
    project = Project(fast_project)
    status = SessionManager(project).get_session_status(sid)
    assert status.status == "paused" and (status.status_reason or "").startswith("budget: $1.20 spent of the $1.00 daily limit")
    assert status.completed_tasks == 2 and status.pending_tasks == 3  # no third agent run
    assert len(fake_claude.read_text().splitlines()) == 2
    alert = project.store.fetchone("SELECT level, title, current_value, threshold FROM alerts WHERE key = 'cost.daily' AND resolved_at IS NULL")
    assert alert is not None and alert["level"] == "critical"
    assert (alert["current_value"], alert["threshold"]) == (pytest.approx(1.2), 1.0)
    project.close()



def test_a_budget_too_small_for_the_trusted_tier_pauses_rather_than_downgrading(
    fast_project: Path, fake_claude: Path, run_br: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit cost limit may push a task to a cheaper tier; the leftover budget must not: the session waits for budget."""
    monkeypatch.setenv("BR_COST_LIMIT_DAILY", "0.10")  # haiku (about $0.07) would fit, the trusted opus ($0.34) does not
    hard = (
        "Redesign the distributed transaction coordinator across the billing, ledger and payments services "
        "with a zero-downtime migration, concurrency fixes and a security review"
    )
    plan = write_plan(fast_project, {"tasks": [{"id": "hard", "prompt": hard}]})
    result = run_br("parallel", "start", "tight", "--config", str(plan), "--workers", "1", "--wait")
    assert result.returncode == 1 and "budget" in result.stderr
    status = SessionManager(Project(fast_project)).get_session_status(_sid(result.stdout))
    assert status.status == "paused" and status.pending_tasks == 1
    assert not fake_claude.exists()  # the agent never ran on a tier below the task
