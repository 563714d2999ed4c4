"""Prompt tasks end to end through `br parallel start`: each agent (its stand-in), cost, live progress, caps, budgets.

The stand-ins in tests/agents/standins print each vendor's documented output byte for byte (see
tests/agents/README.md); prices come from genai-prices, read here independently of BuildRunner's code.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from genai_prices import Usage, calc_price
from parallel_helpers import FAKE_AWS_KEY, wait_for, write_config, write_plan
from rich.console import Console

from buildrunner.cli.dashboard import render
from buildrunner.parallel.session_manager import SessionManager
from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker

STANDINS = Path(__file__).resolve().parents[1] / "agents" / "standins"
FIXTURES = STANDINS.parent / "fixtures"


@pytest.fixture
def agents_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in `claude`, `codex` and `gemini` first on PATH (workers inherit it)."""
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ['PATH']}")


def _lines(vendor: str, scenario: str) -> list[dict[str, Any]]:
    name = json.loads((FIXTURES / vendor / "scenarios.json").read_text())["scenarios"][scenario]["file"]
    return [json.loads(line) for line in (FIXTURES / vendor / name).read_text().splitlines() if line.strip()]


def _expected_cost(vendor: str, model: str) -> float:
    """What the success fixture's run costs: Claude states it; Codex's and Gemini's tokens at genai-prices' list prices."""
    lines = _lines(vendor, "success")
    if vendor == "claude":
        return float(next(line for line in lines if line.get("type") == "result")["total_cost_usd"])
    if vendor == "codex":
        usage = [line for line in lines if line.get("type") == "turn.completed"][-1]["usage"]
        tokens = Usage(input_tokens=usage["input_tokens"], cache_read_tokens=usage["cached_input_tokens"], output_tokens=usage["output_tokens"])
        return float(calc_price(tokens, model, provider_id="openai").total_price)
    # Gemini's total_tokens also holds thinking and tool-use tokens beyond input and output: billed as output.
    stats = next(line for line in lines if line.get("type") == "result")["stats"]["models"]
    return sum(
        float(calc_price(
            Usage(input_tokens=s["input_tokens"], cache_read_tokens=s["cached"], output_tokens=s["total_tokens"] - s["input_tokens"]), name, provider_id="google",
        ).total_price)
        for name, s in stats.items()
    )


def _start(run_br: Any, plan: Path, *args: str) -> Any:
    return run_br("parallel", "start", "agents", "--config", str(plan), *args)


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_each_agent_runs_a_prompt_task_with_its_cost_recorded_to_the_cent(
    fast_project: Path, agents_on_path: None, run_br: Any, agent: str
) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "docs", "prompt": "Document the public API", "agent": agent, "env": {"BR_STANDIN_DELAY": "0"}}]})
    result = _start(run_br, plan, "--workers", "1", "--wait", "--format", "json")
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout)
    assert final["status"] == "completed"
    (rung,) = final["tasks"][0]["ladder"]
    assert (rung["agent"], rung["outcome"]) == (agent, "passed") and rung["tier"] in ("haiku", "sonnet", "opus")
    records = [r for r in CostTracker(Project(fast_project)).records("all") if r.task_id == "docs"]
    assert {r.agent for r in records} == {agent}
    expected = _expected_cost(agent, rung["model"])
    assert expected > 0  # a run of a few tenths of a cent: compared to the millionth of a dollar, not the cent
    assert sum(r.cost for r in records) == pytest.approx(expected, abs=1e-6)
    assert final["cost"] == pytest.approx(expected, abs=1e-6)
    events = {e["type"] for e in json.loads(run_br("telemetry", "events", "--format", "json", "--limit", "500").stdout)}
    assert "agent_activity" in events
    # `logs` reads the agent's JSON stream into lines people read; --raw gives the stream as it was printed
    shown = run_br("parallel", "logs", "agents", "docs")
    assert shown.returncode == 0 and '"type"' not in shown.stdout, shown.stdout
    assert shown.stdout.startswith("=== docs attempt 1 prompt (completed)") and "Document the public API" in shown.stdout  # what it was asked
    assert "result: done" in shown.stdout and "spent $" in shown.stdout and f"{agent} session" in shown.stdout
    assert '"type"' in run_br("parallel", "logs", "agents", "docs", "--raw").stdout


def test_a_running_agents_progress_shows_in_status_and_its_events_as_they_happen(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    # A line a second: the agent still runs when --follow starts below, however loaded the machine (a minute and a half in all).
    plan = write_plan(fast_project, {"tasks": [{"id": "slow", "prompt": "Refactor the parser", "agent": "claude", "env": {"BR_STANDIN_SCENARIO": "cap", "BR_STANDIN_DELAY": "1"}}]})
    sid = json.loads(_start(run_br, plan, "--workers", "1", "--format", "json").stdout)["session_id"]

    def live() -> dict[str, Any] | None:
        status = json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)
        agents = [a for a in status["agents"] if a["turns"] >= 2 and a["cost"] > 0]
        return agents[0] if agents else None

    agent = wait_for(live, 60, "the agent's turns and cost in status")
    assert agent["agent"] == "claude" and agent["model"] and agent["last_action"]
    text = run_br("parallel", "status", sid).stdout
    assert "Agents:" in text and "slow: claude" in text and "so far" in text
    project = Project(fast_project)
    activity = project.store.scalar("SELECT COUNT(*) FROM events WHERE type = 'agent_activity' AND session_id = ?", (sid,))
    assert activity >= 2  # written while the agent runs, not when it ends
    manager = SessionManager(project)
    board = io.StringIO()
    Console(file=board, width=200).print(render(manager.get_session_status(sid), manager.list_workers(sid)))
    assert "claude" in board.getvalue() and "slow" in board.getvalue()  # the dashboard shows the running agent
    follow = subprocess.Popen([sys.executable, "-m", "buildrunner", "parallel", "logs", sid, "slow", "--follow"], cwd=fast_project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})
    try:
        line = wait_for(lambda: follow.stderr.readline(), 60, "a progress line from --follow")  # type: ignore[union-attr]
        assert line.startswith("slow: claude") and ", turn " in line and "so far" in line
    finally:
        run_br("parallel", "stop", sid, "--force")
    out, err = follow.communicate(timeout=60)  # --follow ends when the task does: stopped, it did not complete
    assert follow.returncode == 1 and out.startswith("=== slow attempt 1") and "error: task slow cancelled" in err
    assert '"type"' not in out and "claude session" in out and "spent $" in out.splitlines()[-1], out  # read as it came, then its spend


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])  # gemini: on its running estimate (tokens come only at its end)
def test_a_cap_crossed_mid_run_ends_the_agent_within_seconds_with_its_cost_recorded(
    fast_project: Path, agents_on_path: None, run_br: Any, agent: str
) -> None:
    plan = write_plan(
        fast_project,
        {"tasks": [{"id": "costly", "prompt": "Rewrite everything", "agent": agent, "model": "sonnet", "max_cost": 0.05, "env": {"BR_STANDIN_SCENARIO": "cap"}}]},
    )
    result = _start(run_br, plan, "--workers", "1", "--wait", "--format", "json")
    assert result.returncode == 1
    final = json.loads(result.stdout)
    (rung,) = final["tasks"][0]["ladder"]
    assert rung["status"] == "budget_exceeded" and "max_cost" in rung["error"]
    assert 0.05 < rung["cost"] < 0.5  # recorded, and it stopped long before the run's end (~$0.75)
    project = Project(fast_project)
    row = project.store.fetchone("SELECT started_at, finished_at FROM task_attempts WHERE task_id = 'costly'")
    assert row["finished_at"] - row["started_at"] < 30  # the full run lasts minutes at its pace
    assert final["tasks"][0]["status"] == "failed" and final["tasks"][0]["attempts"] == 1  # not retried on that cap
    assert sum(r.cost for r in CostTracker(project).records("all")) == pytest.approx(rung["cost"])


def test_a_cap_holds_inside_one_long_codex_turn(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """Codex reports tokens only when its turn ends, and `codex exec` is one turn: forty commands ran on a $0.05 cap
    and the attempt ended at $1.61. Its running estimate now ends it inside the turn."""
    plan = write_plan(
        fast_project,
        {"tasks": [{"id": "long", "prompt": "Port the parser", "agent": "codex", "model": "sonnet", "max_cost": 0.05, "env": {"BR_STANDIN_SCENARIO": "long-turn"}}]},
    )
    result = _start(run_br, plan, "--workers", "1", "--wait", "--format", "json")
    (rung,) = json.loads(result.stdout)["tasks"][0]["ladder"]
    assert rung["status"] == "budget_exceeded" and "max_cost" in rung["error"]
    assert 0.05 < rung["cost"] < 0.1  # the whole turn costs $0.20: stopped inside it, and its estimate recorded


def test_an_agent_whose_final_result_crosses_its_cap_keeps_its_finished_work(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """The stated total in Claude's last line put a finished run $0.0004 over its cap: the worker killed an agent that
    was exiting anyway and threw the paid-for work away unchecked. The spend is done; its work is checked as usual."""
    plan = write_plan(fast_project, {"tasks": [{"id": "done", "prompt": "Document calc", "agent": "claude", "model": "sonnet", "max_cost": 0.053,
                                                "verify": "true", "env": {"BR_STANDIN_SCENARIO": "success", "BR_STANDIN_DELAY": "0", "BR_STANDIN_LINGER": "1"}}]})
    final = json.loads(_start(run_br, plan, "--workers", "1", "--wait", "--format", "json").stdout)
    (task,) = final["tasks"]
    assert task["status"] == "completed" and [r["status"] for r in task["ladder"]] == ["completed"]
    assert task["cost"] == pytest.approx(0.05344, abs=1e-5)  # over the cap by its last message, as the README allows


@pytest.mark.parametrize("shared_cap", ["plan max_cost", "daily budget"])
def test_a_shared_cap_holds_for_agents_running_at_once(fast_project: Path, agents_on_path: None, run_br: Any, shared_cap: str) -> None:
    """Three agents on a $0.30 cap do not each spend $0.30: what the others spend while they run counts."""
    cap = 0.30
    write_config(fast_project)
    if shared_cap == "daily budget":
        config = fast_project / ".buildrunner" / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "routing": {"cost_limits": {"daily": cap}}}))
    plan = write_plan(fast_project, {
        **({"max_cost": cap} if shared_cap == "plan max_cost" else {}), "escalate": False,
        "tasks": [
            {"id": f"agent{i}", "prompt": "Rewrite everything", "agent": "claude", "model": "sonnet",
             "env": {"BR_STANDIN_SCENARIO": "cap", "BR_STANDIN_DELAY": "0.5"}}
            for i in range(3)
        ],
    })
    result = _start(run_br, plan, "--workers", "3", "--wait", "--format", "json")
    assert result.returncode == 1
    final = json.loads(result.stdout)
    rungs = [rung for task in final["tasks"] for rung in task["ladder"]]
    assert len(rungs) == 3 and {rung["status"] for rung in rungs} == {"budget_exceeded"}, rungs  # all three ran at once
    assert all(("session's max_cost" if shared_cap == "plan max_cost" else "budget") in rung["error"] for rung in rungs)
    spent = sum(r.cost for r in CostTracker(Project(fast_project)).records("all"))
    assert spent == pytest.approx(sum(rung["cost"] for rung in rungs))
    assert cap < spent < 1.5 * cap  # each would have spent the whole cap had the others' running spend not counted


def test_a_finished_agents_cost_counts_once_against_the_budget_while_its_verify_runs(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    """Recorded cost is not also counted as live spend: B, started during A's verify, gets the budget that is really left."""
    write_config(fast_project)
    config = fast_project / ".buildrunner" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "routing": {"cost_limits": {"daily": 0.15}}}))  # room for both ($0.053 each)
    quiet = {"BR_STANDIN_DELAY": "0"}
    plan = write_plan(fast_project, {"escalate": False, "tasks": [
        {"id": "a", "prompt": "Document the API", "agent": "claude", "env": quiet,
         "verify": "touch a-verifying; until [ -e go ]; do sleep 0.05; done"},
        {"id": "wait-for-a", "command": "until [ -e a-verifying ]; do sleep 0.05; done"},
        {"id": "b", "prompt": "Document the CLI", "agent": "claude", "env": quiet, "depends_on": ["wait-for-a"]},
    ]})
    sid = json.loads(_start(run_br, plan, "--workers", "2", "--format", "json").stdout)["session_id"]
    project = Project(fast_project)
    try:
        wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE session_id = ? AND task_id = 'b'", (sid,)) in ("completed", "failed"), 60, "b to end while a verifies")
    finally:
        (fast_project / "go").touch()
    wait_for(lambda: SessionManager(project).get_session_status(sid, activity=0).finished, 60, "the session to end")
    tasks = {t["task_id"]: t for t in json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)["tasks"]}
    assert tasks["b"]["status"] == "completed", tasks["b"]  # counted twice, A's $0.053 left b $0.044: ended at the cap
    assert tasks["a"]["status"] == "completed" and sum(r.cost for r in CostTracker(project).records("all")) < 0.15
    project.close()


def test_a_hostile_prompt_reaches_the_agent_intact_and_is_never_an_option(fast_project: Path, agents_on_path: None, run_br: Any, tmp_path: Path) -> None:
    prompt = "--dangerously-skip-permissions {model_id} $(rm -rf /) `id` 'quoted' \"double\" \\ ; && |"
    record = tmp_path / "seen"
    plan = write_plan(fast_project, {"tasks": [{"id": "odd", "prompt": prompt, "agent": "claude", "env": {"BR_STANDIN_RECORD": str(record), "BR_STANDIN_DELAY": "0"}}]})
    result = _start(run_br, plan, "--workers", "1", "--wait")
    assert result.returncode == 0, result.stderr
    assert (record / "prompt.bin").read_bytes() == prompt.encode()
    options = json.loads((record / "options.json").read_text())
    assert options["dangerously_skip_permissions"] is False
    assert "{model_id}" not in json.loads((record / "argv.json").read_text())  # filled in the template, never in the prompt


def test_a_spent_budget_is_said_at_start_in_status_and_in_the_exit_and_shell_tasks_still_run(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    project = Project(fast_project)
    write_config(fast_project)
    config = fast_project / ".buildrunner" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "routing": {"cost_limits": {"daily": 1.0}}}))
    CostTracker(project).track_request("sonnet", 1000, 1000, cost=1.25)
    plan = write_plan(
        fast_project,
        {"tasks": [{"id": "agent-work", "prompt": "Add a flag", "agent": "claude"}, *({"id": f"shell{i}", "command": "true"} for i in range(5))]},
    )
    result = _start(run_br, plan, "--workers", "2", "--wait")
    assert "daily budget spent: $1.25 of $1.00" in result.stderr and "BR_COST_LIMIT_DAILY" in result.stderr
    assert result.returncode == 1 and "daily budget spent" in result.stderr.splitlines()[-1]
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    status = json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)
    assert status["completed_tasks"] == 5 and status["status"] == "paused" and "daily budget spent" in status["prompts_held"]
    assert "Prompt tasks wait: daily budget spent" in run_br("parallel", "status", sid).stdout
    resumed = run_br("parallel", "resume", sid)
    assert resumed.returncode == 1 and "daily budget spent: $1.25 of $1.00" in resumed.stderr and len(resumed.stderr.strip().splitlines()) == 1
    assert status["budget_allows_now"] is False
    raised = {"BR_COST_LIMIT_DAILY": "5"}  # the limit raised: status says what is left to do, not the old figures alone
    now = json.loads(run_br("parallel", "status", sid, "--format", "json", env=raised).stdout)
    assert now["budget_allows_now"] is True
    assert f"the budgets allow them now: `br parallel resume {sid}`" in run_br("parallel", "status", sid, env=raised).stdout


def test_a_shell_task_waiting_on_a_held_prompt_task_does_not_keep_the_session_running(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    """The budget is spent and the only shell task depends on the prompt task: nothing can move, so the session pauses
    and `--wait` ends naming the budget (it ran for ever with idle workers)."""
    project = Project(fast_project)
    write_config(fast_project)
    config = fast_project / ".buildrunner" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "routing": {"cost_limits": {"daily": 1.0}}}))
    CostTracker(project).track_request("sonnet", 1000, 1000, cost=1.25)
    plan = write_plan(fast_project, {"tasks": [
        {"id": "gen", "prompt": "Generate the client", "agent": "claude"},
        {"id": "test", "command": "true", "depends_on": ["gen"]},
    ]})
    result = _start(run_br, plan, "--workers", "2", "--wait")
    assert result.returncode == 1 and "daily budget spent" in result.stderr.splitlines()[-1]
    status = json.loads(run_br("parallel", "status", "--format", "json").stdout)
    assert status["status"] == "paused" and [t["status"] for t in status["tasks"]] == ["pending", "blocked"]


def test_a_lost_workers_agent_spend_is_kept_on_its_rung_and_counted_by_the_budgets(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    """kill -9 of the worker while its agent runs: the spend so far (its live progress) stays on the lost rung and is a
    cost record, so caps and budgets count it (the rung showed $0 and the money vanished from every total)."""
    project = Project(fast_project)
    plan = write_plan(fast_project, {"retries": 1, "tasks": [
        # the agent stays alive after its last line: on a loaded machine its run could otherwise end before the kill
        # lands, and an ended run's cost is the next attempt's to record (it checks that run's work)
        {"id": "long", "prompt": "Rewrite everything", "agent": "claude", "model": "sonnet", "env": {"BR_STANDIN_SCENARIO": "cap", "BR_STANDIN_LINGER": "120"}},
        {"id": "other", "command": "sleep 30"},  # keeps a second worker alive to reap the first
    ]})
    sid = json.loads(_start(run_br, plan, "--workers", "2", "--format", "json").stdout)["session_id"]
    try:
        live = wait_for(lambda: project.store.scalar("SELECT cost FROM task_attempts WHERE task_id = 'long' AND attempt = 1 AND status = 'running' AND cost > 0"), 60, "live agent spend")
        worker = wait_for(lambda: next((w for w in json.loads(run_br("parallel", "workers", sid, "--format", "json").stdout) if w["current_task"] == "long"), None), 30, "the agent's worker")
        os.kill(worker["pid"], 9)
        lost = wait_for(lambda: project.store.fetchone("SELECT status, cost, outcome FROM task_attempts WHERE task_id = 'long' AND attempt = 1 AND status <> 'running'"), 60, "the lost rung settled")
        assert lost["status"] == "lost" and lost["outcome"] == "lost" and float(lost["cost"]) >= float(live) > 0
        recorded = float(project.store.scalar("SELECT COALESCE(SUM(cost), 0) FROM cost_records WHERE task_id = 'long'"))
        assert recorded >= float(lost["cost"]) - 1e-9  # the budgets see it
        ladder = next(t for t in json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)["tasks"] if t["task_id"] == "long")["ladder"]
        assert ladder[0]["outcome"] == "lost" and ladder[0]["cost"] == pytest.approx(float(lost["cost"]))
        task_cost = float(project.store.scalar("SELECT cost FROM tasks WHERE task_id = 'long'"))
        # the task's cost is its finished rungs' (it left the lost one out); the retry, on a worker started again, may be running
        assert task_cost == pytest.approx(sum(float(r["cost"] or 0) for r in ladder if r["status"] != "running"))
    finally:
        run_br("parallel", "stop", sid, "--force")


def test_a_tasks_model_may_be_its_agents_own_model_id_and_an_unknown_one_is_refused_at_start(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    """`model: gpt-5.1-codex` for a Codex task (the agent's id for sonnet) runs on it; `model: sonet` is exit 2 at start
    naming the task (it started, and every attempt failed with an internal error)."""
    project = Project(fast_project)
    plan = write_plan(fast_project, {"tasks": [
        {"id": "cx", "prompt": "Fix a typo in the README", "agent": "codex", "model": "gpt-5.1-codex", "env": {"BR_STANDIN_DELAY": "0"}},
    ]})
    result = _start(run_br, plan, "--workers", "1", "--wait")
    assert result.returncode == 0, result.stderr
    assert project.store.scalar("SELECT tier FROM task_attempts WHERE task_id = 'cx'") == "sonnet"
    assert project.store.scalar("SELECT model_id FROM cost_records WHERE task_id = 'cx'") == "gpt-5.1-codex"
    typo = write_plan(fast_project, {"tasks": [{"id": "p", "prompt": "x", "agent": "claude", "model": "sonet"}]}, "typo.yaml")
    refused = run_br("parallel", "start", "typo", "--config", str(typo))
    assert refused.returncode == 2 and "tasks[0] (p): model 'sonet' is not a tier nor a model of agent claude" in refused.stderr
    assert "claude-sonnet-4-5" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    other = write_plan(fast_project, {"tasks": [{"id": "g", "prompt": "x", "agent": "gemini", "model": "claude-opus-4-5"}]}, "other.yaml")
    refused = run_br("parallel", "start", "other", "--config", str(other))  # ran gemini-2.5-pro, shown as "opus (its model)"
    assert refused.returncode == 2 and "model 'claude-opus-4-5' is not a tier nor a model of agent gemini" in refused.stderr
    tier = write_plan(fast_project, {"tasks": [{"id": "g", "prompt": "x", "agent": "gemini", "model": "Opus"}]}, "tier.yaml")
    assert run_br("parallel", "start", "tier", "--config", str(tier), "--dry-run").returncode == 0


def test_a_missing_agent_is_exit_5_naming_the_program_and_how_to_install_it(fast_project: Path, run_br: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    plan = write_plan(fast_project, {"tasks": [{"id": "p", "prompt": "do it", "agent": "codex"}]})
    result = run_br("parallel", "start", "x", "--config", str(plan), env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 5
    assert "'codex' is not on PATH" in result.stderr and "npm install -g @openai/codex" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_misspelt_agent_names_the_plan_and_task_and_every_missing_agent_is_named_at_once(fast_project: Path, run_br: Any) -> None:
    misspelt = write_plan(fast_project, {"tasks": [{"id": "p", "prompt": "do it", "agent": "claud"}]})
    result = run_br("parallel", "start", "x", "--config", str(misspelt), "--dry-run")
    assert result.returncode == 2 and "plan.yaml: task 'p': unknown agent 'claud' (did you mean 'claude'?)" in result.stderr
    both = write_plan(fast_project, {"tasks": [{"id": "a", "prompt": "x", "agent": "codex"}, {"id": "b", "prompt": "y", "agent": "gemini"}]})
    result = run_br("parallel", "start", "x", "--config", str(both), env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 5 and "'codex' is not on PATH" in result.stderr and "'gemini' is not on PATH" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line: installing one only to be told of the next


@pytest.mark.parametrize(("agent", "scenario", "words"), [
    ("claude", "not-json", "not its documented format"), ("claude", "crash", "code 1 before its final result"), ("claude", "truncated", "claude"),
    ("claude", "max-turns", "turn limit"), ("codex", "error", "model is not supported"),
    ("gemini", "turn-limit", "turn limit"), ("gemini", "auth-error", "authentication"),
])
def test_an_agent_that_fails_or_prints_garbage_fails_its_attempt_in_one_line_and_the_worker_carries_on(
    fast_project: Path, agents_on_path: None, run_br: Any, agent: str, scenario: str, words: str
) -> None:
    """One line naming the agent and what went wrong, in its own words where it gave them (not its raw JSON)."""
    plan = write_plan(
        fast_project,
        {"escalate": False, "tasks": [
            {"id": "bad", "prompt": "x", "agent": agent, "env": {"BR_STANDIN_SCENARIO": scenario, "BR_STANDIN_DELAY": "0"}},
            {"id": "after", "command": "true", "depends_on": []},
        ]},
    )
    result = _start(run_br, plan, "--workers", "1", "--wait", "--format", "json")
    final = json.loads(result.stdout)
    tasks = {t["task_id"]: t for t in final["tasks"]}
    error = tasks["bad"]["error"]
    assert tasks["bad"]["status"] == "failed" and words in error and "\n" not in error, error
    assert error.startswith(agent), error
    if scenario not in ("not-json", "truncated"):  # those show the offending line itself
        assert '{"' not in error, error
    assert tasks["after"]["status"] == "completed"


def test_secrets_an_agent_prints_are_masked_in_every_place_its_output_goes(
    fast_project: Path, agents_on_path: None, run_br: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key in the agent's messages, its tool calls, a line that is not its format and its stderr: stored nowhere whole."""
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    manifest = json.loads((fixtures / "claude" / "scenarios.json").read_text())
    lines = (fixtures / "claude" / "success.jsonl").read_text().splitlines()
    leaking = []
    for line in lines:
        entry = json.loads(line)
        for block in entry.get("message", {}).get("content", []) if entry.get("type") == "assistant" else []:
            if block.get("type") == "text":
                block["text"] += f" (I used the key {FAKE_AWS_KEY} from .env)"
            if block.get("type") == "tool_use":
                block["input"] = {**block.get("input", {}), "command": f"AWS_ACCESS_KEY_ID={FAKE_AWS_KEY} pytest"}
        leaking.append(json.dumps(entry))
    (fixtures / "claude" / "leak.jsonl").write_text("\n".join(leaking) + "\n")
    (fixtures / "claude" / "garbled.jsonl").write_text(lines[0] + f"\nexport AWS_ACCESS_KEY_ID={FAKE_AWS_KEY}\n")
    manifest["scenarios"]["leak"] = {"file": "leak.jsonl", "format": "stream-json", "exit": 0, "stderr": f"warning: found {FAKE_AWS_KEY}\n"}
    manifest["scenarios"]["garbled"] = {"file": "garbled.jsonl", "format": "stream-json", "exit": 1, "stderr": f"key={FAKE_AWS_KEY}\n"}
    (fixtures / "claude" / "scenarios.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("BR_STANDIN_FIXTURES", str(fixtures))
    plan = write_plan(fast_project, {"escalate": False, "tasks": [
        {"id": scenario, "prompt": "Document the API", "agent": "claude", "env": {"BR_STANDIN_SCENARIO": scenario, "BR_STANDIN_DELAY": "0"}}
        for scenario in ("leak", "garbled")
    ]})
    result = _start(run_br, plan, "--workers", "2", "--wait", "--format", "json")
    final = json.loads(result.stdout)
    assert {t["task_id"]: t["status"] for t in final["tasks"]} == {"leak": "completed", "garbled": "failed"}
    assert "AKIA...MPLF" in next(t["error"] for t in final["tasks"] if t["task_id"] == "garbled")  # said, masked
    shown = [result.stdout, result.stderr]
    for args in (("parallel", "logs", "agents", "leak"), ("parallel", "logs", "agents", "garbled"), ("parallel", "status", "agents", "--format", "json"),
                 ("telemetry", "events", "--format", "json", "--limit", "500"), ("telemetry", "export", "-", "--type", "events")):
        shown.append(run_br(*args).stdout)
    assert not [text for text in shown if FAKE_AWS_KEY in text]
    stored = [p for p in (fast_project / ".buildrunner").rglob("*") if p.is_file() and FAKE_AWS_KEY.encode() in p.read_bytes()]
    assert stored == []  # not in the database, its journal, the logs or the record files


def test_a_verify_command_cut_for_telemetry_is_masked_before_the_cut(fast_project: Path, run_br: Any) -> None:
    """Event descriptions hold 500 characters: a key the cut splits would no longer be one the masking knows."""
    verify = "true " + "x" * 453 + f" --header 'x-key: {FAKE_AWS_KEY}'"  # the cut at 500 falls inside the key
    assert verify.index(FAKE_AWS_KEY) < 500 - len("verify: ") < verify.index(FAKE_AWS_KEY) + len(FAKE_AWS_KEY)
    plan = write_plan(fast_project, {"tasks": [{"id": "checked", "command": "true", "verify": verify}]})
    assert _start(run_br, plan, "--wait").returncode == 0
    events = run_br("telemetry", "events", "--type", "verify_result", "--format", "json").stdout
    assert "xxxxx" in events and FAKE_AWS_KEY[:12] not in events


def test_a_prompt_is_routed_whole_and_its_secrets_are_kept_only_where_the_agent_needs_them(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    """A prompt without a description is routed on all of it (not on the first 200 characters the description shows),
    and the copies kept for status and calibration (description, routing estimate, outcome) hold no full secret."""
    prompt = (
        f"Use the deploy key {FAKE_AWS_KEY} from the vault for this. " + "Background on the service and its history. " * 5
        + "The real work: fix the race condition in the lock-free queue so concurrent producers never lose an item."
    )
    assert prompt.index("race condition") > 200
    plan = write_plan(fast_project, {"escalate": False, "tasks": [{"id": "queue", "prompt": prompt, "agent": "claude", "env": {"BR_STANDIN_DELAY": "0"}}]})
    result = _start(run_br, plan, "--wait", "--format", "json")
    assert result.returncode == 0, result.stderr
    project = Project(fast_project)
    task = project.store.fetchone("SELECT prompt, description, routing_estimate FROM tasks WHERE task_id = 'queue'")
    outcome = project.store.fetchone("SELECT description, score, start_tier FROM routing_outcomes WHERE task_id = 'queue'")
    assert task is not None and outcome is not None
    assert task["prompt"] == prompt  # the agent needs it whole (a worker on another machine reads it from here)
    assert not [text for text in (task["description"], task["routing_estimate"], outcome["description"]) if FAKE_AWS_KEY in text]
    estimate = json.loads(task["routing_estimate"])
    assert "lock-free queue" in estimate["task_description"] and "AKIA..." in estimate["task_description"]
    assert len(task["description"]) <= 200 and "AKIA..." in task["description"]
    project.close()


def test_stop_during_a_ladder_ends_the_running_rung_and_records_it(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """Haiku fails its check; sonnet (told what the check said: here, to hang) is running when the session is stopped."""
    plan = write_plan(fast_project, {"tasks": [
        {"id": "climb", "prompt": "Add a flag", "agent": "claude", "model": "haiku", "escalate": True, "verify": "echo '[standin:hang]'; exit 1", "env": {"BR_STANDIN_DELAY": "0"}},
    ]})
    sid = json.loads(_start(run_br, plan, "--workers", "1", "--format", "json").stdout)["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM task_attempts WHERE task_id = 'climb' AND attempt = 2 AND status = 'running'"), 60, "the second rung to run")
    agent = wait_for(lambda: [p for p in psutil.process_iter(["cmdline", "environ"]) if str(STANDINS / "claude") in " ".join(p.info["cmdline"] or [])
                              and (p.info["environ"] or {}).get("BR_SESSION_ID") == sid], 30, "the agent's process")
    assert run_br("parallel", "stop", sid).returncode == 0
    wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE task_id = 'climb'") == "cancelled", 60, "the task to be cancelled")
    ladder = json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)["tasks"][0]["ladder"]
    assert [(r["tier"], r["outcome"] or r["status"]) for r in ladder] == [("haiku", "verify_failed"), ("sonnet", "cancelled")]
    assert ladder[0]["cost"] > 0 and "stopped" in (ladder[1]["error"] or "")
    gone, _ = psutil.wait_procs(agent, timeout=30)  # ended (and reaped, or a zombie of its ended worker)
    assert len(gone) == len(agent) or all(p.status() == psutil.STATUS_ZOMBIE for p in agent if p.is_running())


def test_status_answers_while_an_agent_hangs_and_stop_ends_it(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "stuck", "prompt": "x", "agent": "gemini", "env": {"BR_STANDIN_SCENARIO": "hang"}}]})
    sid = json.loads(_start(run_br, plan, "--workers", "1", "--format", "json").stdout)["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM task_attempts WHERE status = 'running'"), 30, "the agent to run")
    started = time.monotonic()
    assert run_br("parallel", "stop", sid, "--force").returncode == 0
    wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE task_id = 'stuck'") == "cancelled", 30, "the agent to be ended")
    assert time.monotonic() - started < 20


def test_a_tasks_own_gemini_trust_setting_wins_over_the_adapters_default(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """The adapter trusts a task's folder for Gemini by default; a plan that says otherwise is obeyed."""
    plan = write_plan(fast_project, {"escalate": False, "tasks": [
        {"id": "trusted", "prompt": "x", "agent": "gemini", "env": {"BR_STANDIN_DELAY": "0"}},
        {"id": "untrusted", "prompt": "x", "agent": "gemini", "env": {"BR_STANDIN_DELAY": "0", "GEMINI_CLI_TRUST_WORKSPACE": "false"}},
    ]})
    final = json.loads(_start(run_br, plan, "--workers", "1", "--wait", "--format", "json").stdout)
    tasks = {t["task_id"]: t for t in final["tasks"]}
    assert tasks["trusted"]["status"] == "completed"
    assert tasks["untrusted"]["status"] == "failed" and "not trusted" in tasks["untrusted"]["error"]


def test_a_codex_task_is_routed_and_capped_at_codexs_own_prices(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """Its model_selected event names Codex's model for the tier, and its estimate is what that model costs."""
    plan = write_plan(fast_project, {"escalate": False, "tasks": [
        {"id": "docs", "prompt": "Fix the typo in the README", "agent": "codex", "env": {"BR_STANDIN_DELAY": "0"}},
    ]})
    final = json.loads(_start(run_br, plan, "--workers", "1", "--wait", "--format", "json").stdout)
    events = json.loads(run_br("telemetry", "events", "--type", "model_selected", "--session", final["session_id"], "--format", "json").stdout)
    [selected] = events
    assert selected["metadata"]["model_id"].startswith("gpt-5"), selected


def test_logs_show_what_an_agent_wrote_on_its_standard_error(fast_project: Path, run_br: Any) -> None:
    """An agent that fails with "Invalid API key" on stderr: `br parallel logs` shows it (it said the attempt printed
    nothing, though the text was on disk)."""
    (fast_project / "agent.py").write_text("import sys\nsys.stderr.write('Invalid API key: check ANTHROPIC_API_KEY\\n')\nsys.exit(1)\n")
    plan = write_plan(fast_project, {"agent_command": "python ./agent.py -p {prompt}", "escalate": False, "tasks": [{"id": "p", "prompt": f"Use the key {FAKE_AWS_KEY}"}]})
    assert _start(run_br, plan, "--workers", "1", "--wait").returncode == 1
    text = run_br("parallel", "logs", "agents", "p")
    assert "=== p attempt 1 stderr (failed)" in text.stdout and "Invalid API key" in text.stdout
    entries = json.loads(run_br("parallel", "logs", "agents", "p", "--format", "json").stdout)
    assert [(e["step"], "Invalid API key" in (e["output"] or "")) for e in entries] == [("prompt", False), (None, False), ("stderr", True)]
    prompt = entries[0]["output"]
    assert prompt.startswith("Use the key ") and FAKE_AWS_KEY not in prompt and FAKE_AWS_KEY not in Path(entries[0]["log_path"]).read_text()  # kept masked
    assert Path(entries[0]["log_path"]).stat().st_mode & 0o077 == 0  # private to its owner, as every log is


def test_a_worker_where_a_tasks_agent_is_not_installed_is_refused_as_start_refuses(
    fast_project: Path, agents_on_path: None, run_br: Any
) -> None:
    """A worker on a second machine without `codex` took every Codex task and failed each at once (exit 0)."""
    from buildrunner.parallel.plan import validate_plan

    plan = validate_plan({"tasks": [{"id": f"cx{i}", "prompt": f"Fix typo {i}", "agent": "codex"} for i in range(2)]}, "plan")
    project = Project(fast_project)
    sid = SessionManager(project).create_session("cx", plan=plan, start_workers=False).session_id
    without = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != str(STANDINS))
    refused = run_br("parallel", "worker", sid, env={"PATH": without})
    assert refused.returncode == 5 and "codex" in refused.stderr and "npm install" in refused.stderr, refused.stderr
    assert [t.status for t in SessionManager(project).list_tasks(sid)] == ["pending", "pending"]


def test_no_attempt_starts_on_the_crumbs_of_a_max_cost(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """Two rungs of $0.05 left $0.013 of a $0.12 max_cost: opus was started on it, cut off at its first message, and
    its spend thrown away (the task ended at $0.13)."""
    project = Project(fast_project)
    # a task the estimator sends to haiku, so that three rungs (haiku, sonnet, opus) stand on the ladder
    plan = write_plan(fast_project, {"tasks": [{"id": "docs", "prompt": "Fix the typo in the README", "max_cost": 0.12, "verify": "false"}]})
    _start(run_br, plan, "--workers", "1", "--wait")
    rungs = project.store.fetchall("SELECT attempt, status, cost, error FROM task_attempts WHERE task_id = 'docs' ORDER BY attempt")
    spent = [r["cost"] for r in rungs[:-1]]
    assert all(s > 0 for s in spent) and rungs[-1]["status"] == "budget_exceeded" and rungs[-1]["cost"] == 0, rungs
    assert "too little to start another attempt" in rungs[-1]["error"] and sum(spent) <= 0.12
    assert sum(r.cost for r in CostTracker(project).records("all")) <= 0.12


def test_a_secret_another_task_wrote_in_the_shared_checkout_says_it_may_be_theirs(fast_project: Path, agents_on_path: None, run_br: Any) -> None:
    """Two tasks in one checkout: the security check of one attempt's changes sees the other's files too. It cannot tell
    whose they are: it says so, and what keeps tasks apart, instead of blaming the innocent task alone."""
    project = Project(fast_project)
    token = "ghp_" + "R8sT1vW3yZ6bC5fG0jH2kM4nP7q9dK2hQx7L"
    plan = write_plan(fast_project, {"escalate": False, "tasks": [
        {"id": "docs", "prompt": "Write the docs", "env": {"BR_STANDIN_WRITE": "started.md", "BR_STANDIN_DELAY": "0"},
         "verify": "until [ -e deploy.sh ]; do sleep 0.05; done"},
        {"id": "deploy", "command": f"until [ -e started.md ]; do sleep 0.05; done; echo 'GITHUB_TOKEN={token}' > deploy.sh"},
    ]})
    _start(run_br, plan, "--workers", "2", "--wait")
    error = project.store.scalar("SELECT error FROM task_attempts WHERE task_id = 'docs'")
    assert "github_token" in error and "other tasks ran in this checkout meanwhile" in error and "isolation: worktree" in error
    assert token not in error
