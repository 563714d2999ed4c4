"""Every adapter against every recorded fixture: events, running totals, outcome, reason and cost to the cent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from buildrunner.agents import get_agent
from buildrunner.agents.base import AgentResult, MalformedLine, ToolCall, UsageUpdate
from buildrunner.agents.codex import REQUEST_FLOOR_TOKENS as CODEX_FLOOR_TOKENS
from buildrunner.agents.gemini import REQUEST_FLOOR_TOKENS
from buildrunner.config import Config

from .conftest import PROVIDERS, VENDORS, base_rate_price, cents, feed_all, fixture_lines, json_lines, list_price, scenarios

MODEL = {"claude": "claude-sonnet-4-5", "codex": "gpt-5.1-codex", "gemini": "gemini-2.5-flash"}

# (vendor, scenario) -> (outcome, words the one-line reason must hold). "error": the agent could not work (signed out,
# the API overloaded or out of reach, a model not served, a crash, output not in its format), "failed": it worked and
# did not pass (its turn limit, a tool that failed).
EXPECTED: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("claude", "success"): ("passed", ()),
    ("claude", "json-success"): ("passed", ()),
    ("claude", "max-turns"): ("failed", ("claude", "turn limit", "error_max_turns", "after 2 turns")),
    ("claude", "during-execution"): ("error", ("claude", "error_during_execution", "Overloaded")),
    ("claude", "max-budget"): ("budget_exceeded", ("claude", "spend cap", "error_max_budget_usd", "$0.08")),
    ("claude", "api-error"): ("error", ("claude", "reported an error", "Invalid API key")),
    ("claude", "cap"): ("passed", ()),
    ("claude", "hang"): ("failed", ("claude", "stopped before its final result")),
    ("claude", "stray-line"): ("passed", ()),  # a plain line beside the format is a notice; the result stands
    ("claude", "not-json"): ("error", ("claude", "not its documented format", "✻ Thinking… (esc to interrupt)")),
    ("claude", "truncated"): ("error", ("claude", "truncated")),
    ("claude", "crash"): ("error", ("claude", "exited with code 1", "Invalid API key · Please run /login")),
    ("codex", "success"): ("passed", ()),
    ("codex", "edit"): ("passed", ()),
    ("codex", "turn-failed"): ("error", ("codex", "turn failed", "stream disconnected before completion")),
    ("codex", "error"): ("error", ("codex", "model is not supported")),
    ("codex", "cap"): ("passed", ()),
    ("codex", "long-turn"): ("passed", ()),
    ("codex", "hang"): ("failed", ("codex", "stopped before it finished")),
    ("codex", "stray-line"): ("passed", ()),
    ("codex", "truncated"): ("error", ("codex", "truncated")),
    ("codex", "crash"): ("error", ("codex", "exited with code 1", "Not inside a trusted directory")),
    ("gemini", "success"): ("passed", ()),
    ("gemini", "json-success"): ("passed", ()),
    ("gemini", "api-error"): ("error", ("gemini", "API_KEY_INVALID", "exit 1")),
    ("gemini", "turn-limit"): ("failed", ("gemini", "MaxSessionTurnsError", "53", "turn limit")),
    ("gemini", "input-error"): ("error", ("gemini", "code 42", "input error", "No input provided via stdin")),
    ("gemini", "auth-error"): ("error", ("gemini", "code 41", "authentication", "Please set an Auth method")),
    ("gemini", "cap"): ("passed", ()),
    ("gemini", "hang"): ("failed", ("gemini", "stopped before its final result")),
    ("gemini", "stray-line"): ("passed", ()),
    ("gemini", "truncated"): ("error", ("gemini", "truncated")),
}
CASES = [(v, s) for v in VENDORS for s in scenarios(v)]


def run_fixture(vendor: str, scenario: str) -> tuple[Any, AgentResult]:
    spec = scenarios(vendor)[scenario]
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    feed_all(run, fixture_lines(vendor, scenario))
    exit_code = None if spec.get("hang") else spec["exit"]
    return run, run.finish(exit_code, stderr=spec.get("stderr", ""))


def test_every_recorded_scenario_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(CASES)


@pytest.mark.parametrize(("vendor", "scenario"), CASES)
def test_outcome_and_one_line_reason(vendor: str, scenario: str) -> None:
    _, result = run_fixture(vendor, scenario)
    outcome, words = EXPECTED[(vendor, scenario)]
    assert result.outcome == outcome, result.reason
    assert result.agent == vendor and result.provider == PROVIDERS[vendor]
    if outcome == "passed":
        assert result.reason is None and result.passed
    else:
        assert result.reason is not None and "\n" not in result.reason and not result.passed
        for word in words:
            assert word in result.reason


def expected_cost(vendor: str, scenario: str) -> dict[str, float]:
    """Per-model dollars the fixture's own numbers give, priced here."""
    lines = json_lines(vendor, scenario)
    provider = PROVIDERS[vendor]
    price = base_rate_price if scenario == "cap" else list_price
    if vendor == "claude":
        final = next((line for line in lines if line.get("type") == "result"), None)
        if final is not None:
            return {m: u["costUSD"] for m, u in final["modelUsage"].items()} if final["modelUsage"] else {}
        usage: dict[str, tuple[str, dict[str, int]]] = {}
        for line in lines:
            if line.get("type") == "assistant":
                usage[line["message"]["id"]] = (line["message"]["model"], line["message"]["usage"])
        out: dict[str, float] = {}
        for model, u in usage.values():
            written, read = u["cache_creation_input_tokens"], u["cache_read_input_tokens"]
            out[model] = out.get(model, 0.0) + list_price(
                provider, model, total_input=u["input_tokens"] + read + written, cache_read=read, cache_write=written, output=u["output_tokens"]
            )
        return out
    if vendor == "codex":
        completed = [line for line in lines if line.get("type") == "turn.completed"]
        if not completed:
            return {}
        u = completed[-1]["usage"]  # the thread's running total
        return {MODEL["codex"]: price(provider, MODEL["codex"], total_input=u["input_tokens"], cache_read=u["cached_input_tokens"], output=u["output_tokens"])}
    final = next((line for line in lines if line.get("type") == "result"), None)
    if scenario == "json-success":
        import json

        from .conftest import FIXTURES

        doc = json.loads((FIXTURES / "gemini" / "json-success.json").read_text(encoding="utf-8"))
        return {
            m: list_price(provider, m, total_input=t["prompt"] + t["tool"], cache_read=t["cached"], output=t["candidates"] + t["thoughts"])
            for m, t in ((m, v["tokens"]) for m, v in doc["stats"]["models"].items())
        }
    if final is None:
        return {}
    return {
        m: price(provider, m, total_input=s["input_tokens"], cache_read=s["cached"], output=s["total_tokens"] - s["input_tokens"])
        for m, s in final["stats"]["models"].items()
    }


def _gemini_without_result(scenario: str) -> bool:
    """Gemini streamed requests (turns) but was cut short of its final result: its cost is the running estimate."""
    if scenario == "json-success":
        return False
    lines = json_lines("gemini", scenario)
    turns = any(line.get("type") == "tool_use" or (line.get("type") == "message" and line.get("role") == "assistant") for line in lines)
    return turns and not any(line.get("type") == "result" for line in lines)


def _codex_cut_short(scenario: str) -> bool:
    """Codex was cut short inside a turn in which the model had answered: the open turn's cost is the running estimate."""
    lines = json_lines("codex", scenario)
    starts = [i for i, line in enumerate(lines) if line.get("type") == "turn.started"]
    if not starts:
        return False
    rest = lines[starts[-1] :]
    return not any(line.get("type") in ("turn.completed", "turn.failed") for line in rest) and any(line.get("type") == "item.completed" for line in rest)


def _estimated(vendor: str, scenario: str) -> bool:
    return (vendor == "gemini" and _gemini_without_result(scenario)) or (vendor == "codex" and _codex_cut_short(scenario))


@pytest.mark.parametrize(("vendor", "scenario"), [c for c in CASES if not _estimated(*c)])
def test_cost_to_the_cent(vendor: str, scenario: str) -> None:
    _, result = run_fixture(vendor, scenario)
    expected = expected_cost(vendor, scenario)
    assert set(m for m, c in result.cost_by_model.items() if c) == set(m for m, c in expected.items() if c)
    for model, cost in expected.items():
        assert result.cost_by_model.get(model, 0.0) == pytest.approx(cost, rel=1e-9, abs=1e-12)
    total = sum(expected.values())
    assert cents(result.cost_usd) == cents(total)
    assert result.cost_usd == pytest.approx(total, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("scenario", [s for s in scenarios("claude") if scenarios("claude")[s].get("file")])
def test_claude_states_dollars_when_it_has_a_result(scenario: str) -> None:
    _, result = run_fixture("claude", scenario)
    final = next((line for line in json_lines("claude", scenario) if line.get("type") == "result"), None)
    if final is None:
        assert result.cost_source == "tokens"
        return
    assert result.cost_source == "agent"
    assert result.cost_usd == final["total_cost_usd"]
    assert result.turns == final["num_turns"] or final["num_turns"] == 0
    assert result.subtype == final["subtype"]
    for model, usage in final["modelUsage"].items():
        counts = result.tokens_by_model[model]
        assert (counts.input, counts.output, counts.cache_read, counts.cache_write) == (
            usage["inputTokens"], usage["outputTokens"], usage["cacheReadInputTokens"], usage["cacheCreationInputTokens"],
        )


def test_claude_running_totals_count_a_message_once_however_many_lines_carry_it() -> None:
    run = get_agent("claude", Config()).start("claude-sonnet-4-5")
    lines = fixture_lines("claude", "success")
    events = feed_all(run, lines[:2])  # init, first assistant line of msg_01
    first = run.cost_usd
    assert first > 0 and run.turns == 1 and run.session_id == "4f7c9a52-3b1e-4d8a-9c2f-6e1d0b7a8c35"
    events += feed_all(run, lines[2:3])  # msg_01 again, with its Bash call and the same usage
    assert run.cost_usd == first and run.turns == 1
    assert run.last_action == "Bash: ls calc tests"
    events += feed_all(run, lines[3:-1])
    progress = run.progress()
    assert (progress.agent, progress.model, progress.turns, progress.last_action) == ("claude", "claude-sonnet-4-5-20250929", 3, "Write: /home/user/project/docs/API.md")
    assert [e.tool for e in events if isinstance(e, ToolCall)] == ["Bash", "Write"]
    costs = [e.cost_usd for e in events if isinstance(e, UsageUpdate)]
    assert costs == sorted(costs) and costs[-1] == pytest.approx(progress.cost_usd)
    assert progress.priced and progress.tokens.total > 0
    feed_all(run, lines[-1:])  # the result: from now on the cost is the dollars Claude Code states
    assert run.cost_usd == json_lines("claude", "success")[-1]["total_cost_usd"]
    assert run.cost_by_model == {m: u["costUSD"] for m, u in json_lines("claude", "success")[-1]["modelUsage"].items()}


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_cap_is_crossed_mid_stream_only_where_the_agent_reports_spend(vendor: str) -> None:
    """Claude reports usage per message and Codex per turn, so a running cap sees the cost climb before the end;
    Gemini CLI reports tokens only in its final result (documented: nothing to stop on earlier)."""
    cap = 0.10
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    lines = fixture_lines(vendor, "cap")
    crossed_at = None
    seen = []
    for index, line in enumerate(lines):
        run.feed(line)
        seen.append(run.cost_usd)
        if crossed_at is None and run.cost_usd > cap:
            crossed_at = index
    assert seen == sorted(seen), "the running cost never goes down"
    assert crossed_at is not None and crossed_at < len(lines) // 2
    if vendor == "gemini":  # on this run (no cache hits in its stats to speak of) the estimate stayed below the final figure
        assert seen[-2] < seen[-1] == pytest.approx(sum(expected_cost("gemini", "cap").values()))


@pytest.mark.parametrize("scenario", [s for s in scenarios("gemini") if _gemini_without_result(s)])
def test_gemini_cut_short_costs_its_running_estimate(scenario: str) -> None:
    """No final result (hung, truncated): the cost is the running estimate, at least every request's fixed prompt."""
    run, result = run_fixture("gemini", scenario)
    model = next((line["model"] for line in json_lines("gemini", scenario) if line.get("type") == "init"), MODEL["gemini"])
    text = sum(len(line) for line in fixture_lines("gemini", scenario))
    floor = list_price("google", model, total_input=run.turns * REQUEST_FLOOR_TOKENS)
    ceiling = list_price("google", model, total_input=run.turns * (REQUEST_FLOOR_TOKENS + text), output=text)
    assert run.turns >= 1 and floor <= result.cost_usd <= ceiling


@pytest.mark.parametrize("scenario", [s for s in scenarios("codex") if _codex_cut_short(s)])
def test_codex_cut_short_inside_a_turn_costs_what_it_completed_plus_the_open_turns_estimate(scenario: str) -> None:
    run, result = run_fixture("codex", scenario)
    completed = expected_cost("codex", scenario).get(MODEL["codex"], 0.0)
    text = sum(len(line) for line in fixture_lines("codex", scenario))
    requests = 1 + sum(1 for line in json_lines("codex", scenario) if line.get("type") == "item.completed" and line["item"]["type"] == "command_execution")
    ceiling = list_price("openai", MODEL["codex"], total_input=requests * (CODEX_FLOOR_TOKENS + text), output=text)
    assert completed < result.cost_usd <= completed + ceiling


def test_codex_running_cost_climbs_inside_one_long_turn_so_a_cap_can_hold_before_it_ends() -> None:
    """`codex exec` is usually one turn of dozens of commands, and Codex reports tokens only when it ends: a cap read
    from reported tokens alone saw $0.00 until then (a $0.05 cap ended at $1.61)."""
    run = get_agent("codex", Config()).start(MODEL["codex"])
    lines = fixture_lines("codex", "long-turn")
    seen = []
    for line in lines[:-1]:
        run.feed(line)
        seen.append(run.cost_usd)
    assert seen == sorted(seen) and seen[-1] > 0.05  # a $0.05 cap is crossed inside the turn
    run.feed(lines[-1])
    assert run.cost_usd == pytest.approx(sum(expected_cost("codex", "long-turn").values()))  # the real counts replace it


def test_codex_usage_is_the_threads_running_total_not_a_sum() -> None:
    run = get_agent("codex", Config()).start("gpt-5.1-codex")
    completed = 0
    for line in fixture_lines("codex", "cap"):
        run.feed(line)
        if '"turn.completed"' in line:
            completed += 1
            if completed == 2:
                break
    usage = [line for line in json_lines("codex", "cap") if line["type"] == "turn.completed"][1]["usage"]
    expected = list_price("openai", "gpt-5.1-codex", total_input=usage["input_tokens"], cache_read=usage["cached_input_tokens"], output=usage["output_tokens"])
    assert run.cost_usd == pytest.approx(expected, rel=1e-9)
    assert run.turns == 2


def test_codex_and_gemini_describe_what_they_are_doing() -> None:
    codex = get_agent("codex", Config()).start("gpt-5.1-codex")
    actions = [e.action for e in feed_all(codex, fixture_lines("codex", "edit")) if isinstance(e, ToolCall)]
    assert actions == ["command: rg --files calc", "edit: add docs/API.md", "command: python -m unittest -q"]
    gemini = get_agent("gemini", Config()).start("gemini-2.5-flash")
    events = feed_all(gemini, fixture_lines("gemini", "success"))
    assert [e.action for e in events if isinstance(e, ToolCall)] == ["read_many_files", "write_file: /home/user/project/docs/API.md"]
    assert gemini.session_id == "c88f0bb1-0bd1-4749-8c99-2a37ed946e74" and gemini.turns == 3
    assert gemini.finish(0).text == "Wrote docs/API.md with the public API of calc."


@pytest.mark.parametrize(("vendor", "line"), [
    ("claude", "✻ Thinking… (esc to interrupt)"), ("codex", "2025-11-12T09:14:03.221Z  WARN codex_core::exec: sandbox denied write to /etc/hosts"),
    ("gemini", "Loaded cached credentials."),
])
def test_a_plain_line_beside_the_format_is_a_notice_and_the_result_stands(vendor: str, line: str) -> None:
    """CLIs print banners and log lines on standard output; the run is judged by its final result, not by them."""
    from buildrunner.agents.base import AgentNotice

    run = get_agent(vendor, Config()).start(MODEL[vendor])
    events = feed_all(run, fixture_lines(vendor, "stray-line"))
    assert [e.message for e in events if isinstance(e, AgentNotice) and "outside" in e.message] == [f"printed outside its format: {line}"]
    assert not [e for e in events if isinstance(e, MalformedLine)] and run.finish(0).outcome == "passed"


def test_a_malformed_line_is_quoted_to_200_characters() -> None:
    long_line = "{" + "x" * 499 + "\n"  # JSON that does not parse: the format itself is broken
    run = get_agent("codex", Config()).start("gpt-5.1-codex")
    lines = fixture_lines("codex", "success")
    events = feed_all(run, [*lines[:2], long_line, *lines[2:]])
    assert [e.snippet for e in events if isinstance(e, MalformedLine)] == ["{" + "x" * 199]
    result = run.finish(0)
    assert result.outcome == "error" and result.reason is not None and result.reason.endswith(": {" + "x" * 199)


@pytest.mark.parametrize("field, value", [("total_cost_usd", 1e308), ("total_cost_usd", 2e6)])
def test_claude_stating_an_absurd_cost_is_malformed_not_recorded(field: str, value: float) -> None:
    """More than one record may hold (money.MAX_USD) is a broken agent's number: stored, every total would be infinite."""
    lines = json_lines("claude", "success")
    final = next(line for line in lines if line.get("type") == "result")
    broken = [json.dumps({**line, field: value}) + "\n" if line is final else json.dumps(line) + "\n" for line in lines]
    run = get_agent("claude", Config()).start(MODEL["claude"])
    events = feed_all(run, broken)
    assert [e.snippet[:12] for e in events if isinstance(e, MalformedLine)] == [json.dumps({**final, field: value})[:12]]
    result = run.finish(0)
    assert result.outcome == "error" and 0 <= result.cost_usd < 1_000  # the documented rule for output not in the format


def test_an_unfinished_line_with_more_output_after_it_is_malformed_not_truncation() -> None:
    run = get_agent("claude", Config()).start("claude-sonnet-4-5")
    lines = fixture_lines("claude", "success")
    feed_all(run, [lines[0], '{"type":"assistant","mess', *lines[1:]])
    result = run.finish(0)
    assert result.outcome == "error" and "not its documented format" in (result.reason or "")


@pytest.mark.parametrize(
    ("code", "words", "outcome"),
    [
        (1, "general error or API failure", "error"),
        (41, "authentication error", "error"),
        (42, "input error", "error"),
        (52, "configuration error", "error"),
        (53, "turn limit exceeded", "failed"),  # the model's run ended: judged as its attempt
        (54, "fatal tool execution error", "failed"),
        (130, "cancelled", "failed"),
        (7, "exited with code 7 (error)", "error"),
    ],
)
def test_gemini_exit_codes_say_what_went_wrong(code: int, words: str, outcome: str) -> None:
    run = get_agent("gemini", Config()).start("gemini-2.5-flash")
    result = run.finish(code, stderr="some detail\n")
    assert result.outcome == outcome and words in (result.reason or "") and "some detail" in (result.reason or "")
    assert result.exit_code == code


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_clean_exit_without_a_final_result_fails(vendor: str) -> None:
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    result = run.finish(0)
    assert result.outcome == "error" and "truncated" in (result.reason or "") and result.cost_usd == 0


def test_a_model_genai_prices_does_not_know_is_named_not_guessed() -> None:
    run = get_agent("codex", Config()).start("codex-made-up-model-9")
    feed_all(run, fixture_lines("codex", "success"))
    result = run.finish(0)
    assert result.passed and result.cost_usd == 0 and result.unpriced == ("codex-made-up-model-9",)
    assert not run.progress().priced


def test_gemini_keeps_its_estimate_when_the_final_stats_carry_no_tokens() -> None:
    """A result whose stats hold only a duration must not turn what the run cost into $0."""
    run = get_agent("gemini", Config()).start(MODEL["gemini"])
    for line in fixture_lines("gemini", "cap")[:20]:
        run.feed(line)
    running = run.cost_usd
    run.feed('{"type":"result","status":"error","error":{"type":"FatalToolExecutionError","message":"boom"},"stats":{"duration_ms":5}}\n')
    assert running > 0 and run.finish(54).cost_usd == running


def test_claude_tool_uses_the_permission_mode_refused_are_a_notice_naming_them() -> None:
    """Print mode cannot ask: with acceptEdits a `pytest` is refused, and the result lists it (permission_denials)."""
    from buildrunner.agents.base import AgentNotice

    lines = json_lines("claude", "success")
    denials = [
        {"tool_name": "Bash", "tool_use_id": "toolu_1", "tool_input": {"command": "pytest -q", "description": "Run the tests"}},
        {"tool_name": "Bash", "tool_use_id": "toolu_2", "tool_input": {"command": "npm test"}},
    ]
    with_denials = [json.dumps({**line, "permission_denials": denials} if line.get("type") == "result" else line) + "\n" for line in lines]
    run = get_agent("claude", Config()).start(MODEL["claude"])
    notices = [e.message for e in feed_all(run, with_denials) if isinstance(e, AgentNotice)]
    assert notices == ['the permission mode refused 2 tool uses: Bash (pytest -q), Bash (npm test); allow them in agents.claude.command '
                       '(e.g. --allowedTools "Bash(pytest:*)")']
    assert run.finish(0).outcome == "passed"  # the agent's word stands; verify judges the work
    plain = get_agent("claude", Config()).start(MODEL["claude"])
    assert not [e for e in feed_all(plain, fixture_lines("claude", "success")) if isinstance(e, AgentNotice)]


def test_claude_json_output_as_one_array_of_messages_is_read_like_the_stream() -> None:
    """`--output-format json` with --verbose (or a verbose setting) prints every message as one JSON array."""
    messages = json_lines("claude", "success")
    run = get_agent("claude", Config()).start(MODEL["claude"])
    events = feed_all(run, [json.dumps(messages) + "\n"])
    result = run.finish(0)
    streamed = get_agent("claude", Config()).start(MODEL["claude"])
    feed_all(streamed, fixture_lines("claude", "success"))
    expected = streamed.finish(0)
    assert result.outcome == "passed" and not [e for e in events if isinstance(e, MalformedLine)]
    assert (result.cost_usd, result.text, result.session_id) == (expected.cost_usd, expected.text, expected.session_id)
    broken = get_agent("claude", Config()).start(MODEL["claude"])
    feed_all(broken, [json.dumps([*messages, 7]) + "\n"])
    assert broken.finish(0).outcome == "error"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_banner_never_hides_the_failure_the_agent_or_its_exit_code_gives(vendor: str) -> None:
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    run.feed("Loaded cached credentials.\n")
    reason = run.finish(1, "Error: invalid API key").reason or ""
    assert "exited with code 1" in reason and "documented format" not in reason, reason
    stopped = get_agent(vendor, Config()).start(MODEL[vendor])
    stopped.feed("Loaded cached credentials.\n")
    assert "stopped" in (stopped.finish(None).reason or "")


def test_codex_turn_failed_after_a_banner_keeps_its_reason() -> None:
    run = get_agent("codex", Config()).start(MODEL["codex"])
    feed_all(run, ["Loaded config\n", '{"type":"thread.started","thread_id":"t"}\n', '{"type":"turn.started"}\n',
                   '{"type":"turn.failed","error":{"message":"usage limit reached"}}\n'])
    ended = run.finish(1)
    assert "turn failed: usage limit reached" in (ended.reason or "") and ended.outcome == "error"


@pytest.mark.parametrize(
    ("vendor", "lines", "outcome"),
    [
        # the model's own words about a login page are its attempt, not a sign-in problem
        ("claude", ['{"type":"result","subtype":"success","is_error":true,"result":"I could not get the login page tests to pass","num_turns":3,"total_cost_usd":0.01}'], "failed"),
        ("claude", ['{"type":"result","subtype":"success","is_error":true,"result":"Credit balance is too low","num_turns":1,"total_cost_usd":0}'], "error"),
        ("codex", ['{"type":"thread.started","thread_id":"t"}', '{"type":"turn.started"}', '{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}'], "error"),
        ("codex", ['{"type":"thread.started","thread_id":"t"}', '{"type":"turn.started"}', '{"type":"turn.failed","error":{"message":"the tests still fail after three tries"}}'], "failed"),
        ("gemini", ['{"type":"result","status":"error","error":{"type":"FatalToolExecutionError","message":"tool run_shell_command failed"},"stats":{"duration_ms":5}}'], "failed"),
        ("gemini", ['{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: got status: 503 Service Unavailable]"},"stats":{"duration_ms":5}}'], "error"),
    ],
)
def test_an_agent_that_could_not_work_is_told_from_one_whose_attempt_failed(vendor: str, lines: list[str], outcome: str) -> None:
    """Signed out, out of credit, rate-limited, the service down: no stronger model would pass, so the loop must not
    climb tiers on it (each rung was another paid attempt that could not work) nor calibrate against the tier."""
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    feed_all(run, [line + "\n" for line in lines])
    assert run.finish(1).outcome == outcome


def test_a_log_line_in_brackets_is_a_notice_but_a_json_array_not_in_the_format_is_malformed() -> None:
    lines = fixture_lines("claude", "success")
    logged = get_agent("claude", Config()).start(MODEL["claude"])
    feed_all(logged, ["[dotenv@17.2.1] injecting env (0) from .env\n", *lines])
    assert logged.finish(0).outcome == "passed"
    gemini = get_agent("gemini", Config()).start(MODEL["gemini"])
    feed_all(gemini, ["[1, 2, 3]\n", *fixture_lines("gemini", "success")])
    assert gemini.finish(0).outcome == "error"


# Where each vendor's success fixture names its first tool call's argument, and how to put a command there.
FIRST_TOOL_ARGUMENT = {"claude": '"ls calc tests"', "codex": '"bash -lc ls"', "gemini": '{"paths":["calc/**/*.py"]}'}


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_agents_last_action_never_keeps_a_secret_cut_at_its_length_limit(vendor: str) -> None:
    """The last action is stored and shown in status: a token the cut splits would no longer be one the masking knows.

    Each vendor's fixture is replayed with its first tool call's argument replaced by a command holding a GitHub token
    that the 120-character summary cuts in the middle."""
    token = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
    command = "cd /srv/deploy/releases/2026-12-04 && git remote set-url origin https://x-access:" + token + "@github.com/acme/widgets.git"
    argument = FIRST_TOOL_ARGUMENT[vendor]
    run = get_agent(vendor, Config()).start("")
    shown = []
    for line in fixture_lines(vendor, "success"):
        if argument in line and not shown:
            line = line.replace(argument, json.dumps({"command": command}) if argument.startswith("{") else json.dumps(command))
            run.feed(line)
            shown.append(run.progress().last_action or "")
        else:
            run.feed(line)
        action = run.progress().last_action or ""
        assert not any(token[i : i + 12] in action for i in range(len(token) - 11)), action
    assert shown and "ghp_..." in shown[0] and shown[0].endswith("…")  # masked, then cut
