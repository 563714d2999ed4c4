"""The `quality` section of the config."""

from __future__ import annotations

from pydantic import Field

from buildrunner.settings_base import Section


class QualityThresholds(Section):
    security: float = Field(90, ge=0, le=100)
    testing: float = Field(80, ge=0, le=100)
    documentation: float = Field(70, ge=0, le=100)
    structure: float = Field(75, ge=0, le=100)


class QualitySettings(Section):
    thresholds: QualityThresholds = Field(default_factory=QualityThresholds)
