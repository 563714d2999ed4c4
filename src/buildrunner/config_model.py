"""The config as pydantic models: the section models composed, and their errors in one line.

The models are where every default and constraint is written. `buildrunner.config` loads
without them when the file and the environment set nothing but defaults; it uses them to
validate anything else, and for the typed `Config`. The defaults are also kept as JSON in
`config_defaults.json` (for that fast path); after changing a default, rewrite it with
`python -m buildrunner.config_model` (a test checks the two agree).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from buildrunner.config import DEFAULTS_FILE
from buildrunner.errors import ConfigError
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


def validate(data: dict[str, Any], origin: str, env_keys: dict[tuple[str, ...], str]) -> Config:
    """`data` as a `Config`; a bad value is a ConfigError naming `origin` (the file) or the variable that set it."""
    try:  # strict, as JSON: "yes" is not true and "10" not 10 (an env value arrives already parsed to its type)
        return Config.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise _explain(exc, origin, env_keys) from None


def defaults_json() -> str:
    """The models' defaults as `config_defaults.json` holds them."""
    return json.dumps(Config().model_dump(mode="json"), indent=2) + "\n"


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
    if err["type"] == "value_error":  # our own validators' words: no "value error" prefix; a list or object they name the part of
        shown = f", got {json.dumps(got)}" if isinstance(got, (str, int, float)) else ""
        return ConfigError(f"{source}: {key}: {err['ctx']['error']}{shown}", hint="fix the value or remove the key to use the default")
    return ConfigError(
        f"{source}: {key}: {err['msg'].lower()}, got {json.dumps(got) if not isinstance(got, dict) else 'an object'}",
        hint="fix the value or remove the key to use the default",
    )


if __name__ == "__main__":
    DEFAULTS_FILE.write_text(defaults_json(), encoding="utf-8")
