"""The `agents` section of the config: which coding agent runs prompt tasks, and how.

Each built-in agent (`claude`, `codex`, `gemini`) has a command template and a model for
every routing tier; `custom` adds agents of your own that speak one of the three output
formats. The prompt never appears in a template: it is sent on standard input (or, for a
custom agent that asks for it, as the last argument after `--`).
"""

from __future__ import annotations

import re
import shlex
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from buildrunner.settings_base import Section

BUILTIN_AGENTS: tuple[str, ...] = ("claude", "codex", "gemini")
LEGACY_NAME = "agent_command"  # the agent of a plan's (or parallel.) agent_command template
Format = Literal["claude", "codex", "gemini"]
PromptMode = Literal["stdin", "argument"]
PLACEHOLDERS: tuple[str, ...] = ("{model_id}", "{model}")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def check_template(template: str) -> str:
    """A command template must split into words like a shell line and must not hold the prompt."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words ({exc}); check its quotes") from None
    if not words:
        raise ValueError("is empty; give the program to run, e.g. 'claude'")
    if "\0" in template:
        raise ValueError("contains a NUL character")
    if "{prompt}" in template:
        raise ValueError("must not contain {prompt}: the prompt is sent on standard input, never put in the command")
    return template


class TierModels(Section):
    """The concrete model id an agent runs for each routing tier."""

    haiku: Optional[str] = Field(None, min_length=1, description="simple tasks")
    sonnet: Optional[str] = Field(None, min_length=1, description="moderate tasks")
    opus: Optional[str] = Field(None, min_length=1, description="complex and critical tasks")


class AgentSettings(Section):
    """A built-in agent: the command that starts it (the adapter adds its output format, spend cap and the prompt)."""

    command: str = Field(min_length=1, description="program and options; {model_id} and {model} (the tier) are filled in")
    models: TierModels = Field(default_factory=TierModels)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        return check_template(value)


class CustomAgentSettings(AgentSettings):
    """An agent of your own: the whole command line, and which built-in agent's output format it prints."""

    format: Format = Field(description="whose machine-readable output it prints: claude (json or stream-json), codex (--json) or gemini (json or stream-json)")
    prompt: PromptMode = Field("stdin", description="stdin, or argument: the prompt as the last argument, after `--`")
    models: TierModels = Field(default_factory=TierModels, description="unset tiers use the routing tier's model id")


class ClaudeSettings(AgentSettings):
    # Models unset: Claude follows routing.models.<tier>.model_id, so one place names them.
    command: str = Field("claude --model {model_id} --permission-mode acceptEdits", min_length=1)


class CodexModels(TierModels):
    haiku: Optional[str] = Field("gpt-5.1-codex-mini", min_length=1)
    sonnet: Optional[str] = Field("gpt-5.1-codex", min_length=1)
    opus: Optional[str] = Field("gpt-5.3-codex", min_length=1)


class CodexSettings(AgentSettings):
    command: str = Field("codex exec --model {model_id} --sandbox workspace-write --skip-git-repo-check", min_length=1)
    models: CodexModels = Field(default_factory=CodexModels)


class GeminiModels(TierModels):
    haiku: Optional[str] = Field("gemini-2.5-flash-lite", min_length=1)
    sonnet: Optional[str] = Field("gemini-2.5-flash", min_length=1)
    opus: Optional[str] = Field("gemini-2.5-pro", min_length=1)


class GeminiSettings(AgentSettings):
    command: str = Field("gemini --model {model_id} --approval-mode auto_edit", min_length=1)
    models: GeminiModels = Field(default_factory=GeminiModels)


class AgentsSettings(Section):
    default: str = Field("claude", description="the agent for prompt tasks whose task and plan name none")
    claude: ClaudeSettings = Field(default_factory=ClaudeSettings)
    codex: CodexSettings = Field(default_factory=CodexSettings)
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    custom: dict[str, CustomAgentSettings] = Field(default_factory=dict, description="name -> your own agent")

    @field_validator("custom")
    @classmethod
    def _custom_names(cls, value: dict[str, CustomAgentSettings]) -> dict[str, CustomAgentSettings]:
        for name in value:
            if name in BUILTIN_AGENTS:
                raise ValueError(f"'{name}' is a built-in agent; configure it under agents.{name} or pick another name")
            if not _NAME.match(name):
                raise ValueError(f"name {name!r}: use lower-case letters, digits, '-' and '_', starting with a letter")
        return value

    @model_validator(mode="after")
    def _default_known(self) -> "AgentsSettings":
        if self.default not in self.names():
            raise ValueError(f"default {self.default!r} is not an agent; use one of: {', '.join(self.names())}")
        return self

    def names(self) -> list[str]:
        return [*BUILTIN_AGENTS, *self.custom]
