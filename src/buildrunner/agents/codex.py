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
    count,
    json_object,
    stderr_tail,
    text_of,
    unavailable,
)
from buildrunner.agents.pricing import TokenCounts

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
            return [TurnStarted(self.turns)]
        if kind == "turn.completed":
            counts = _usage(line.get("usage"))
            self._open_turn, self._completed, self._failure = False, True, None
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
            changes = item.get("changes") if isinstance(item.get("changes"), list) else []
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