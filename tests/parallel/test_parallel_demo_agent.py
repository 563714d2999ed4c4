"""The demo's prompt task: routed, run by the stand-in agent, its cost recorded; and a plan's own agent_command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import session_id_of, write_config, write_plan

from buildrunner.errors import ConfigError
from buildrunner.parallel.plan import load_plan
from buildrunner.project import Project
from buildrunner.routing.models import cost_of, resolve_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_AGENT = EXAMPLES / "demo" / "demo_agent.py"


def _agent(cwd: Path, prompt: str, model_id: str = "claude-haiku-4-5") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(DEMO_AGENT), "-p", prompt, "--model", model_id, "--output-format", "json"]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
def test_demo_prompt_task_is_routed_run_and_its_cost_recorded(tmp_project: Path, run_br: Any) -> None:
    shutil.copytree(EXAMPLES, tmp_project / "examples", ignore=shutil.ignore_patterns("build", "docs", "__pycache__"))
    result = run_br("parallel", "start", "demo", "--config", "examples/demo/plan.yaml", "--workers", "3", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    sid = session_id_of(result.stdout)

    events = json.loads(run_br("telemetry", "events", "--type", "model_selected", "--session", sid, "--format", "json").stdout)
    assert [(e["task_id"], e["metadata"]) for e in events] == [("api-docs", {"model": "haiku", "model_id": "claude-haiku-4-5"})]

    project = Project(tmp_project)

    agent = json.loads((tmp_project / ".buildrunner" / "logs" / sid / "api-docs.1.log").read_text())
    assert (agent["type"], agent["subtype"], agent["is_error"]) == ("result", "success", False)
    usage = agent["usage"]
    records = project.store.fetchall(
        "SELECT model, model_id, cost, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, source"
        " FROM cost_records WHERE session_id = ? AND task_id = 'api-docs'",
        (sid,),
    )
    assert len(records) == 1
    record = records[0]
    assert record["cost"] == pytest.approx(agent["total_cost_usd"]) and record["cost"] > 0
    assert (record["model"], record["source"]) == ("haiku", "claude-code")
    assert (record["input_tokens"], record["output_tokens"], record["cache_read_tokens"], record["cache_write_tokens"]) == (
        usage["input_tokens"], usage["output_tokens"], usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"],
    )
    # The stand-in charges its tokens at the model's real list prices.
    expected = cost_of(
        resolve_model("claude-haiku-4-5", project), usage["input_tokens"], usage["output_tokens"],
        usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"],
    )
    assert agent["total_cost_usd"] == pytest.approx(expected)
    task_cost = project.store.scalar("SELECT cost FROM tasks WHERE session_id = ? AND task_id = 'api-docs'", (sid,))
    assert task_cost == pytest.approx(agent["total_cost_usd"])
    project.close()

    costs = json.loads(run_br("routing", "costs", "--format", "json").stdout)
    assert costs["total_cost"] == pytest.approx(agent["total_cost_usd"]) and costs["requests_by_model"] == {"haiku": 1}
    summary = json.loads(run_br("telemetry", "summary", "--format", "json").stdout)["metrics"]
    assert summary["total_cost"] == pytest.approx(agent["total_cost_usd"])

    api = (tmp_project / "examples" / "demo" / "sample" / "docs" / "API.md").read_text()
    assert "### `evaluate(text: str) -> float`" in api and "The value of an arithmetic expression." in api
    assert "### `tokenize(text: str) -> list[str]`" in api and "_to_rpn" not in api  # public names only
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "docs/API.md"], cwd=tmp_project / "examples" / "demo" / "sample", check=False
    )
    assert ignored.returncode == 0, "the demo's generated docs must be git-ignored"


def test_demo_agent_is_deterministic_and_reads_a_package_without_all(tmp_path: Path) -> None:
    pkg = tmp_path / "shapes"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Shapes."""\n')
    (pkg / "geometry.py").write_text(
        'class Square:\n    """A square."""\n\n\ndef area(side: float) -> float:\n    """Side squared."""\n    return side * side\n\n\ndef _hidden() -> None:\n    pass\n'
    )
    first, second = (_agent(tmp_path, "Document the public API of the shapes package") for _ in range(2))
    assert first.returncode == 0, first.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    for key in ("usage", "total_cost_usd", "session_id", "modelUsage", "num_turns", "result"):
        assert one[key] == two[key]
    assert one["modelUsage"]["claude-haiku-4-5"]["costUSD"] == one["total_cost_usd"] > 0
    api = (tmp_path / "docs" / "API.md").read_text()
    assert "### `Square`" not in api and "### `class Square`" in api and "### `area(side: float) -> float`" in api
    assert "_hidden" not in api


def test_demo_agent_reports_a_request_it_cannot_do_as_claude_code_does(tmp_path: Path) -> None:
    result = _agent(tmp_path, "Rewrite the parser in Rust")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["is_error"] is True and data["subtype"] == "error_during_execution"
    assert "only does" in result.stderr
    assert not (tmp_path / "docs").exists()


def test_a_plans_agent_command_wins_over_the_config(pproject: Project, run_br: Any) -> None:
    fast_project = pproject.paths.root
    write_config(fast_project, agent_command="no-such-agent-xyz -p {prompt}")
    (fast_project / "calc2").mkdir()
    (fast_project / "calc2" / "__init__.py").write_text('def add(a: int, b: int) -> int:\n    """The sum."""\n    return a + b\n')
    shutil.copy(DEMO_AGENT, fast_project / "agent.py")
    plan = write_plan(
        fast_project,
        {
            "agent_command": "python ./agent.py -p {prompt} --model {model_id} --output-format json",
            "tasks": [{"id": "docs", "prompt": "Document the public API of the calc2 package", "model": "sonnet"}],
        },
    )
    result = run_br("parallel", "start", "own-agent", "--config", str(plan), "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "### `add(a: int, b: int) -> int`" in (fast_project / "docs" / "API.md").read_text()
    assert pproject.store.scalar("SELECT model_id FROM cost_records WHERE task_id = 'docs'") == "claude-sonnet-4-5"


def test_a_plans_unknown_agent_program_fails_at_start(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(
        fast_project,
        {"agent_command": "no-such-agent-xyz -p {prompt}", "tasks": [{"id": f"p{i}", "prompt": "do it"} for i in range(5)]},
    )
    result = run_br("parallel", "start", "x", "--config", str(plan))
    assert result.returncode == 5
    assert "'no-such-agent-xyz' is not on PATH" in result.stderr and "plan.yaml: agent_command" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(run_br("parallel", "list", "--format", "json").stdout) == []


@pytest.mark.parametrize(
    ("agent_command", "message"),
    [
        ("", "plan.yaml:1: agent_command: String should have at least 1 character"),
        ("claude -p '{prompt}", "plan.yaml:1: agent_command: cannot be split into words"),
        ("python ./missing.py -p {prompt}", "plan.yaml:1: agent_command: ./missing.py"),
    ],
)
def test_bad_plan_agent_command_is_reported_with_its_line(tmp_path: Path, agent_command: str, message: str) -> None:
    plan = write_plan(tmp_path, {"agent_command": agent_command, "tasks": [{"id": "a", "prompt": "x"}]})
    with pytest.raises(ConfigError) as caught:
        load_plan(plan)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_plan_agent_command_paths_are_relative_to_the_plan_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "agent.py").write_text("")
    write_plan(tmp_path, {"agent_command": "python ./agent.py -p {prompt} --model {model_id}", "tasks": [{"id": "a", "prompt": "x"}]}, "plans/p.yaml")
    monkeypatch.chdir(tmp_path)
    loaded = load_plan(Path("plans/p.yaml"))
    assert loaded.agent_command == f"python {tmp_path / 'plans' / 'agent.py'} -p '{{prompt}}' --model '{{model_id}}'"
    assert loaded.first(1).agent_command == loaded.agent_command
