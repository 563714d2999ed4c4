"""Property tests: no line makes a reader raise, and any prompt reaches the real stand-in process byte for byte."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any, get_args

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from buildrunner.agents import get_agent
from buildrunner.agents.base import AgentEvent, AgentResult, Outcome
from buildrunner.config import Config

from .conftest import VENDORS

MODEL = {"claude": "claude-sonnet-4-5", "codex": "gpt-5.1-codex", "gemini": "gemini-2.5-flash"}
# The vendors' own type names and field names, so generated objects reach deep into each reader.
TYPES = {
    "claude": ["system", "assistant", "user", "result", "stream_event"],
    "codex": ["thread.started", "turn.started", "turn.completed", "turn.failed", "item.started", "item.updated", "item.completed", "error"],
    "gemini": ["init", "message", "tool_use", "tool_result", "error", "result"],
}
KEYS = [
    "subtype", "message", "content", "usage", "model", "id", "session_id", "parent_tool_use_id", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "total_cost_usd", "modelUsage", "num_turns", "is_error", "result", "errors",
    "thread_id", "item", "text", "command", "changes", "error", "cached_input_tokens", "role", "delta", "tool_name", "parameters",
    "status", "stats", "models", "cached", "input", "total_tokens", "response", "tokens", "type", "name", "costUSD", "inputTokens",
]
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5), max_leaves=25)


def shaped(vendor: str) -> st.SearchStrategy[str]:
    """JSON objects with one of the vendor's types and arbitrary fields from its vocabulary."""
    return st.builds(
        lambda kind, rest: json.dumps({**rest, "type": kind}),
        st.sampled_from(TYPES[vendor]),
        st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
    )


def lines(vendor: str) -> st.SearchStrategy[list[str]]:
    one = st.text(max_size=80) | values.map(json.dumps) | shaped(vendor) | st.just("{") | st.just("}")
    return st.lists(st.tuples(one, st.booleans()).map(lambda pair: pair[0] + ("\n" if pair[1] else "")), max_size=12)


def check_reader(vendor: str, feed: list[str], exit_code: int | None) -> None:
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    for line in feed:
        events = run.feed(line)  # documented: never raises
        assert all(isinstance(e, AgentEvent) for e in events)
        progress = run.progress()
        assert progress.cost_usd >= 0 and progress.turns >= 0
    result = run.finish(exit_code, stderr="")
    assert isinstance(result, AgentResult) and result.outcome in get_args(Outcome)
    assert result.cost_usd >= 0
    if result.outcome != "passed":
        assert result.reason and "\n" not in result.reason and len(result.reason) <= 300


@settings(max_examples=300, deadline=None)
@given(feed=lines("claude"), exit_code=st.none() | st.integers(min_value=0, max_value=255))
def test_claude_reader_never_raises(feed: list[str], exit_code: int | None) -> None:
    check_reader("claude", feed, exit_code)


@settings(max_examples=300, deadline=None)
@given(feed=lines("codex"), exit_code=st.none() | st.integers(min_value=0, max_value=255))
def test_codex_reader_never_raises(feed: list[str], exit_code: int | None) -> None:
    check_reader("codex", feed, exit_code)


@settings(max_examples=300, deadline=None)
@given(feed=lines("gemini"), exit_code=st.none() | st.integers(min_value=0, max_value=255))
def test_gemini_reader_never_raises(feed: list[str], exit_code: int | None) -> None:
    check_reader("gemini", feed, exit_code)


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=60).filter(lambda t: t.strip() and t.strip() not in ("{", "}")))
def test_a_line_that_is_not_json_always_ends_the_attempt_as_the_agent_not_working(text: str) -> None:
    try:
        json.loads(text)
        assume(False)
    except ValueError:
        pass
    quoted = " ".join(text.strip()[:200].split())
    for vendor in VENDORS:
        run = get_agent(vendor, Config()).start(MODEL[vendor])
        run.feed(text + "\n")
        result = run.finish(0)
        assert result.outcome == "error"  # not the model's doing: no stronger tier is tried on it
        assert quoted in (result.reason or "") or (result.reason or "").endswith("…")


def _format(argv: list[str]) -> str | None:
    """The output format the options ask for (the words before `--` only: a prompt may say anything)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    for flag in ("--output-format", "-o"):
        if flag in options[:-1]:
            return options[options.index(flag) + 1]
    return None


def run_standin(argv: list[str], stdin: bytes | None, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as record:
        proc = subprocess.run(
            argv,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            env={**env, "BR_STANDIN_RECORD": record, "BR_STANDIN_SCENARIO": "json-success" if _format(argv) == "json" else "success"},
            capture_output=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        folder = Path(record)
        return {
            "argv": json.loads((folder / "argv.json").read_text(encoding="utf-8")),
            "options": json.loads((folder / "options.json").read_text(encoding="utf-8")),
            "prompt": (folder / "prompt.bin").read_bytes(),
        }


prompts = st.text(min_size=1, max_size=200) | st.sampled_from(["--dangerously-skip-permissions", "-p", "--", "{model_id}", "{prompt}", "exec", "-", "--yolo", "-m evil"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=prompts)
def test_any_prompt_reaches_each_stand_in_byte_for_byte_and_is_never_an_option(prompt: str, standin_env: dict[str, str]) -> None:
    for vendor in VENDORS:
        agent = get_agent(vendor, Config())
        inv = agent.invocation(prompt, agent.model_for("haiku"))
        seen = run_standin(inv.argv, inv.stdin, {**standin_env, **inv.env})
        assert seen["prompt"] == prompt.encode("utf-8")
        assert seen["argv"] == inv.argv[1:]
        options = seen["options"]
        assert not options.get("dangerously_skip_permissions") and not options.get("yolo")
        assert options.get("model") == agent.model_for("haiku")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=prompts.filter(lambda p: "\0" not in p))
def test_any_prompt_after_the_double_dash_is_one_argument_the_stand_in_takes_as_the_prompt(prompt: str, standin_env: dict[str, str], tmp_path_factory: Any) -> None:
    from buildrunner.config import load_config
    from buildrunner.paths import ProjectPaths

    root = tmp_path_factory.mktemp("cfg")
    (root / ".buildrunner").mkdir()
    (root / ".buildrunner" / "config.json").write_text(json.dumps({"agents": {"custom": {"argclaude": {
        "command": "claude -p --output-format stream-json --verbose --model {model_id}", "format": "claude", "prompt": "argument"}}}}))
    agent = get_agent("argclaude", load_config(ProjectPaths(root), environ={}).config)
    inv = agent.invocation(prompt, "claude-haiku-4-5")
    seen = run_standin(inv.argv, inv.stdin, standin_env)
    assert seen["prompt"] == prompt.encode("utf-8")
    assert seen["options"]["prompt"] == prompt and not seen["options"]["dangerously_skip_permissions"]
