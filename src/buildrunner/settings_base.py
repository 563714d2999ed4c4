"""The base every config section model derives from: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section; `extra="forbid"` turns a typo into a "did you mean" error."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
