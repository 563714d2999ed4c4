"""The `parallel` section of the config."""

from __future__ import annotations

from pydantic import Field

from buildrunner.settings_base import Section


class ParallelSettings(Section):
    enabled: bool = True
    default_workers: int = Field(3, ge=1)
    heartbeat_timeout: float = Field(30, gt=0)
