"""The Prometheus text exposition format (for node_exporter's textfile collector), written by `prometheus_client`.

Two kinds of metric. Over the export window (`--hours`), which slides, gauges: tasks finished, success ratio,
duration quantiles (exact, nearest rank), spend, tokens, events. Since the store began (its events' retention),
counters ending in `_total` that only grow, for `rate()` and `increase()`: attempts by outcome, attempts and
their seconds, spend. A windowed count exposed as a summary's `_count` fell as the window slid, which Prometheus reads
as a counter reset. Active alerts are the rules firing now over the alert window, evaluated at export. Metrics
without data are left out rather than written as 0.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from buildrunner.money import money
from buildrunner.store.base import now
from buildrunner.telemetry.alerts import ALERT_WINDOW_HOURS, LEVELS, AlertManager
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer, known, window

if TYPE_CHECKING:
    from buildrunner.project import Project

PREFIX = "buildrunner_"
Sample = tuple[str, dict[str, str], float]


class _Families:
    """Metric families for `prometheus_client`'s exposition writer; a family without samples is left out."""

    def __init__(self) -> None:
        self.metrics: list[Any] = []

    def family(self, name: str, kind: str, help: str, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        metric = Metric(PREFIX + name, help, kind)
        for suffix, labels, value in samples:
            metric.add_sample(PREFIX + name + suffix, labels, value)
        self.metrics.append(metric)

    def collect(self) -> Iterator[Any]:
        yield from self.metrics

    def text(self) -> str:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry).decode("utf-8")


def _totals(out: _Families, analyzer: MetricsAnalyzer, until: float) -> None:
    """The counters: everything the store holds up to now, so they only grow (until old events are pruned)."""
    everything = {"since": 0.0, "until": until}
    # Attempts, not tasks: a task's outcome can change later (a retry by hand passes what had failed), an attempt's cannot.
    by_type = {r["type"]: int(r["n"]) for r in analyzer.rows("events_by_type", everything)}
    ended = [("_total", {"outcome": outcome}, by_type[kind]) for kind, outcome in (("task_completed", "succeeded"), ("task_failed", "failed")) if kind in by_type]
    out.family("task_attempt_results", "counter", "Task attempts finished, by outcome (a failed attempt stays failed whatever its task does next).", ended)
    stats = analyzer.rows("latency_stats", everything)[0]
    n = int(stats["n"] or 0)
    if n:
        out.family("task_attempts", "counter", "Task attempts finished.", [("_total", {}, n)])
        out.family("task_attempt_seconds", "counter", "Time the finished task attempts took (with task_attempts_total: the average).",
                   [("_total", {}, float(stats["avg_ms"]) * n / 1000)])
    costs = analyzer.rows("cost_by_model", everything)
    out.family("spend_usd", "counter", "Spend by model, from the cost records.", [("_total", {"model": r["model"]}, money(float(r["cost"]))) for r in costs])


def render_textfile(project: "Project", hours: float = 24) -> str:
    """Task outcomes, success ratio, duration quantiles, cost per model, events per type, alerts; and the counters."""
    analyzer = MetricsAnalyzer(project)
    since, until = window(hours)
    m = analyzer.metrics_between(since, until, with_errors=False)
    out = _Families()
    out.family("window_hours", "gauge", "Length of the window the other metrics cover.", [("", {}, hours)])
    out.family(
        "tasks_finished",
        "gauge",
        "Tasks finished in the window by outcome (a task retried then completed counts once, as succeeded).",
        [("", {"outcome": "succeeded"}, m.succeeded_tasks), ("", {"outcome": "failed"}, m.failed_tasks)],
    )
    if m.has_data:
        out.family("task_success_ratio", "gauge", "Succeeded / finished tasks in the window.", [("", {}, m.success_rate / 100)])
    quantiles = [("", {"quantile": f"{q / 100:g}"}, v / 1000) for q, v in ((50, m.p50_latency_ms), (95, m.p95_latency_ms), (99, m.p99_latency_ms)) if known(v) is not None]
    out.family("task_duration_seconds", "gauge", "Duration of the task attempts finished in the window, by quantile (exact, nearest rank).", quantiles)
    costs = analyzer.rows("cost_by_model", {"since": since, "until": until})
    out.family("cost_usd", "gauge", "Spend in the window by model, from the cost records.", [("", {"model": r["model"]}, money(float(r["cost"]))) for r in costs])
    out.family(
        "tokens",
        "gauge",
        "Tokens in the window by model and direction.",
        [("", {"model": r["model"], "direction": d}, int(r[f"{d}_tokens"])) for r in costs for d in ("input", "output")],
    )
    by_type = analyzer.rows("events_by_type", {"since": since, "until": until})
    out.family("events", "gauge", "Events in the window by type.", [("", {"type": r["type"]}, int(r["n"])) for r in by_type])
    out.family("errors", "gauge", "Error events in the window.", [("", {}, m.error_count)])
    firing = AlertManager(project).evaluate(ALERT_WINDOW_HOURS)
    levels = {level: sum(1 for a in firing if a.level == level) for level in LEVELS}
    out.family("alerts_active", "gauge", f"Alert rules firing now (over the last {ALERT_WINDOW_HOURS} hours), by level.", [("", {"level": k}, v) for k, v in levels.items()])
    _totals(out, analyzer, until)
    out.family("export_timestamp_seconds", "gauge", "When this file was written (UTC epoch seconds).", [("", {}, now())])
    return out.text()
