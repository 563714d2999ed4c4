"""An agent attempt's log as people read it: its JSON stream read by the agent's own reader, one line per event.

The log keeps what the agent printed (masked), which for Claude Code, Codex and Gemini CLI is a
stream of JSON objects: exact, and unreadable in a terminal. `br parallel logs` shows this
transcript instead (`--raw` for the stream itself): the session, each tool call, what the agent
said, its notices, its final result and what the attempt spent.
"""

from __future__ import annotations

from buildrunner.agents.base import (
    Agent,
    AgentEvent,
    AgentMessage,
    AgentNotice,
    FinalResult,
    MalformedLine,
    SessionStarted,
    ToolCall,
)
from buildrunner.money import usd
from buildrunner.words import plural


def _line(agent: Agent, event: AgentEvent, last: str | None) -> str | None:
    """`event` as one line; `last` is the previous line shown (a final result that repeats it is not said twice)."""
    if isinstance(event, SessionStarted):
        return f"{agent.name} session {event.session_id or '(no id)'}" + (f" on {event.model}" if event.model else "")
    if isinstance(event, ToolCall):
        return f"> {event.action}"
    if isinstance(event, AgentMessage):
        return event.text.rstrip() or None
    if isinstance(event, AgentNotice):
        return f"! {event.message}"
    if isinstance(event, MalformedLine):
        return f"? not {agent.name}'s output format: {event.snippet}"
    if isinstance(event, FinalResult):
        said = f": {event.text.strip()}" if event.text and event.text.strip() and event.text.strip() != last else ""
        return f"result: {'done' if event.ok else 'failed'}" + (f" ({event.subtype})" if event.subtype else "") + said
    return None  # turns and token counts: summed up at the end


def transcript(agent: Agent, model_id: str, text: str) -> list[str]:
    """The lines people read for one attempt's output `text` (as logged), ending with what it spent."""
    run = agent.start(model_id)
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        for event in run.feed(line):
            if (shown := _line(agent, event, lines[-1] if lines else None)) is not None:
                lines.append(shown)
    if (cut := run.truncated_reason()) is not None:
        lines.append(f"? {cut}")
    tokens = run.progress().tokens.total
    spent = f"spent {usd(run.cost_usd)}" + ("" if not run.unpriced else f" (no price for {', '.join(run.unpriced)})")
    lines.append(f"{spent}, {tokens:,} tokens, {plural(run.turns, 'turn')}")
    return lines
