"""Finding an agent by name in the config, the legacy `agent_command` template, and the install check."""

from __future__ import annotations

import os
import shlex
import shutil
from typing import TYPE_CHECKING

from buildrunner.agents.base import Agent
from buildrunner.agents.claude import ClaudeCode
from buildrunner.agents.codex import Codex
from buildrunner.agents.gemini import GeminiCli
from buildrunner.agents.pricing import TokenCounts, token_cost
from buildrunner.agents.settings import BUILTIN_AGENTS, LEGACY_NAME, TierModels, check_template
from buildrunner.errors import APIError, ConfigError

if TYPE_CHECKING:
    from buildrunner.config import Config

ADAPTERS: dict[str, type[Agent]] = {"claude": ClaudeCode, "codex": Codex, "gemini": GeminiCli}
TIERS: tuple[str, ...] = ("haiku", "sonnet", "opus")


def _tiers(models: TierModels, fallback: "Config | None") -> dict[str, str]:
    """Tier -> model id; unset tiers take the routing tier's model id (Claude's, from routing.models)."""
    out: dict[str, str] = {}
    for tier in TIERS:
        chosen = getattr(models, tier)
        if chosen is None and fallback is not None:
            chosen = getattr(fallback.routing.models, tier).model_id
        if chosen:
            out[tier] = chosen
    return out


def get_agent(name: str | None, config: "Config") -> Agent:
    """The agent called `name` in `config` (None: `agents.default`)."""
    settings = config.agents
    name = settings.default if name is None else name
    if name in BUILTIN_AGENTS:
        builtin = getattr(settings, name)
        return ADAPTERS[name](name, builtin.command, _tiers(builtin.models, config if name == "claude" else None))
    custom = settings.custom.get(name)
    if custom is None:
        raise ConfigError(f"unknown agent {name!r}", hint=f"use one of: {', '.join(settings.names())} (custom agents go under agents.custom)")
    return ADAPTERS[custom.format](name, custom.command, _tiers(custom.models, config), prompt_mode=custom.prompt, custom=True)


def legacy_agent(template: str, config: "Config", *, name: str = LEGACY_NAME) -> Agent:
    """`parallel.agent_command` (or a plan's `agent_command`) as a custom agent speaking Claude Code's JSON.

    The `{prompt}` word is dropped and the prompt goes last, after `--`, so it stays one
    argument that no option parser reads; `{model_id}` and `{model}` are filled as before.
    """
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"{name} {template!r}: cannot be split into words ({exc})", hint="check its quotes") from None
    if any("{prompt}" in word and word != "{prompt}" for word in words):
        raise ConfigError(f"{name} {template!r}: {{prompt}} must be a word of its own", hint="write it as -p {prompt}, not inside another word")
    command = shlex.join(word for word in words if word != "{prompt}")
    try:
        check_template(command)
    except ValueError as exc:
        raise ConfigError(f"{name} {template!r}: {exc}") from None
    return ClaudeCode(name, command, _tiers(TierModels(), config), prompt_mode="argument", custom=True)


def reading_agent(name: str, config: "Config") -> Agent:
    """The agent whose reader parses an attempt's log: `name`'s, or Claude Code's for a plan's `agent_command`."""
    return legacy_agent("claude", config) if name == LEGACY_NAME else get_agent(name, config)


def require_installed(agent: Agent, path: str | None = None) -> str:
    """The agent's program resolved on `path` (default PATH); APIError (exit 5) saying how to install it."""
    program = agent.program
    if os.sep in program:
        found = program if os.access(program, os.X_OK) and os.path.isfile(program) else None
    else:
        found = shutil.which(program, path=path)
    if found:
        return found
    if agent.custom:
        hint = f"install it or fix agents.custom.{agent.name}.command" if agent.name != LEGACY_NAME else "install it or fix parallel.agent_command"
    else:
        hint = f"install it with `{agent.install_hint}`, or set agents.{agent.name}.command in .buildrunner/config.json"
    raise APIError(f"agent {agent.name}: '{program}' is not on PATH", hint=hint)


def unpriced_models(agent: Agent) -> list[str]:
    """The agent's tier models genai-prices has no price for (their running cost would read $0)."""
    probe = TokenCounts(input=1)
    return [model for model in dict.fromkeys(agent.models.values()) if token_cost(agent.provider, model, probe) is None]
