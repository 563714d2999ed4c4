"""Codex CLI: `codex exec ... --json -`, prompt on standard input; cost from tokens at genai-prices.

Sources of every field read here (re-check them when Codex changes its output):
- Flags: openai/codex `codex-rs/exec/src/cli.rs` (`--json` "Print events to stdout as JSONL";
  PROMPT "If not provided as an argument (or if `-` is used), instructions are read from stdin";
  `--model`, `--sandbox`, `--skip-git-repo-check`) and `docs/exec.md` (JSON output mode).
- Events: `codex-rs/exec/src/exec_events.rs` (`ThreadEvent`): `thread.started{thread_id}`,
  `turn.started`, `turn.completed{usage{input_tokens, cached_input_tokens, output_tokens}}`
  (newer releases add `cache_write_input_tokens` and `reasoning_output_tokens`),
  `turn.failed{error{message}}`, `item.started|updated|completed{item{id, type, ...}}` with
  item types `agent_message{text}`, `reasoning{text}`, `command_execution{command, exit_code,
  status}`, `file_change{changes[{path, kind}], status}`, `mcp_tool_call{server, tool}`,
  `web_search{query}`, `todo_list`, `error{message}`; and `error{message}`.
- Token meaning: `codex-rs/protocol` `TokenUsage::non_cached_input()` = input_tokens -
  cached_input_tokens (cached tokens are part of input_tokens, as in OpenAI's Responses API);
  reasoning tokens are part of output_tokens. `turn.completed` carries the thread's running
  total (`event_processor_with_jsonl_output.rs`, `usage_from_last_total`), so each one replaces
  the last rather than adding to it.
- Exit code: `codex-rs/exec/src/lib.rs` exits 1 when an error was seen (a turn failed or a
  non-retried error), else 0. Codex reports no dollars, and tokens only when a turn ends.

`codex exec` is usually one long turn: dozens of commands before its only `turn.completed`. So that a spend cap
holds inside it, its running cost is estimated from what it streams, as Gemini's is: each model request reads the
CLI's instructions and tool declarations (`REQUEST_FLOOR_TOKENS`) plus the conversation so far at 4 characters a
token. A request starts the turn and follows each tool's result (a command, an edit, an MCP call, a search). What
the request before it read is priced as cached input (OpenAI caches a repeated prefix), the rest at the input rate;
the model's messages and reasoning count as output. Each `turn.completed` replaces the estimate with the real counts.
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
    Outcome,
    SessionStarted,
    TurnStarted,
    count,
    json_object,
    stderr_tail,
    text_of,
    unavailable,
)
from buildrunner.agents.pricing import TokenCounts

REQUEST_FLOOR_TOKENS = 6_000  # Codex's instructions and tool declarations in every request (an estimate)
# Items whose result the model reads in its next request.
_TOOL_ITEMS = frozenset({"command_execution", "file_change", "mcp_tool_call", "web_search"})
_SHELL_PREFIXES = ("bash -lc ", "/bin/bash -lc ", "zsh -lc ", "/bin/zsh -lc ", "sh -c ", "/bin/sh -c ")


def _command(text: str) -> str:
    """`bash -lc 'pytest -q'` as the person reads it: `pytest -q`."""
    for prefix in _SHELL_PREFIXES:
        if text.startswith(prefix):
            rest = text[len(prefix) :].strip()
            if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "'\"":
                rest = rest[1:-1]
            return rest
    return text


def _usage(raw: Any) -> TokenCounts:
    if not isinstance(raw, dict):
        raise MalformedOutput("turn.completed without usage")
    total_input = count(raw.get("input_tokens"))
    cached = count(raw.get("cached_input_tokens"))
    written = count(raw.get("cache_write_input_tokens"))
    return TokenCounts(
        input=max(0, total_input - cached - written),
        output=count(raw.get("output_tokens")),
        cache_read=cached,
        cache_write=written,
    )


class Codex(Agent):
    provider = "openai"
    install_hint = "npm install -g @openai/codex"

    def output_args(self, max_cost_usd: float | None) -> list[str]:
        return ["--json", "-"]  # Codex has no spend cap of its own; the caller's running cap holds

    def start(self, model_id: str) -> "CodexRun":
        return CodexRun(self, model_id)


class CodexRun(AgentRun):
    def __init__(self, agent: Agent, model_id: str) -> None:
        super().__init__(agent, model_id)
        self._seen: set[str] = set()
        self._open_turn = False
        self._completed = False
        self._failure: str | None = None
        self._errors: list[str] = []
        self._text: str | None = None
        self._total = TokenCounts()  # the thread's counts at its last turn.completed
        self._context = 0  # characters of the conversation streamed so far (what a next request reads)
        self._read = 0  # tokens the last request read (cached for the next one)
        self._estimate = TokenCounts()  # the open turn's requests so far
        self._written = 0  # characters the model wrote in the open turn
        self._asked = False  # a model request is under way and not yet counted

    def parse(self, text: str) -> list[AgentEvent]:
        line = json_object(text)
        kind = line.get("type")
        if not isinstance(kind, str):
            raise MalformedOutput(text)
        if kind == "thread.started":
            self.session_id = text_of(line.get("thread_id")) or self.session_id
            return [SessionStarted(self.session_id, self.model)]
        if kind == "turn.started":
            self.turns += 1
            self._open_turn = True
            self._estimate, self._written, self._asked = TokenCounts(), 0, True
            return [TurnStarted(self.turns)]
        if kind == "turn.completed":
            counts = _usage(line.get("usage"))
            self._open_turn, self._completed, self._failure = False, True, None
            self._total, self._estimate, self._written, self._asked = counts, TokenCounts(), 0, False
            return [self.set_tokens(self.model or self.requested_model, counts), FinalResult(True, None, self._text)]
        if kind == "turn.failed":
            error = line.get("error")
            message = text_of(error.get("message")) if isinstance(error, dict) else None
            self._open_turn, self._completed = False, False
            self._failure = message or "turn failed"
            return [FinalResult(False, "turn.failed", self._failure)]
        if kind == "error":
            message = text_of(line.get("message")) or "error"
            self._errors.append(message)
            return [AgentNotice(message)]
        if kind.startswith("item."):
            return self._item(line.get("item"), kind)
        return []  # item.plan.delta, request_user_input and later additions: nothing to track

    def _item(self, item: Any, kind: str) -> list[AgentEvent]:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise MalformedOutput("item")
        item_type = item["type"]
        key = str(item.get("id"))
        first = key not in self._seen
        self._seen.add(key)
        estimate = self._streamed(item, item_type) if kind == "item.completed" else []
        return estimate + self._shown(item, item_type, kind, first)

    def _streamed(self, item: dict[str, Any], item_type: str) -> list[AgentEvent]:
        """A completed item: the request that produced it is counted (once), and a tool's result asks the next one."""
        if item_type not in _TOOL_ITEMS and item_type not in ("agent_message", "reasoning"):
            return []
        if self._asked:  # the model answered: the request it read is spent (a request that fails first is not billed)
            self._asked = False
            reads = REQUEST_FLOOR_TOKENS + self._context // CHARS_PER_TOKEN
            cached = min(self._read, reads)
            self._estimate = self._estimate + TokenCounts(input=reads - cached, cache_read=cached)
            self._read = reads
        if item_type in _TOOL_ITEMS:
            self._context += len(json.dumps(item, ensure_ascii=False))
            self._asked = self._open_turn
        else:
            text = text_of(item.get("text")) or ""
            self._context += len(text)
            self._written += len(text)
        return [self._running()] if self._open_turn else []

    def _running(self) -> AgentEvent:
        estimate = self._total + self._estimate + TokenCounts(output=self._written // CHARS_PER_TOKEN)
        return self.set_tokens(self.model or self.requested_model, estimate)

    def _shown(self, item: dict[str, Any], item_type: str, kind: str, first: bool) -> list[AgentEvent]:
        if item_type == "agent_message" and kind == "item.completed" and isinstance(item.get("text"), str):
            self._text = item["text"]
            return [AgentMessage(item["text"])]
        if item_type == "error" and kind == "item.completed":
            return [AgentNotice(text_of(item.get("message")) or "error")]
        if not first:
            return []
        if item_type == "command_execution":
            return [self.tool("command", _command(text_of(item.get("command")) or ""))]
        if item_type == "file_change":
            changes = item.get("changes")
            if not isinstance(changes, list):
                changes = []
            paths = ", ".join(f"{c.get('kind', 'update')} {c.get('path')}" for c in changes if isinstance(c, dict))
            return [self.tool("edit", paths or None)]
        if item_type == "mcp_tool_call":
            return [self.tool(f"{item.get('server')}.{item.get('tool')}", None)]
        if item_type == "web_search":
            return [self.tool("web search", text_of(item.get("query")))]
        return []

    def finish(self, exit_code: int | None, stderr: str = "") -> AgentResult:
        name = self.agent.name
        last_error = self._failure or (self._errors[-1] if self._errors else None)
        subtype = "turn.failed" if self._failure else ("error" if self._errors else None)
        if self.problem():
            return self.result("error", self.problem(), exit_code, subtype=subtype, text=self._text)
        outcome: Outcome = "failed"
        if self._failure:
            reason = f"{name} turn failed: {self._failure}"
            outcome = "error" if unavailable(self._failure) else "failed"
        elif exit_code is None:
            reason = f"{name} was stopped before it finished"
        elif exit_code != 0:
            detail = last_error or stderr_tail(stderr)
            reason = f"{name} exited with code {exit_code}" + (f": {detail}" if detail else "")
            outcome = "error" if not self._completed or unavailable(detail) else "failed"  # no turn completed: it never worked
        elif not self._completed or self._open_turn:
            reason = self.no_result_reason(f"{name} ended without turn.completed (truncated output)")
            outcome = "error"
        else:
            return self.result("passed", None, exit_code, text=self._text)
        return self.result(outcome, reason, exit_code, subtype=subtype, text=self._text)