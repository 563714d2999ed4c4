"""The base every config section model derives from (unknown keys are errors), and the plugin opt-out they are built under."""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

PLUGINS_ENV = "PYDANTIC_DISABLE_PLUGINS"


@contextmanager
def pydantic_plugins_off() -> Iterator[None]:
    """Build models with pydantic's plugins off, as Typer builds its own.

    Pydantic looks for plugins (logfire, ...) by reading the metadata of every installed
    package when the first model is built: about 20 ms of every `br` command, for internal
    config models no plugin should instrument. The variable is restored at once, so nothing
    started later (workers, task commands) inherits it.
    """
    before = os.environ.get(PLUGINS_ENV)
    os.environ[PLUGINS_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[PLUGINS_ENV]
        else:
            os.environ[PLUGINS_ENV] = before


with pydantic_plugins_off():

    class Section(BaseModel):
        """A config section; `extra="forbid"` turns a typo into a "did you mean" error."""

        model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

        @field_validator("*", mode="before")
        @classmethod
        def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
            """`"default_workers": true` is a mistake, not 1 worker (pydantic's lax mode would take it as 1)."""
            annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
            if _numbers_only(annotation) and (isinstance(value, bool) or (isinstance(value, dict) and any(isinstance(v, bool) for v in value.values()))):
                raise PydanticCustomError("number_type", "input should be a number")
            return value


def _numbers_only(annotation: Any) -> bool:
    """Whether a field holds numbers (int or float, optional, or a dict of them) and never a bool."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(_numbers_only(a) for a in args)
    if origin is dict:
        return _numbers_only(typing.get_args(annotation)[1])
    return annotation in (int, float)
