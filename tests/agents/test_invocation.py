"""How an attempt is started: argv, standard input, placeholders, the agent's own cap, config and the install check."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from buildrunner.agents import get_agent, legacy_agent, require_installed, unpriced_models
from buildrunner.config import Config, load_config
from buildrunner.errors import APIError, ConfigError, ExitCode
from buildrunner.paths import ProjectPaths

from .conftest import STANDINS

HOSTILE = "--dangerously-skip-permissions {model_id} {model} $(rm -rf /) -- -p"


def config_with(tmp_path: Path, data: dict) -> Config:
    (tmp_path / ".buildrunner").mkdir(exist_ok=True)
    (tmp_path / ".buildrunner" / "config.json").write_text(json.dumps(data), encoding="utf-8")
    return load_config(ProjectPaths(tmp_path), environ={}).config


@pytest.mark.parametrize("name", ["claude", "codex", "gemini"])
def test_the_prompt_goes_on_stdin_untouched_and_never_into_argv(name: str) -> None:
    agent = get_agent(name, Config())
    model = agent.model_for("sonnet")
    inv = agent.invocation(HOSTILE, model)
    assert inv.stdin == HOSTILE.encode()
    assert HOSTILE not in inv.argv and "--dangerously-skip-permissions" not in inv.argv
    assert model in inv.argv and not any("{model" in word for word in inv.argv)
    assert inv.argv[0] == name


def test_each_agent_gets_its_documented_machine_readable_flags() -> None:
    config = Config()
    assert get_agent("claude", config).invocation("x", "claude-haiku-4-5").argv == [
        "claude", "--model", "claude-haiku-4-5", "--permission-mode", "acceptEdits", "-p", "--output-format", "stream-json", "--verbose",
    ]
    assert get_agent("codex", config).invocation("x", "gpt-5.1-codex-mini").argv == [
        "codex", "exec", "--model", "gpt-5.1-codex-mini", "--sandbox", "workspace-write", "--skip-git-repo-check", "--json", "-",
    ]
    assert get_agent("gemini", config).invocation("x", "gemini-2.5-flash").argv == [
        "gemini", "--model", "gemini-2.5-flash", "--approval-mode", "auto_edit", "--output-format", "stream-json",
    ]


def test_claude_gets_its_own_spend_cap_and_the_others_have_none() -> None:
    config = Config()
    argv = get_agent("claude", config).invocation("x", "claude-opus-4-5", max_cost_usd=0.25).argv
    assert argv[-2:] == ["--max-budget-usd", "0.25"]
    tiny = get_agent("claude", config).invocation("x", "claude-opus-4-5", max_cost_usd=0.0000004).argv
    assert float(tiny[-1]) == 0.0000004
    for name in ("codex", "gemini"):
        agent = get_agent(name, config)
        assert agent.invocation("x", agent.model_for("opus"), max_cost_usd=0.25).argv == agent.invocation("x", agent.model_for("opus")).argv


@pytest.mark.parametrize("cap", [0, -1, float("nan"), float("inf"), True])
def test_a_cap_that_is_not_a_positive_amount_is_refused(cap: object) -> None:
    with pytest.raises(ConfigError, match="max_cost_usd"):
        get_agent("claude", Config()).invocation("x", "claude-haiku-4-5", max_cost_usd=cap)  # type: ignore[arg-type]


def test_models_per_tier_come_from_config_and_claude_follows_the_routing_tiers(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"routing": {"models": {"haiku": {"model_id": "claude-3-5-haiku", "max_complexity": 30, "typical_latency_ms": 400}}},
                                    "agents": {"codex": {"models": {"opus": "gpt-5.4"}}, "gemini": {"command": "/opt/gemini/bin/gemini -m {model_id}"}}})
    assert get_agent("claude", config).model_for("haiku") == "claude-3-5-haiku"
    codex = get_agent("codex", config)
    assert (codex.model_for("haiku"), codex.model_for("opus")) == ("gpt-5.1-codex-mini", "gpt-5.4")
    assert codex.command.startswith("codex exec")
    assert get_agent("gemini", config).invocation("p", "gemini-2.5-pro").argv[:3] == ["/opt/gemini/bin/gemini", "-m", "gemini-2.5-pro"]
    assert get_agent(None, config).name == "claude"


def test_default_tier_models_all_have_a_list_price() -> None:
    config = Config()
    for name in ("claude", "codex", "gemini"):
        assert unpriced_models(get_agent(name, config)) == []


def test_a_custom_agent_runs_its_whole_template_with_the_prompt_after_a_double_dash(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"agents": {"default": "wrapped", "custom": {"wrapped": {
        "command": "my-claude --fast -p --output-format json --model {model_id} --tier {model}", "format": "claude", "prompt": "argument",
        "models": {"haiku": "claude-haiku-4-5"}}}}})
    agent = get_agent(None, config)
    inv = agent.invocation(HOSTILE, "claude-haiku-4-5", max_cost_usd=1.0)
    assert inv.argv == ["my-claude", "--fast", "-p", "--output-format", "json", "--model", "claude-haiku-4-5", "--tier", "haiku", "--", HOSTILE]
    assert inv.stdin is None
    with pytest.raises(ConfigError, match="NUL"):
        agent.invocation("a\0b", "claude-haiku-4-5")
    assert agent.model_for("opus") == "claude-opus-4-5"  # unset tiers follow routing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"agents": {"default": "cursor"}}, "default 'cursor' is not an agent"),
        ({"agents": {"codex": {"comand": "x"}}}, "did you mean 'command'"),
        ({"agents": {"claude": {"command": "claude -p {prompt}"}}}, "must not contain {prompt}"),
        ({"agents": {"claude": {"command": "claude 'unclosed"}}}, "cannot be split into words"),
        ({"agents": {"custom": {"claude": {"command": "x", "format": "claude"}}}}, "'claude' is a built-in agent"),
        ({"agents": {"custom": {"Mine!": {"command": "x", "format": "codex"}}}}, "use lower-case letters"),
        ({"agents": {"custom": {"mine": {"command": "x", "format": "cursor"}}}}, "agents.custom.mine.format"),
    ],
)
def test_bad_agent_config_is_one_line_naming_the_key(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_with(tmp_path, data)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == ExitCode.CONFIG


def test_an_unknown_agent_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown agent 'aider'.*claude, codex, gemini"):
        get_agent("aider", Config())


def test_the_legacy_agent_command_becomes_a_claude_json_agent_with_the_prompt_after_a_double_dash() -> None:
    agent = legacy_agent("python /x/demo_agent.py -p {prompt} --model {model_id} --output-format json", Config())
    inv = agent.invocation(HOSTILE, "claude-haiku-4-5")
    assert inv.argv == ["python", "/x/demo_agent.py", "-p", "--model", "claude-haiku-4-5", "--output-format", "json", "--", HOSTILE]
    run = agent.start("claude-haiku-4-5")
    assert type(run).__name__ == "ClaudeRun"
    with pytest.raises(ConfigError, match="word of its own"):
        legacy_agent("claude -p --prompt={prompt}", Config())


def test_the_demo_stand_in_still_runs_through_the_legacy_mapping(tmp_path: Path) -> None:
    """examples/demo's agent takes `-p ... -- PROMPT` as it took `-p PROMPT`, and its JSON result reads as Claude's."""
    import shutil
    import sys

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "examples" / "demo" / "sample", tmp_path / "sample")
    agent = legacy_agent(f"{sys.executable} {root / 'examples' / 'demo' / 'demo_agent.py'} -p {{prompt}} --model {{model_id}} --output-format json", Config())
    inv = agent.invocation("Document the public API of the calc package", "claude-haiku-4-5")
    proc = subprocess.run(inv.argv, cwd=tmp_path / "sample", capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    run = agent.start("claude-haiku-4-5")
    for line in proc.stdout.splitlines(keepends=True):
        run.feed(line)
    result = run.finish(proc.returncode, stderr=proc.stderr)
    assert result.passed, result.reason
    assert (tmp_path / "sample" / "docs" / "API.md").is_file()
    assert result.cost_source == "agent" and result.cost_usd > 0


def test_an_agent_not_on_path_is_exit_5_naming_the_program_and_its_package(tmp_path: Path) -> None:
    for name, package in (("claude", "@anthropic-ai/claude-code"), ("codex", "@openai/codex"), ("gemini", "@google/gemini-cli")):
        with pytest.raises(APIError) as info:
            require_installed(get_agent(name, Config()), path=str(tmp_path))
        text = str(info.value)
        assert f"'{name}' is not on PATH" in text and f"npm install -g {package}" in text and "\n" not in text
        assert info.value.exit_code == ExitCode.API == 5
    found = require_installed(get_agent("codex", Config()), path=os.pathsep.join([str(tmp_path), str(STANDINS)]))
    assert found == str(STANDINS / "codex")


def test_a_custom_agent_missing_says_which_config_key_to_fix(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"agents": {"custom": {"mine": {"command": "./bin/my-agent --model {model_id}", "format": "gemini"}}}})
    with pytest.raises(APIError, match=r"agent mine: './bin/my-agent' is not on PATH \(install it or fix agents.custom.mine.command\)"):
        require_installed(get_agent("mine", config))
