"""The base every config section model derives from (unknown keys are errors), and the plugin opt-out they are built under."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict

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
