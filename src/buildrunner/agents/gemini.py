"""Gemini CLI: `gemini --output-format stream-json`, prompt on standard input; cost from tokens at genai-prices.

Sources of every field read here (re-check them when Gemini CLI changes its output):
- Flags and exit codes: google-gemini/gemini-cli `docs/cli/headless.md` (headless when stdin is
  not a terminal, stdin content is the prompt; `--output-format text|json|stream-json`; exit
  codes 0 success, 1 general error or API failure, 41 authentication, 42 input error, 52
  configuration, 53 turn limit exceeded (maxSessionTurns), 54 fatal tool execution error,
  130 cancelled) and `docs/cli/cli-reference.md` (`--model`, `--approval-mode`).
- stream-json events: `packages/core/src/output/types.ts` (`JsonStreamEventType`): `init{session_id,
  model}`, `message{role, content, delta}`, `tool_use{tool_name, tool_id, parameters}`,
  `tool_result{tool_id, status, error{type, message}}`, `error{severity, message}`,
  `result{status, error{type, message}, stats{total_tokens, input_tokens, output_tokens, cached,
  input, duration_ms, tool_calls, models{<model>: {total_tokens, input_tokens, output_tokens,
  cached, input}}}}`. `input_tokens` is the prompt including `cached`; `input` the uncached part;
  `output_tokens` the candidates. Thinking and tool-use prompt tokens are in `total_tokens`
  only, so what `total_tokens` holds beyond input and output is priced as output (the dearer
  rate: a cap never sees less than was spent). Older releases had no `models` or `cached`.
- json output: `packages/core/src/output/json-formatter.ts` (`JSON.stringify(output, null, 2)`:
  one object over many lines) with `session_id`, `response`, `stats.models[<model>].tokens{prompt,
  candidates, total, cached, thoughts, tool}` (docs/cli/headless.md example) and `error{type,
  message, code}`; errors in json mode go to stderr (`packages/cli/src/utils/errors.ts`).
Gemini reports no dollars, and tokens only in its final result. So that a spend cap holds while
it runs, its running cost is estimated from what it streams: each model request (turn) reads the
CLI's system prompt and tool declarations (`REQUEST_FLOOR_TOKENS`) plus the conversation streamed
so far, at 4 characters a token and the input rate; what it writes counts as output. It is an
estimate, not a bound: Gemini's implicit cache can make the bill lower, large files its tools read
(streamed only in part) higher. The exact tokens of the final result replace it.
"""

from __future__ import annotations

import json
from typing import Any

from buildrunner.agents.base import (
    CHARS_PER_TOKEN,
    Agent,
    AgentEvent,
    AgentMessage,
    AgentNotice,
    AgentResult,
    AgentRun,
    FinalResult,
    MalformedOutput,
    SessionStarted,
    TurnStarted,
    count,
    first_text,
    json_object,
    stderr_tail,
    text_of,
    unavailable,
)
from buildrunner.agents.pricing import TokenCounts
from buildrunner.security.masking import masked_line

TRUST_ENV = "GEMINI_CLI_TRUST_WORKSPACE"
EXIT_MEANINGS = {
    1: "general error or API failure",
    41: "authentication error",
    42: "input error (invalid prompt or arguments)",
    52: "configuration error",
    53: "turn limit exceeded (maxSessionTurns)",
    44: "sandbox error",
    54: "fatal tool execution error",
    55: f"the folder is not trusted (set {TRUST_ENV}=true or trust it in gemini)",
    130: "cancelled",
}
# Exits that say gemini could not work at all (signed out, bad arguments, sandbox, configuration, an untrusted folder):
# no model would have done better.
UNAVAILABLE_EXITS = frozenset({41, 42, 44, 52, 55})
# Exits that are the run's own end (its turn limit, a tool that failed, a cancel): judged as the model's attempt.
ATTEMPT_EXITS = frozenset({53, 54, 130})
TOOL_DETAIL_KEYS = ("command", "file_path", "absolute_path", "path", "dir_path", "pattern", "query", "url", "prompt", "description")
# Input tokens every Gemini CLI request carries: its system prompt and built-in tool declarations (more with
# extensions or MCP tools; the running estimate's fixed part per request).
REQUEST_FLOOR_TOKENS = 8_000
_JSON_KEYS = frozenset({"session_id", "response", "stats", "error", "version", "finish_reason", "warnings"})


def _stream_tokens(raw: Any) -> TokenCounts:
    if not isinstance(raw, dict):
        raise MalformedOutput("stats")
    prompt = count(raw.get("input_tokens"))
    cached = count(raw.get("cached"))
    uncached = count(raw["input"]) if "input" in raw else max(0, prompt - cached)
    output = count(raw.get("output_tokens"))
    unsplit = max(0, count(raw.get("total_tokens")) - prompt - output)  # thoughts + tool-use prompt
    return TokenCounts(input=uncached, output=output + unsplit, cache_read=cached)


def _json_tokens(raw: Any) -> TokenCounts:
    if not isinstance(raw, dict):
        raise MalformedOutput("tokens")
    prompt = count(raw.get("prompt"))
    cached = count(raw.get("cached"))
    return TokenCounts(
        input=max(0, prompt - cached) + count(raw.get("tool")),
        output=count(raw.get("candidates")) + count(raw.get("thoughts")),
        cache_read=cached,
    )


class GeminiCli(Agent):
    provider = "google"
    install_hint = "npm install -g @google/gemini-cli"

    def output_args(self, max_cost_usd: float | None) -> list[str]:
        return ["--output-format", "stream-json"]  # Gemini CLI has no spend cap of its own

    def env(self) -> dict[str, str]:
        """Gemini CLI (0.41 and later) refuses to run headless in a folder the user has not trusted (exit 55), and a
        task's worktree is a new folder: trust it for this run (a default: the task's `env` or the worker's environment
        may set the variable otherwise). The variable, not `--skip-trust`: earlier releases reject an option they do
        not know."""
        return {TRUST_ENV: "true"}

    def start(self, model_id: str) -> "GeminiRun":
        return GeminiRun(self, model_id)


class GeminiRun(AgentRun):
    def __init__(self, agent: Agent, model_id: str) -> None:
        super().__init__(agent, model_id)
        self._doc: list[str] | None = None  # lines of a pretty-printed json-format object
        self._in_turn = False
        self._final: tuple[bool, str | None, str | None] | None = None
        self._parts: list[str] = []
        self._seen = 0  # characters of conversation streamed so far (what each later request re-reads)
        self._written = 0  # characters the model wrote
        self._estimate: TokenCounts | None = None  # running estimate until the final result's tokens

    def parse(self, text: str) -> list[AgentEvent]:
        if self._doc is not None:
            self._doc.append(text)
            if text != "}":
                return []
            try:
                doc = json_object("\n".join(self._doc))
            except MalformedOutput:
                return []  # an inner object closed; the document goes on
            self._doc = None
            return self._document(doc)
        if text == "{":
            self._doc = [text]
            return []
        line = json_object(text)
        kind = line.get("type")
        if isinstance(kind, str):
            return self._event(kind, line)
        if line and set(line) <= _JSON_KEYS:
            return self._document(line)
        raise MalformedOutput(text)

    def _turn(self) -> list[AgentEvent]:
        if self._in_turn:
            return []
        self._in_turn = True
        self.turns += 1
        self._parts = []  # the final text is the last turn's
        return [TurnStarted(self.turns), self._estimated()]

    def _estimated(self) -> AgentEvent:
        """A new request: the running estimate grows by what it must have read, and what was written so far.

        Re-read context is priced at the input rate: with Gemini's implicit cache the bill can be lower
        (the final figures then replace it, down), but a runaway run is never priced as nearly free.
        """
        read = TokenCounts(input=REQUEST_FLOOR_TOKENS + self._seen // CHARS_PER_TOKEN)
        self._estimate = (self._estimate or TokenCounts()) + read
        return self.set_tokens(self.model or self.requested_model, self._estimate + TokenCounts(output=self._written // CHARS_PER_TOKEN))

    def _stream(self, text: str, *, written: bool = False) -> None:
        self._seen += len(text)
        if written:
            self._written += len(text)

    def _event(self, kind: str, line: dict[str, Any]) -> list[AgentEvent]:
        if kind == "init":
            self.session_id = text_of(line.get("session_id")) or self.session_id
            model = text_of(line.get("model"))
            if model and not model.startswith("auto"):
                self.model = model
            return [SessionStarted(self.session_id, model or self.model)]
        if kind == "message":
            content = text_of(line.get("content")) or ""
            self._stream(content, written=line.get("role") == "assistant")
            if line.get("role") != "assistant":
                self._in_turn = False
                return []
            events = self._turn()
            if line.get("delta") is True:
                self._parts.append(content)
            elif content:
                events.append(AgentMessage(content))
                self._parts = [content]
            return events
        if kind == "tool_use":
            self._stream(json.dumps(line.get("parameters"), ensure_ascii=False), written=True)
            events = self._turn()
            name = text_of(line.get("tool_name")) or "tool"
            events.append(self.tool(name, first_text(line.get("parameters"), TOOL_DETAIL_KEYS)))
            return events
        if kind == "tool_result":
            self._stream(json.dumps(line.get("output"), ensure_ascii=False) + json.dumps(line.get("error"), ensure_ascii=False))
            self._in_turn = False
            error = line.get("error")
            if line.get("status") == "error" and isinstance(error, dict):
                return [AgentNotice(f"tool failed: {text_of(error.get('message')) or error.get('type')}")]
            return []
        if kind == "error":
            return [AgentNotice(f"{line.get('severity', 'error')}: {text_of(line.get('message')) or ''}")]
        if kind == "result":
            return self._result(line)
        return []

    def _result(self, line: dict[str, Any]) -> list[AgentEvent]:
        status = line.get("status")
        if status not in ("success", "error"):
            raise MalformedOutput("result status")
        events: list[AgentEvent] = []
        stats = line.get("stats")
        if stats is not None:
            if not isinstance(stats, dict):
                raise MalformedOutput("stats")
            models = stats.get("models")
            if isinstance(models, dict) and models:
                self.clear_tokens()  # the exact counts replace the running estimate
                for model, raw in models.items():
                    events.append(self.set_tokens(model, _stream_tokens(raw)))
            elif any(key in stats for key in ("input_tokens", "output_tokens", "total_tokens")):
                self.clear_tokens()
                events.append(self.set_tokens(self.model or self.requested_model, _stream_tokens(stats)))
        error = line.get("error")
        if not isinstance(error, dict):
            error = {}
        text = "".join(self._parts) or None
        self._final = (status == "success", text_of(error.get("type")), text_of(error.get("message")) or text)
        events.append(FinalResult(*self._final))
        return events

    def _document(self, doc: dict[str, Any]) -> list[AgentEvent]:
        """A `--output-format json` object: the whole run at once."""
        events: list[AgentEvent] = []
        self.session_id = text_of(doc.get("session_id")) or self.session_id
        stats = doc.get("stats")
        models = stats.get("models") if isinstance(stats, dict) else None
        if isinstance(models, dict):
            for model, raw in models.items():
                if not isinstance(raw, dict):
                    raise MalformedOutput("stats.models entry")
                events.append(self.set_tokens(model, _json_tokens(raw.get("tokens"))))
                api = raw.get("api")
                if isinstance(api, dict):
                    self.turns += count(api.get("totalRequests"))
        error = doc.get("error")
        if isinstance(error, dict):
            self._final = (False, text_of(error.get("type")), text_of(error.get("message")))
        else:
            self._final = (True, None, text_of(doc.get("response")))
        events.append(FinalResult(*self._final))
        return events

    @property
    def answered(self) -> bool:
        return self._final is not None

    def finish(self, exit_code: int | None, stderr: str = "") -> AgentResult:
        name = self.agent.name
        if self._doc is not None and self.problem() is None:
            return self.result("error", f"{name} output ended inside its JSON object (truncated): {masked_line(' '.join(self._doc), 200)}", exit_code)
        if self.problem():
            return self.result("error", self.problem(), exit_code)
        if self._final is not None:
            ok, error_type, text = self._final
            if not ok:
                meaning = f" (exit {exit_code}: {EXIT_MEANINGS[exit_code]})" if exit_code in EXIT_MEANINGS else ""
                could_not = exit_code in UNAVAILABLE_EXITS or unavailable(f"{error_type} {text}")
                return self.result("error" if could_not else "failed", f"{name} reported an error{meaning}: {error_type or 'error'}: {text or 'no message'}",
                                   exit_code, subtype=error_type, text=text)
            if exit_code not in (0, None):
                return self.result("failed", f"{name} exited with code {exit_code} after reporting success", exit_code, text=text)
            return self.result("passed", None, exit_code, text=text)
        if exit_code is None:
            return self.result("failed", f"{name} was stopped before its final result", exit_code)
        if exit_code == 0:
            return self.result("error", self.no_result_reason(f"{name} ended without its final result (truncated output)"), exit_code)
        error_type, message = _stderr_error(stderr)
        meaning = EXIT_MEANINGS.get(exit_code, "error")
        detail = message or stderr_tail(stderr)
        reason = f"{name} exited with code {exit_code} ({meaning})" + (f": {detail}" if detail else "")
        return self.result("failed" if exit_code in ATTEMPT_EXITS else "error", reason, exit_code, subtype=error_type or f"exit {exit_code}")


def _stderr_error(stderr: str) -> tuple[str | None, str | None]:
    """The `{"error": {"type", "message"}}` object json mode prints to stderr, if there is one."""
    text = (stderr or "").strip()
    start = text.rfind("\n{")
    for candidate in (text, text[start + 1 :] if start >= 0 else ""):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        error = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(error, dict):
            return text_of(error.get("type")), text_of(error.get("message"))
    return None, None
