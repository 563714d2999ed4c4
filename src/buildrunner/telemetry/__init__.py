"""BuildRunner telemetry: events, metrics, alerts and exports, all from the store."""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "EventCollector": "event_collector",
        "MetricsAnalyzer": "metrics_analyzer",
        "TelemetryMetrics": "metrics_analyzer",
        "NO_DATA": "metrics_analyzer",
        "NoData": "metrics_analyzer",
        "known": "metrics_analyzer",
        "ErrorSummary": "metrics_analyzer",
        "PerformanceMetrics": "metrics_analyzer",
        "AlertManager": "alerts",
        "Alert": "alerts",
        "TelemetryExporter": "export",
        "OtlpExporter": "otlp",
    },
)
