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


class Transcript:
    """Reads one attempt's output as it grows (`logs --follow`): lines for people, then a closing line of its spend."""

    def __init__(self, agent: Agent, model_id: str) -> None:
        self.agent = agent
        self.run = agent.start(model_id)
        self._last: str | None = None
        self._closed = False

    def read(self, data: bytes, ended: bool) -> tuple[list[str], int]:
        """The lines new bytes of the log read as, and how many of the bytes that used: whole lines only until the
        attempt has `ended`, then all of them and (once) the closing line."""
        used = len(data) if ended else data.rfind(b"\n") + 1
        lines = [shown for line in data[:used].decode("utf-8", "replace").splitlines(keepends=True) for shown in self.feed(line)]
        if ended and not self._closed:
            lines += self.close()
            self._closed = True
        return lines, used

    def feed(self, line: str) -> list[str]:
        """The lines one line of output (with its newline; the last may lack it) reads as."""
        out = []
        for event in self.run.feed(line):
            if (shown := _line(self.agent, event, self._last)) is not None:
                out.append(shown)
                self._last = shown
        return out

    def close(self) -> list[str]:
        """Once the output has ended: whether it was cut short, and what the attempt spent."""
        run = self.run
        cut = run.truncated_reason()
        spent = f"spent {usd(run.cost_usd)}" + ("" if not run.unpriced else f" (no price for {', '.join(run.unpriced)})")
        return ([f"? {cut}"] if cut is not None else []) + [f"{spent}, {run.progress().tokens.total:,} tokens, {plural(run.turns, 'turn')}"]


def transcript(agent: Agent, model_id: str, text: str) -> list[str]:
    """The lines people read for one attempt's output `text` (as logged), ending with what it spent."""
    return Transcript(agent, model_id).read(text.encode("utf-8", "surrogateescape"), ended=True)[0]
