"""BuildRunner telemetry: events, metrics, alerts and exports, all from the store."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "EventCollector": "event_collector",
    "MetricsAnalyzer": "metrics_analyzer",
    "TelemetryMetrics": "metrics_analyzer",
    "ErrorSummary": "metrics_analyzer",
    "PerformanceMetrics": "metrics_analyzer",
    "AlertManager": "alerts",
    "Alert": "alerts",
    "TelemetryExporter": "export",
    "OtlpExporter": "otlp",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'buildrunner.telemetry' has no attribute {name!r}")
    return getattr(import_module(f"buildrunner.telemetry.{module}"), name)
