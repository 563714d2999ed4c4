"""The effective configuration: defaults < config file < environment < flags.

Each capability owns its section model (`<capability>/settings.py`); this module
only composes them, reads the file and the environment, and explains errors in
one line that names the file or variable, the key and the fix.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, Field, ValidationError

from buildrunner.errors import ConfigError
from buildrunner.paths import ProjectPaths
from buildrunner.settings_base import Section, pydantic_plugins_off

with pydantic_plugins_off():  # the sections' models are built as these modules load
    from buildrunner.agents.settings import AgentsSettings
    from buildrunner.parallel.settings import ParallelSettings
    from buildrunner.quality.settings import QualitySettings
    from buildrunner.routing.settings import RoutingSettings
    from buildrunner.security.settings import SecuritySettings
    from buildrunner.telemetry.settings import TelemetrySettings


with pydantic_plugins_off():

    class Config(Section):
        """`.buildrunner/config.json`, all sections."""

        routing: RoutingSettings = Field(default_factory=RoutingSettings)
        security: SecuritySettings = Field(default_factory=SecuritySettings)
        telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
        parallel: ParallelSettings = Field(default_factory=ParallelSettings)
        quality: QualitySettings = Field(default_factory=QualitySettings)
        agents: AgentsSettings = Field(default_factory=AgentsSettings)


def _parse_float(var: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{var}={raw!r}: not a number", hint=f"set {var} to a number such as 10.00, or unset it") from None


def _parse_bool(var: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{var}={raw!r}: not a boolean", hint=f"set {var} to true or false, or unset it")


def _parse_str(var: str, raw: str) -> str:
    return raw


# Environment variable -> (config key path, parser). The spec's variables.
ENV_OVERRIDES: dict[str, tuple[tuple[str, ...], Callable[[str, str], Any]]] = {
    "BR_COST_LIMIT_DAILY": (("routing", "cost_limits", "daily"), _parse_float),
    "BR_COST_LIMIT_WEEKLY": (("routing", "cost_limits", "weekly"), _parse_float),
    "BR_TELEMETRY_ENABLED": (("telemetry", "enabled"), _parse_bool),
    "BR_TELEMETRY_EXPORT_DIR": (("telemetry", "export_dir"), _parse_str),
}


@dataclass
class LoadedConfig:
    """The effective config, where each value came from ("default", the file, or an env var),
    and the built-in default of each value that differs from it (`changed`: a file written by
    `br init` repeats every default, so its keys alone do not say what a user changed)."""

    config: Config
    paths: ProjectPaths
    sources: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    @cached_property
    def changed(self) -> dict[str, Any]:
        """Dotted key -> built-in default, for every value that differs from it."""
        defaults = _flatten(default_config_dict())
        return {key: defaults.get(key) for key, value in self.values().items() if key not in defaults or defaults[key] != value}

    def values(self) -> dict[str, Any]:
        """Every key (dotted) with its effective value, in `sources` order."""
        return _flatten(self.as_dict())


def _flatten(node: Any, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Dotted key -> leaf value (an empty object is a leaf)."""
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, (*prefix, key)))
        return out
    return {".".join(prefix): node}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})", hint="check the file's permissions and encoding") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="fix the syntax or run `br init --force` to rewrite the defaults",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object", hint='start the file with "{"')
    return data


def _set_path(data: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _has_path(data: dict[str, Any], keys: tuple[str, ...]) -> bool:
    node: Any = data
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The section model that owns the last key of `loc`, for "did you mean"."""
    current: type[BaseModel] = model
    for key in loc[:-1]:
        info = current.model_fields.get(str(key))
        annotation = getattr(info, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        current = annotation
    return current


def _explain(exc: ValidationError, origin: str, env_keys: dict[tuple[str, ...], str]) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(str(part) for part in err["loc"])
    key = ".".join(loc)
    source = env_keys.get(loc, origin)
    if err["type"] == "extra_forbidden":
        owner = _model_at(Config, loc)
        known = list(owner.model_fields) if owner else []
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(known)}"
        return ConfigError(f"{source}: unknown key '{key}'", hint=hint)
    got = err.get("input")
    return ConfigError(
        f"{source}: {key}: {err['msg'].lower()}, got {json.dumps(got) if not isinstance(got, dict) else 'an object'}",
        hint="fix the value or remove the key to use the default",
    )


def load_config(paths: ProjectPaths | None = None, environ: dict[str, str] | None = None) -> LoadedConfig:
    """Read defaults, the config file and the environment; raise ConfigError on any bad value."""
    paths = paths or ProjectPaths.discover()
    env = os.environ if environ is None else environ
    config_path = paths.config_file
    if "BR_CONFIG_FILE" in env and not config_path.is_file():
        raise ConfigError(f"BR_CONFIG_FILE={env['BR_CONFIG_FILE']}: no such file", hint="point it at an existing config.json or unset it")
    file_data = _read_file(config_path)
    data = json.loads(json.dumps(file_data))
    env_keys: dict[tuple[str, ...], str] = {}
    for var, (keys, parse) in ENV_OVERRIDES.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        _set_path(data, keys, parse(var, raw))
        env_keys[keys] = var
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, str(config_path), env_keys) from None
    sources: dict[str, str] = {}
    _collect_sources(config.model_dump(mode="json"), (), file_data, env_keys, str(config_path), sources)
    return LoadedConfig(config=config, paths=paths, sources=sources)


def _collect_sources(
    node: Any,
    prefix: tuple[str, ...],
    file_data: dict[str, Any],
    env_keys: dict[tuple[str, ...], str],
    origin: str,
    out: dict[str, str],
) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _collect_sources(value, (*prefix, key), file_data, env_keys, origin, out)
        return
    if prefix in env_keys:
        out[".".join(prefix)] = f"env {env_keys[prefix]}"
    elif _has_path(file_data, prefix):
        out[".".join(prefix)] = origin
    else:
        out[".".join(prefix)] = "default"


def default_config_dict() -> dict[str, Any]:
    """The defaults as written by `br init`."""
    return Config().model_dump(mode="json")
