"""The `telemetry` section of the config."""

from __future__ import annotations

from pydantic import Field

from buildrunner.settings_base import Section


class TelemetryThresholds(Section):
    success_rate_warning: float = Field(80, ge=0, le=100)
    latency_warning_ms: float = Field(2000, ge=0)


class TelemetrySettings(Section):
    enabled: bool = True
    storage_dir: str = ".buildrunner/telemetry"
    export_dir: str | None = None
    thresholds: TelemetryThresholds = Field(default_factory=TelemetryThresholds)
