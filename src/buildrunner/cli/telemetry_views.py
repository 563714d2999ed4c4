"""Text rendering for `br telemetry`: the spec's layouts plus terminal charts (bars, sparklines).

Imported by the commands when they run, so Rich loads only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from buildrunner.cli.common import local_time, printable
from buildrunner.money import usd
from buildrunner.telemetry.metrics_analyzer import known

if TYPE_CHECKING:
    from buildrunner.telemetry.alerts import Alert
    from buildrunner.telemetry.metrics_analyzer import CostBreakdown, PerformanceMetrics, TelemetryMetrics

SPARKS = "▁▂▃▄▅▆▇█"
BAR_WIDTH = 30
LEVEL_MARKS = {"info": "ℹ️ ", "warning": "⚠️ ", "critical": "🔴"}
LEVEL_STYLES = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


def period(hours: float) -> str:
    return f"Last {hours:g} Hour{'s' if hours != 1 else ''}"


def ms(value: float | None) -> str:
    return "no data" if known(value) is None else f"{value:.0f}ms"


def size(n: int) -> str:
    """Bytes for people: 148 KB, 245.0 MB, 1.2 GB."""
    if n < 1024:
        return f"{n} B"
    if n < 1024**2:
        return f"{n / 1024:.0f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.1f} GB"


def sparkline(values: list[float]) -> str:
    """One character per value, scaled to the largest (blank-ish floor for zero)."""
    top = max(values, default=0)
    if top <= 0:
        return SPARKS[0] * len(values)
    return "".join(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1) + 0.5))] for v in values)


def bar_chart(console: Console, rows: list[tuple[str, float, str]], style: str = "cyan") -> None:
    """Labelled horizontal bars: (label, value, shown value)."""
    top = max((value for _, value, _ in rows), default=0)
    width = max((len(label) for label, _, _ in rows), default=0)
    for label, value, shown in rows:
        cells = int(round(value / top * BAR_WIDTH)) if top > 0 else 0
        line = Text(f"  {label:<{width}} ")
        line.append("█" * cells or "▏", style=style)
        line.append(f" {shown}")
        console.print(line)


def summary(console: Console, m: "TelemetryMetrics", daily_cost: dict[str, float], costs: "CostBreakdown") -> None:
    console.print(f"Telemetry Summary ({period(m.period_hours)})\n")
    if not m.has_data:
        console.print("Success Rate: no data (no finished tasks)")
    else:
        console.print(f"Success Rate: {m.success_rate:.0f}% ({m.succeeded_tasks}/{m.finished_tasks} tasks)")
    console.print(f"Average Latency: {ms(m.avg_latency_ms)}")
    if known(m.p50_latency_ms) is not None:
        console.print(f"Latency P50/P95/P99: {ms(m.p50_latency_ms)} / {ms(m.p95_latency_ms)} / {ms(m.p99_latency_ms)}")
    console.print(f"Total Cost: {usd(m.total_cost)}")
    for agent, models in sorted(costs.by_agent_model.items()):
        for model, cost in sorted(models.items(), key=lambda item: -item[1]):
            console.print(f"  {agent} · {model}: {usd(cost)}")
    console.print(f"Error Count: {m.error_count}")
    console.print(f"Event Count: {m.event_count}")
    if m.top_errors:
        console.print("\nTop Errors:")
        for err in m.top_errors:
            console.print(f"  • {escape(printable(err.example if err.count == 1 else err.message))} ({err.count} time{'s' if err.count != 1 else ''})")
    if any(daily_cost.values()):
        console.print(f"\nDaily Cost (last {len(daily_cost)} days):")
        bar_chart(console, [(day, cost, usd(cost)) for day, cost in daily_cost.items()], style="green")


def event_detail(event: dict[str, Any]) -> str:
    """The spec's last column: what happened, per event type."""
    meta = event.get("metadata") or {}
    etype = event["type"]
    if etype == "task_completed" and event.get("duration_ms") is not None:
        duration = event["duration_ms"]
        shown = f"{duration:.0f}ms" if duration < 1000 else f"{duration / 1000:.0f}s"
        return f"Duration: {shown}" + (f", {usd(event['cost'])}" if event.get("cost") else "")
    if etype == "task_retry" and meta.get("attempt") is not None:
        return f"Attempt {meta['attempt']}" + (f"/{meta['max_attempts']}" if meta.get("max_attempts") is not None else "")
    if event.get("error"):
        return ("Skipped: " if etype == "task_skipped" else "Error: ") + event["error"]
    if etype == "model_selected" and "model" in meta:
        estimate = event.get("cost") if event.get("cost") is not None else meta.get("estimated_cost")
        return f"Model: {meta['model']}" + (f" (est. {usd(float(estimate))})" if estimate is not None else "")
    if event.get("message"):
        return event["message"]
    return ", ".join(f"{k}={v}" for k, v in meta.items())


def events(console: Console, items: list[dict[str, Any]], hours: float) -> None:
    console.print(f"Recent Events ({period(hours)})\n")
    if not items:
        console.print("No events in this window.")
        return
    width = max(17, *(len(e["type"]) for e in items))
    for e in items:
        subject = e.get("task_id") or e.get("worker_id") or e.get("session_id") or "-"
        line = f"{local_time(e['ts'])} | {e['type']:<{width}} | {subject} | {event_detail(e)}"
        console.print(escape(printable(line.splitlines()[0] if line else line)))


def _value(alert: "Alert", value: float | None) -> str:
    if value is None:
        return "-"
    if alert.unit == "$":
        return usd(value)
    if alert.unit == "%":
        return f"{value:.0f}%"
    return f"{value:.0f}{alert.unit}"


def alerts(console: Console, items: list["Alert"], include_resolved: bool = False) -> None:
    console.print("Alerts (active and resolved)\n" if include_resolved else "Active Alerts\n")
    if not items:
        console.print("No alerts." if include_resolved else "No active alerts.")
        return
    for a in items:
        console.print(f"{LEVEL_MARKS[a.level]} [{LEVEL_STYLES[a.level]}]{a.level.upper()}[/]: {escape(printable(a.title))}", markup=True)
        console.print(f"  Current: {_value(a, a.current_value)}")
        if a.threshold is not None:
            console.print(f"  Threshold: {_value(a, a.threshold)}")
        if a.message:
            console.print(f"  {escape(printable(a.message))}")
        console.print(f"  First triggered: {local_time(a.first_triggered)}")
        console.print(f"  Last triggered: {local_time(a.last_triggered)}" + ("" if a.active else f"\n  Resolved: {local_time(a.resolved_at)}") + "\n")


def performance(console: Console, p: "PerformanceMetrics") -> None:
    console.print(f"Performance Metrics ({period(p.period_hours)})\n")
    console.print("Latency Percentiles:")
    console.print(f"  P50: {ms(p.p50_latency_ms)}")
    console.print(f"  P95: {ms(p.p95_latency_ms)}")
    console.print(f"  P99: {ms(p.p99_latency_ms)}")
    if any(b.count for b in p.latency_histogram):
        console.print("\nLatency Distribution:")
        lower = "0"
        rows = []
        for bucket in p.latency_histogram:
            upper = "∞" if bucket.upper_ms is None else _short_ms(bucket.upper_ms)
            rows.append((f"{lower}–{upper}", float(bucket.count), str(bucket.count)))
            lower = upper
        while rows and rows[-1][1] == 0:
            rows.pop()
        bar_chart(console, rows, style="magenta")
    console.print("\nThroughput:")
    console.print(f"  Tasks/hour: {p.tasks_per_hour:.1f}")
    console.print(f"  Events/hour: {p.events_per_hour:.1f}")
    if any(p.hourly_attempts):
        recent = p.hourly_attempts[-72:]
        console.print(f"  Finished attempts, hourly: {sparkline([float(v) for v in recent])} (last {len(recent)} h, max {max(recent)})")
    console.print("\nResource Usage:")
    if p.workers:
        workers = f"{p.workers} worker{'s' if p.workers != 1 else ''}"
        cpu = f"{p.cpu_level} ({p.cpu_percent:.0f}% of a core per worker, {p.cpu_seconds:.0f} CPU-s over {workers})" if p.cpu_percent is not None else p.cpu_level
        console.print(f"  CPU: {cpu}")
        console.print(f"  Memory: {size(p.peak_memory_bytes)} (peak worker RSS)")
    else:
        console.print("  CPU: no data (no workers ran in this window)")
        console.print("  Memory: no data")
    console.print(f"  Disk: {size(p.disk_bytes)}")


def _short_ms(value: float) -> str:
    if value >= 60_000:
        return f"{value / 60_000:g}m"
    if value >= 1000:
        return f"{value / 1000:g}s"
    return f"{value:g}ms"
