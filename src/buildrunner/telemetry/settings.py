"""The `telemetry` section of the config."""

from __future__ import annotations

from pydantic import Field, field_validator

from buildrunner.settings_base import Section


class TelemetryThresholds(Section):
    success_rate_warning: float = Field(80, ge=0, le=100)
    latency_warning_ms: float = Field(2000, ge=0)

    @field_validator("success_rate_warning")
    @classmethod
    def _a_percentage(cls, value: float) -> float:
        """0.8 meant 80 %: as 0.8 % the alert could never fire."""
        if 0 < value < 1:
            raise ValueError(f"is a percentage: write {value * 100:g} for {value * 100:g} %")
        return value


class OtlpSettings(Section):
    """Where `br telemetry export --type otlp` sends spans and metrics.

    Empty values fall back to the standard `OTEL_EXPORTER_OTLP_*` variables.
    """

    endpoint: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    service_name: str = "buildrunner"
    timeout_s: float = Field(10, gt=0, le=300)


class TelemetrySettings(Section):
    enabled: bool = True
    storage_dir: str = Field(
        ".buildrunner/telemetry",
        description="Accepted for the spec's config format; events live in the store (.buildrunner/buildrunner.db or BR_DATABASE_URL).",
    )
    export_dir: str | None = None
    retention_days: int = Field(90, ge=0, description="Events older than this are pruned; 0 keeps them forever.")
    thresholds: TelemetryThresholds = Field(default_factory=TelemetryThresholds)
    otlp: OtlpSettings = Field(default_factory=OtlpSettings)
