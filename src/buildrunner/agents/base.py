"""The one interface every coding agent is run through, and the typed records it returns.

The executor runs any agent the same way:

    agent = get_agent("codex", config)               # registry.py; or legacy_agent(template)
    require_installed(agent, path=env["PATH"])       # APIError (exit 5) naming the program and its npm package
    inv = agent.invocation(prompt, model_id, max_cost_usd=cap)
    run = agent.start(model_id)                      # one AgentRun per attempt
    proc = Popen(inv.argv, stdin=PIPE if inv.stdin is not None else DEVNULL, env={**inv.env, **task_env}, ...)
    write inv.stdin to proc.stdin (from a thread: a big prompt fills the pipe) and close it
    for line in proc.stdout:                         # text lines, as they come
        for event in run.feed(line):                 # never raises; a broken JSON line is a MalformedLine, plain text a notice
            telemetry(event); check run.cost_usd against the caps; end the process tree if crossed
    result = run.finish(proc.returncode, stderr=tail_of_stderr)   # exit code None when we ended it

`Invocation.argv` never holds the prompt where an option parser reads options: it goes on
standard input, or (custom agents with `prompt: argument`) last, after `--`. Placeholders
(`{model_id}`, `{model}`) are filled in the template's words before the prompt is added, so
text in a prompt is never a placeholder or an option.

Vendor field names live only in the adapter modules (claude.py, codex.py, gemini.py); this
module knows none. Text in events and results is the agent's own: callers mask secrets
before showing or storing it; the one-line summaries (last action, reason) are masked here,
before they are cut to length.
"""

from __future__ import annotations

import json
import re
import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping

from buildrunner.agents.pricing import TokenCounts, token_cost
from buildrunner.agents.settings import PromptMode
from buildrunner.errors import ConfigError
from buildrunner.money import MAX_TOKENS, MAX_USD, within
from buildrunner.security.masking import masked_line

# "error": the agent could not work (signed out, out of credit or quota, rate-limited, the service down or overloaded,
# a model it does not serve, a crash, output not in its format): no tier would have done better, so the attempt is
# retried, not escalated, and routing's calibration does not count it against the tier.
Outcome = Literal["passed", "failed", "budget_exceeded", "error"]
# What the vendors' own error messages say when the agent could not work. Read only in those messages (an error
# event, a failed turn, an error result, stderr), never in the model's own words, which may be about a login page.
_UNAVAILABLE = re.compile(
    r"(?i)invalid (?:x-)?api[ -]?key|api[ _-]?key[ _](?:not[ _]valid|invalid|missing|not set)|authenticat|unauthori[sz]ed|"
    r"not logged in|/login\b|log ?in again|credit balance|insufficient[_ ]quota|quota exceeded|exceeded your (?:current )?quota|"
    r"usage limit|rate[_ -]?limit|too many requests|overloaded|internal server error|service unavailable|bad gateway|"
    r"gateway time-?out|\b(?:status|http|api error:?)\s*(?:401|403|429|5\d\d)\b|stream disconnected|error sending request|"
    r"connection (?:reset|refused|error|closed|aborted)|econnreset|econnrefused|etimedout|enotfound|eai_again|network (?:error|is unreachable)|"
    r"model\b[^\n]{0,80}?\b(?:not (?:found|supported|available)|does not exist|unavailable)|(?:unknown|unsupported|invalid) model|"
    r"not inside a trusted directory|not trusted"
)


def unavailable(message: str | None) -> bool:
    """Whether a vendor's error message says the agent could not work (not that the task defeated the model)."""
    return bool(message) and _UNAVAILABLE.search(message or "") is not None
CHARS_PER_TOKEN = 4  # English text and code, for a running estimate of what an agent reads and writes before it reports tokens
SNIPPET_CHARS = 200  # of an offending line, in a malformed-output reason
REASON_CHARS = 300
ACTION_CHARS = 120
_PLACEHOLDER = re.compile(r"\{(model_id|model)\}")


# --- what one attempt is started with ----------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    """How to start one attempt: run `argv` with `env` added, and `stdin` (None: no input) on standard input."""

    agent: str
    argv: list[str]
    stdin: bytes | None
    env: dict[str, str] = field(default_factory=dict)


# --- what an agent prints, as typed events -----------------------------------------------------


@dataclass(frozen=True)
class AgentEvent:
    """One thing an agent reported; `kind` names the subclass for telemetry."""

    kind: ClassVar[str] = "event"


@dataclass(frozen=True)
class SessionStarted(AgentEvent):
    kind: ClassVar[str] = "session"
    session_id: str | None
    model: str | None


@dataclass(frozen=True)
class TurnStarted(AgentEvent):
    kind: ClassVar[str] = "turn"
    turn: int


@dataclass(frozen=True)
class ToolCall(AgentEvent):
    """A tool call or command; `action` is a short line for people ("Bash: pytest -q")."""

    kind: ClassVar[str] = "tool"
    tool: str
    action: str


@dataclass(frozen=True)
class AgentMessage(AgentEvent):
    kind: ClassVar[str] = "message"
    text: str


@dataclass(frozen=True)
class UsageUpdate(AgentEvent):
    """New token counts for `model` (its running total in this attempt) and the attempt's running cost."""

    kind: ClassVar[str] = "usage"
    model: str
    tokens: TokenCounts
    cost_usd: float


@dataclass(frozen=True)
class AgentNotice(AgentEvent):
    """A warning or non-fatal error the agent reported (a retried API error, a failed tool)."""

    kind: ClassVar[str] = "notice"
    message: str


@dataclass(frozen=True)
class MalformedLine(AgentEvent):
    """A line that is not the agent's documented format; the attempt will fail."""

    kind: ClassVar[str] = "malformed"
    snippet: str


@dataclass(frozen=True)
class FinalResult(AgentEvent):
    """The agent's own final word (before the process exit code is known)."""

    kind: ClassVar[str] = "result"
    ok: bool
    subtype: str | None
    text: str | None


# --- progress and outcome ----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentProgress:
    """A running attempt as status views show it."""

    agent: str
    model: str | None
    turns: int
    last_action: str | None
    cost_usd: float
    tokens: TokenCounts
    priced: bool


@dataclass(frozen=True)
class AgentResult:
    """How an attempt ended: outcome, a one-line reason when it did not pass, and what it cost.

    `cost_source` is "agent" when the agent stated the dollars (Claude Code's total_cost_usd),
    "tokens" when they were computed from its token counts at genai-prices' list prices.
    `unpriced` names models whose price is unknown (their tokens are in `tokens_by_model`
    but add nothing to `cost_usd`). `provider` is the genai-prices provider of its models.
    """

    agent: str
    outcome: Outcome
    reason: str | None
    exit_code: int | None
    model: str | None
    cost_usd: float
    provider: str
    cost_by_model: dict[str, float]
    tokens_by_model: dict[str, TokenCounts]
    turns: int
    subtype: str | None = None
    session_id: str | None = None
    duration_ms: float | None = None
    cost_source: Literal["agent", "tokens"] = "tokens"
    unpriced: tuple[str, ...] = ()
    text: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def tokens(self) -> TokenCounts:
        return sum(self.tokens_by_model.values(), TokenCounts())


# --- the interface -----------------------------------------------------------------------------


class MalformedOutput(ValueError):
    """Raised inside an adapter's parser for a line that is not its format; feed() turns it into an event."""


class Agent(ABC):
    """A configured coding agent: builds invocations and starts runs that read its output."""

    provider: ClassVar[str]  # genai-prices provider id of the models it runs
    install_hint: ClassVar[str]

    def __init__(self, name: str, command: str, models: Mapping[str, str], *, prompt_mode: PromptMode = "stdin", custom: bool = False) -> None:
        self.name = name
        self.command = command
        self.models = dict(models)
        self.prompt_mode = prompt_mode
        self.custom = custom  # a custom agent's command is the whole line: the adapter adds nothing but the prompt

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, command={self.command!r})"

    @property
    def program(self) -> str:
        return shlex.split(self.command)[0]

    def model_for(self, tier: str) -> str:
        """The model id this agent runs for a routing tier."""
        try:
            return self.models[tier]
        except KeyError:
            raise ConfigError(
                f"agent {self.name}: no model for tier {tier!r}", hint=f"set agents.{self.name}.models.{tier} in .buildrunner/config.json"
            ) from None

    def invocation(self, prompt: str, model_id: str, *, max_cost_usd: float | None = None) -> Invocation:
        """The argv, standard input and environment for one attempt; the prompt is never an option or template."""
        if not isinstance(prompt, str):
            raise ConfigError(f"agent {self.name}: the prompt must be text, got {type(prompt).__name__}")
        if not model_id or "\0" in model_id:
            raise ConfigError(f"agent {self.name}: model id {model_id!r} is empty or holds a NUL character", hint="fix the tier's model id")
        if max_cost_usd is not None and (not within(max_cost_usd, MAX_USD) or max_cost_usd == 0):
            raise ConfigError(f"max_cost_usd={max_cost_usd!r}: must be a positive number of dollars", hint="pass e.g. 0.50, or None for no cap")
        tier = next((t for t, m in self.models.items() if m == model_id), "")
        values = {"model_id": model_id, "model": tier or model_id}
        argv = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], word) for word in shlex.split(self.command)]
        if not self.custom:
            argv += self.output_args(max_cost_usd)
        try:
            data = prompt.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ConfigError(f"agent {self.name}: the prompt is not valid text ({exc.reason} at character {exc.start})", hint="remove the stray character") from None
        if self.prompt_mode == "argument":
            if "\0" in prompt:
                raise ConfigError(f"agent {self.name}: a prompt with a NUL character cannot be an argument", hint=f"set agents.custom.{self.name}.prompt to stdin")
            return Invocation(self.name, [*argv, "--", prompt], None, self.env())
        return Invocation(self.name, argv, data, self.env())

    def output_args(self, max_cost_usd: float | None) -> list[str]:
        """Arguments the adapter adds after the template: its output format and spend cap."""
        return []

    def env(self) -> dict[str, str]:
        """Variables the adapter sets by default: the task's `env` and the worker's own environment override them."""
        return {}

    @abstractmethod
    def start(self, model_id: str) -> "AgentRun":
        """A fresh reader of one attempt's output; `model_id` is what the invocation asked for."""


class AgentRun(ABC):
    """Reads one attempt's output line by line, keeps running totals, and says how it ended.

    feed() never raises: a line that is not the agent's format becomes a MalformedLine event
    and makes finish() report a failure quoting it.
    """

    def __init__(self, agent: Agent, model_id: str) -> None:
        self.agent = agent
        self.requested_model = model_id
        self.model: str | None = model_id
        self.session_id: str | None = None
        self.turns = 0
        self.last_action: str | None = None
        self.malformed: str | None = None
        self.stray: str | None = None  # the first plain-text line printed beside the format (a banner, a log line)
        self._cut: str | None = None  # an unfinished last line that did not parse
        self._tokens: dict[str, TokenCounts] = {}
        self._stated: tuple[float, dict[str, float]] | None = None  # (total, by model) in dollars the agent reported

    # running totals

    @property
    def tokens_by_model(self) -> dict[str, TokenCounts]:
        return dict(self._tokens)

    @property
    def cost_by_model(self) -> dict[str, float]:
        """Dollars so far per model: as the agent stated them, else token counts at list prices (unknown prices count 0)."""
        if self._stated is not None:
            return dict(self._stated[1])
        out: dict[str, float] = {}
        for model, counts in self._tokens.items():
            out[model] = token_cost(self.agent.provider, model, counts) or 0.0
        return out

    @property
    def cost_usd(self) -> float:
        """The attempt's cost so far; what a cap is checked against."""
        return self._stated[0] if self._stated is not None else sum(self.cost_by_model.values())

    @property
    def answered(self) -> bool:
        """The agent printed its final result: it is ending by itself and will spend nothing more. False where a
        result may be followed by more work (a Codex thread's turn.completed can be followed by another turn)."""
        return False

    @property
    def unpriced(self) -> tuple[str, ...]:
        if self._stated is not None:
            return ()
        return tuple(m for m, c in self._tokens.items() if c.total and token_cost(self.agent.provider, m, c) is None)

    def progress(self) -> AgentProgress:
        return AgentProgress(
            agent=self.agent.name,
            model=self.model,
            turns=self.turns,
            last_action=self.last_action,
            cost_usd=self.cost_usd,
            tokens=sum(self._tokens.values(), TokenCounts()),
            priced=not self.unpriced,
        )

    # reading

    def feed(self, line: str) -> list[AgentEvent]:
        """The events in one line of the agent's standard output, as read (with its newline).

        A bad line without a newline may be the output cut short; it counts as malformed
        only if more output follows, else finish() reports truncated output.
        """
        text = line.strip()
        if not text:
            return []
        events: list[AgentEvent] = []
        if self._cut is not None:
            events.append(self._bad(self._cut))
            self._cut = None
        try:
            return events + self.parse(text)
        except MalformedOutput:
            if not line.endswith("\n"):
                self._cut = text
                return events
            if not _json_shaped(text):  # plain text beside the JSON: CLIs print banners and logs ("[INFO] ...") on stdout
                self.stray = self.stray or text[:SNIPPET_CHARS]
                return [*events, AgentNotice(f"printed outside its format: {text[:SNIPPET_CHARS]}")]
            return [*events, self._bad(text)]

    def _bad(self, text: str) -> MalformedLine:
        snippet = text[:SNIPPET_CHARS]
        if self.malformed is None:
            self.malformed = snippet
        return MalformedLine(snippet)

    def truncated_reason(self) -> str | None:
        """Why the output looks cut short (its last line unfinished), if it does."""
        if self._cut is None:
            return None
        return f"{self.agent.name} output ended mid-line (truncated): {self._cut[:SNIPPET_CHARS]}"

    @abstractmethod
    def parse(self, text: str) -> list[AgentEvent]:
        """Events of one non-blank line; raise MalformedOutput if it is not the format."""

    @abstractmethod
    def finish(self, exit_code: int | None, stderr: str = "") -> AgentResult:
        """The outcome, once the process has exited (`exit_code` None: it was ended by the caller)."""

    # helpers for adapters

    def clear_tokens(self) -> None:
        """Forget the token counts so far (an estimate the agent's own final figures replace)."""
        self._tokens.clear()

    def set_tokens(self, model: str, counts: TokenCounts) -> UsageUpdate:
        self._tokens[model] = counts
        return UsageUpdate(model, counts, self.cost_usd)

    def state_cost(self, total: float, by_model: dict[str, float]) -> None:
        """The agent's own dollars: from now on they are the attempt's cost, not its tokens at list prices."""
        self._stated = (total, dict(by_model))

    def tool(self, name: str, detail: str | None) -> ToolCall:
        action = masked_line(f"{name}: {detail}" if detail else name, ACTION_CHARS)
        self.last_action = action
        return ToolCall(name, action)

    def problem(self) -> str | None:
        """Why the output itself fails the attempt (a JSON line not in the format, or output cut short), if it does."""
        if self.malformed is not None:
            return f"{self.agent.name} printed output that is not its documented format: {self.malformed}"
        return self.truncated_reason()

    def no_result_reason(self, default: str) -> str:
        """Why an agent that exited 0 without its final result failed: `default` (truncated output), or, when it
        printed plain text beside the format, that text (an interactive mode prints nothing else). Plain-text lines
        never hide a failure the agent reported or an exit code."""
        if self.stray is not None:
            return f"{self.agent.name} printed output that is not its documented format: {self.stray}"
        return default

    def result(self, outcome: Outcome, reason: str | None, exit_code: int | None, *, turns: int | None = None, **extra: Any) -> AgentResult:
        """An AgentResult with the run's totals; `extra` adds the agent's subtype, text and duration."""
        by_model = self.cost_by_model
        priced = {m: c for m, c in by_model.items() if c}
        return AgentResult(
            agent=self.agent.name,
            outcome=outcome,
            reason=masked_line(reason, REASON_CHARS) if reason else None,
            exit_code=exit_code,
            model=max(priced, key=priced.__getitem__) if priced else self.model,
            cost_usd=self.cost_usd,
            provider=self.agent.provider,
            cost_by_model=by_model,
            tokens_by_model=dict(self._tokens),
            turns=turns or self.turns,
            session_id=self.session_id,
            cost_source="agent" if self._stated is not None else "tokens",
            unpriced=self.unpriced,
            **extra,
        )


# --- small shared helpers ----------------------------------------------------------------------


def json_object(text: str) -> dict[str, Any]:
    """A line that must be one JSON object with a string `type`, else MalformedOutput."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedOutput(text) from None
    if not isinstance(value, dict):
        raise MalformedOutput(text)
    return value


def _json_shaped(text: str) -> bool:
    """A line meant as JSON: an object's start, or anything that parses ("[INFO] started" is a log line)."""
    if text.startswith("{"):
        return True
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def json_array(text: str) -> list[dict[str, Any]]:
    """A line that must be one JSON array of objects, else MalformedOutput."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedOutput(text) from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MalformedOutput(text)
    return value


def count(value: Any) -> int:
    """A token count from an agent's JSON; anything else is malformed output."""
    if value is None:
        return 0
    if not within(value, MAX_TOKENS):
        raise MalformedOutput(f"token count {value!r}")
    return int(value)


def dollars(value: Any) -> float | None:
    if value is None:
        return None
    if not within(value, MAX_USD):
        raise MalformedOutput(f"cost {value!r}")
    return float(value)


def text_of(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def first_text(params: Any, keys: tuple[str, ...]) -> str | None:
    """The first of `keys` in a tool's parameters that holds text (what a person wants to see of the call)."""
    if not isinstance(params, dict):
        return None
    for key in keys:
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def stderr_tail(stderr: str) -> str:
    lines = [line for line in (stderr or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
