"""Claude Code: `claude -p --output-format stream-json --verbose`, prompt on standard input.

Sources of every field read here (re-check them when Claude Code changes its output):
- Flags: Claude Code CLI reference (code.claude.com/docs/en/cli-reference): `-p/--print`,
  `--output-format text|json|stream-json`, `--verbose` (required with stream-json in print mode),
  `--max-budget-usd` ("Maximum dollar amount to spend on API calls before stopping", print mode only),
  `--model`, `--permission-mode`. A prompt piped on standard input is the prompt when no
  argument is given (headless docs: `cat file | claude -p`).
- Messages: the Agent SDK's message types (anthropics/claude-agent-sdk-python
  `src/claude_agent_sdk/_internal/message_parser.py`, and the TypeScript SDK reference
  `SDKMessage`): `system`/`init` (`session_id`, `model`); `assistant` (`message.id`,
  `message.model`, `message.content[]` blocks `text`/`tool_use{name,input}`, `message.usage`
  with `input_tokens`, `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`,
  `parent_tool_use_id`, `error`); `user` (tool results); and the final `result` (`subtype`
  success | error_max_turns | error_during_execution | error_max_budget_usd | ...,
  `is_error`, `num_turns`, `result`, `errors`, `duration_ms`, `total_cost_usd`, `usage`,
  `modelUsage{<model>: {inputTokens, outputTokens, cacheReadInputTokens,
  cacheCreationInputTokens, costUSD}}`).
- Usage per message: the Agent SDK cost-tracking guide (platform.claude.com/docs/en/agent-sdk/cost-tracking):
  several `assistant` lines of one turn share `message.id` and report the same usage, so it
  is counted once per id.
The same reader accepts `--output-format json` (one `result` object), for custom agents.
"""

from __future__ import annotations

from typing import Any

from buildrunner.agents.base import (
    Agent,
    AgentEvent,
    AgentMessage,
    AgentNotice,
    AgentResult,
    AgentRun,
    FinalResult,
    MalformedOutput,
    Outcome,
    SessionStarted,
    TurnStarted,
    UsageUpdate,
    count,
    dollars,
    first_text,
    json_array,
    json_object,
    stderr_tail,
    text_of,
    unavailable,
)
from buildrunner.agents.pricing import TokenCounts
from buildrunner.security.masking import masked_line
from buildrunner.words import plural

# What a person wants to see of a tool call, by the tool's input keys (Bash, Read/Edit/Write, Glob/Grep, WebFetch, Task...).
TOOL_DETAIL_KEYS = ("command", "file_path", "notebook_path", "pattern", "path", "url", "query", "description", "prompt")
SUBTYPE_REASONS = {
    "error_max_turns": "reached its turn limit (error_max_turns)",
    "error_during_execution": "failed during execution (error_during_execution)",
    "error_max_budget_usd": "stopped at its spend cap (error_max_budget_usd)",
    "error_max_structured_output_retries": "could not produce the structured output (error_max_structured_output_retries)",
}


def _usage(raw: Any) -> TokenCounts:
    if raw is None:
        return TokenCounts()
    if not isinstance(raw, dict):
        raise MalformedOutput("usage")
    return TokenCounts(
        input=count(raw.get("input_tokens")),
        output=count(raw.get("output_tokens")),
        cache_read=count(raw.get("cache_read_input_tokens")),
        cache_write=count(raw.get("cache_creation_input_tokens")),
    )


def _model_usage(raw: Any) -> tuple[dict[str, TokenCounts], dict[str, float]]:
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise MalformedOutput("modelUsage")
    tokens: dict[str, TokenCounts] = {}
    costs: dict[str, float] = {}
    for model, usage in raw.items():
        if not isinstance(usage, dict):
            raise MalformedOutput("modelUsage entry")
        tokens[model] = TokenCounts(
            input=count(usage.get("inputTokens")),
            output=count(usage.get("outputTokens")),
            cache_read=count(usage.get("cacheReadInputTokens")),
            cache_write=count(usage.get("cacheCreationInputTokens")),
        )
        cost = dollars(usage.get("costUSD"))
        if cost is not None:
            costs[model] = cost
    return tokens, costs


def _max(a: TokenCounts, b: TokenCounts) -> TokenCounts:
    return TokenCounts(max(a.input, b.input), max(a.output, b.output), max(a.cache_read, b.cache_read), max(a.cache_write, b.cache_write))


class ClaudeCode(Agent):
    provider = "anthropic"
    install_hint = "npm install -g @anthropic-ai/claude-code"

    def output_args(self, max_cost_usd: float | None) -> list[str]:
        args = ["-p", "--output-format", "stream-json", "--verbose"]
        if max_cost_usd is not None:
            args += ["--max-budget-usd", repr(float(max_cost_usd))]  # shortest exact form: 0.25, 1e-05
        return args

    def start(self, model_id: str) -> "ClaudeRun":
        return ClaudeRun(self, model_id)


class ClaudeRun(AgentRun):
    def __init__(self, agent: Agent, model_id: str) -> None:
        super().__init__(agent, model_id)
        self._messages: dict[str, tuple[str, TokenCounts]] = {}
        self._final: dict[str, Any] | None = None
        self._text: str | None = None
        self._api_error = False  # a message Claude Code wrote for a failed API call (signed out, out of credit, overloaded)

    def parse(self, text: str) -> list[AgentEvent]:
        if text.startswith("["):  # `--output-format json` with --verbose (or a verbose setting) prints every message as one array
            return [event for item in json_array(text) for event in self._message(item, text)]
        return self._message(json_object(text), text)

    def _message(self, line: dict[str, Any], text: str) -> list[AgentEvent]:
        kind = line.get("type")
        if not isinstance(kind, str):
            raise MalformedOutput(text)
        if kind == "system":
            return self._system(line)
        if kind == "assistant":
            return self._assistant(line)
        if kind == "result":
            return self._result(line)
        return []  # user (tool results), stream_event, rate_limit_event, ...: nothing to track

    def _system(self, line: dict[str, Any]) -> list[AgentEvent]:
        if line.get("subtype") != "init":
            return []
        self.session_id = text_of(line.get("session_id")) or self.session_id
        self.model = text_of(line.get("model")) or self.model
        return [SessionStarted(self.session_id, self.model)]

    def _assistant(self, line: dict[str, Any]) -> list[AgentEvent]:
        message = line.get("message")
        if not isinstance(message, dict):
            raise MalformedOutput("assistant without message")
        content = message.get("content")
        if not isinstance(content, list):
            raise MalformedOutput("assistant content")
        events: list[AgentEvent] = []
        model = text_of(message.get("model")) or self.model or self.requested_model
        key = text_of(message.get("id")) or f"#{len(self._messages)}"
        top_level = line.get("parent_tool_use_id") is None
        if key not in self._messages and top_level:
            self.turns += 1
            events.append(TurnStarted(self.turns))
        if top_level and model != "<synthetic>":
            self.model = model
        if isinstance(line.get("error"), str):
            self._api_error = True
            events.append(AgentNotice(f"API error: {line['error']}"))
        if top_level and model == "<synthetic>":  # Claude Code speaks for the API: an error message, not the model's
            self._api_error = True
        for block in content:
            if not isinstance(block, dict):
                raise MalformedOutput("content block")
            if block.get("type") == "tool_use":
                events.append(self.tool(str(block.get("name") or "tool"), first_text(block.get("input"), TOOL_DETAIL_KEYS)))
            elif block.get("type") == "text" and isinstance(block.get("text"), str) and top_level:
                events.append(AgentMessage(block["text"]))
        usage = _usage(message.get("usage"))
        if usage.total:
            _, before = self._messages.get(key, (model, TokenCounts()))
            self._messages[key] = (model, _max(before, usage))
            total = sum((c for m, c in self._messages.values() if m == model), TokenCounts())
            events.append(self.set_tokens(model, total))
        else:
            self._messages.setdefault(key, (model, TokenCounts()))
        return events

    def _result(self, line: dict[str, Any]) -> list[AgentEvent]:
        subtype = line.get("subtype")
        if not isinstance(subtype, str):
            raise MalformedOutput("result without subtype")
        total = dollars(line.get("total_cost_usd"))
        tokens, costs = _model_usage(line.get("modelUsage"))
        _usage(line.get("usage"))
        count(line.get("num_turns"))
        self._final = line
        self.session_id = text_of(line.get("session_id")) or self.session_id
        self._text = text_of(line.get("result"))
        if tokens:
            self._tokens = dict(tokens)  # the run's own per-model totals replace the per-message sums
        if total is not None:
            self.state_cost(total, costs or {self.model or self.requested_model: total})
        ok = subtype == "success" and line.get("is_error") is not True
        notices = _denials(line.get("permission_denials"))
        return [*(UsageUpdate(m, c, self.cost_usd) for m, c in tokens.items()), *notices, FinalResult(ok, subtype, self._text)]

    @property
    def answered(self) -> bool:
        return self._final is not None

    def finish(self, exit_code: int | None, stderr: str = "") -> AgentResult:
        name = self.agent.name
        final = self._final
        if final is None:  # it crashed, printed something else or was cut short: nothing says the model failed
            if self.problem():
                reason = self.problem()
            elif exit_code is None:
                return self.result("failed", f"{name} was stopped before its final result", exit_code)
            elif exit_code == 0:
                reason = self.no_result_reason(f"{name} ended without its final result line (truncated output)")
            else:
                tail = stderr_tail(stderr)
                reason = f"{name} exited with code {exit_code} before its final result" + (f": {tail}" if tail else "")
            return self.result("error", reason, exit_code)
        duration = final.get("duration_ms")
        subtype = str(final["subtype"])
        outcome, reason = self._judge(final, subtype, exit_code)
        return self.result(
            outcome,
            reason,
            exit_code,
            turns=count(final.get("num_turns")),
            subtype=subtype,
            text=self._text,
            duration_ms=float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None,
        )

    def _judge(self, final: dict[str, Any], subtype: str, exit_code: int | None) -> tuple[Outcome, str | None]:
        name = self.agent.name
        if self.problem():
            return "error", self.problem()
        if subtype == "error_max_budget_usd":
            return "budget_exceeded", f"{name} {SUBTYPE_REASONS[subtype]} after spending ${self.cost_usd:.2f}"
        detail = self._detail(final)
        if subtype == "error_max_turns":
            return "failed", f"{name} {SUBTYPE_REASONS[subtype]} after {count(final.get('num_turns'))} turns"
        if subtype != "success":
            errors = final.get("errors")
            said = "; ".join(str(e) for e in errors) if isinstance(errors, list) else ""
            return ("error" if unavailable(said) else "failed"), f"{name} {SUBTYPE_REASONS.get(subtype, f'ended with {subtype}')}" + (f": {detail}" if detail else "")
        if final.get("is_error") is True:  # Claude Code's own message (an API error, signed out), not the model's
            return ("error" if self._api_error or unavailable(detail) else "failed"), f"{name} reported an error: {detail or 'no message'}"
        if exit_code not in (0, None):
            return "failed", f"{name} exited with code {exit_code} after reporting success"
        return "passed", None

    @staticmethod
    def _detail(final: dict[str, Any]) -> str:
        errors = final.get("errors")
        if isinstance(errors, list) and errors:
            return masked_line("; ".join(str(e) for e in errors), 200)
        return masked_line(text_of(final.get("result")) or "", 200)


def _denials(value: Any) -> list[AgentNotice]:
    """The tool uses the permission mode refused (print mode cannot ask): said, so a run that could not run its
    tests is not read as one that chose not to, with how to allow them."""
    if not isinstance(value, list) or not value:
        return []
    refused = []
    for denial in value:
        if isinstance(denial, dict):
            name = text_of(denial.get("tool_name")) or "tool"
            detail = first_text(denial.get("tool_input"), TOOL_DETAIL_KEYS)
            refused.append(f"{name} ({masked_line(detail, 60)})" if detail else name)
    shown = ", ".join(dict.fromkeys(refused[:5])) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
    return [AgentNotice(f"the permission mode refused {plural(len(value), 'tool use')}: {shown}; allow them in agents.claude.command "
                        '(e.g. --allowedTools "Bash(pytest:*)")')]
