"""`br telemetry`: events, metrics, alerts, performance and export."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Optional

import typer

from buildrunner.cli.common import FormatOption, ProjectOption, emit_json, project_for, show_progress, stderr, stdout
from buildrunner.cli.groups import group_example, group_help
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.project import Project

app = typer.Typer(help=group_help("telemetry"), epilog=group_example("telemetry"), no_args_is_help=True)

HoursOption = Annotated[int, typer.Option("--hours", min=1, max=24 * 3660, help="Last N hours.")]


def _note_if_disabled(proj: Project) -> None:
    """An empty summary with telemetry switched off said only "no data"."""
    if not proj.loaded.get("telemetry.enabled"):  # the flat view: building the config model would import pydantic
        source = proj.loaded.sources.get("telemetry.enabled", "config")
        stderr().print(f"note: telemetry is disabled ({source}): no events are recorded", markup=False)


@app.command()
def summary(hours: HoursOption = 24, format: FormatOption = "text", project: ProjectOption = None) -> None:
    """View telemetry metrics summary: success rate, latency, cost (by agent and model), errors, daily cost chart.

    JSON: {metrics, has_data, daily_cost, cost_by_agent_model: {agent ("api" for direct requests): {model: USD}}}.

    Example: br telemetry summary --hours 168
    """
    from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

    with project_for(project, reading=True) as proj:
        _note_if_disabled(proj)
        analyzer = MetricsAnalyzer(proj)
        metrics = analyzer.analyze(hours)
        daily = analyzer.daily_costs(min(31, max(7, math.ceil(hours / 24))))
        costs = analyzer.costs(hours)
    if format == "json":
        emit_json({"metrics": metrics, "has_data": metrics.has_data, "daily_cost": daily, "cost_by_agent_model": costs.by_agent_model})
        return
    from buildrunner.cli import telemetry_views

    telemetry_views.summary(stdout(), metrics, daily, costs)


@app.command()
def events(
    event_type: Annotated[Optional[str], typer.Option("--type", "-t", help="Only events of this type, e.g. task_failed.")] = None,
    hours: HoursOption = 24,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100_000, help="Maximum events to show.")] = 50,
    session: Annotated[Optional[str], typer.Option("--session", help="Only events of this session: its id, a unique prefix of it, or its name.")] = None,
    format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """List recent events, oldest first: the newest --limit of them (stderr says when more matched).

    Example: br telemetry events --type task_failed --hours 1
    """
    from buildrunner.telemetry.event_collector import EventCollector, check_event_type

    with project_for(project, reading=True) as proj:
        _note_if_disabled(proj)
        if event_type:
            check_event_type(proj.store, event_type)
        collector = EventCollector(proj)
        if session is not None and not collector.has_session(session):  # else a parallel session's prefix or name (exit 6: none)
            from buildrunner.parallel.session_manager import SessionManager

            session = SessionManager(proj).resolve(session)
        newest = collector.get_events(event_type=event_type, hours=hours, limit=limit + 1, session_id=session)
    found = list(reversed(newest[:limit]))
    if len(newest) > limit:
        stderr().print(
            f"note: showing the newest {limit} events; more match in the last {hours} hours (raise --limit, or narrow with --type or --session)",
            markup=False,
        )
    if format == "json":
        emit_json(found)
        return
    from buildrunner.cli import telemetry_views

    telemetry_views.events(stdout(), found, hours)


@app.command()
def alerts(
    level: Annotated[Optional[Literal["info", "warning", "critical"]], typer.Option("--level", "-l", help="Only this severity.")] = None,
    hours: HoursOption = 24,
    include_resolved: Annotated[bool, typer.Option("--all", help="Also list alerts that fired and have resolved since (with when).")] = False,
    fail_on: Annotated[
        Optional[Literal["info", "warning", "critical"]],
        typer.Option("--fail-on", help="Exit 1 when an active alert is at this level or above (for cron and CI).", show_default=False),
    ] = None,
    format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Check thresholds (success rate, latency, cost limits, lost workers) and list active alerts.

    With --fail-on LEVEL the command exits 1 when an active alert is at that level or above, after listing them.

    Example: br telemetry alerts --level critical
    """
    from buildrunner.telemetry.alerts import ALERT_WINDOW_HOURS, LEVELS, AlertManager

    with project_for(project, reading=True) as proj:
        _note_if_disabled(proj)
        manager = AlertManager(proj)
        checked = manager.check(hours)
        if hours == ALERT_WINDOW_HOURS:
            found = manager.get_alerts(level=level, include_resolved=include_resolved)
        else:
            found = [a for a in checked if level is None or a.level == level]
            stderr().print(
                f"note: evaluated over the last {hours} hours and not recorded (the alert history follows the last {ALERT_WINDOW_HOURS} hours)",
                markup=False,
            )
    if format == "json":
        emit_json([{**a.__dict__, "active": a.active} for a in found])
    else:
        from buildrunner.cli import telemetry_views

        telemetry_views.alerts(stdout(), found, include_resolved)
    if fail_on is not None:
        failing = [a for a in checked if a.active and LEVELS.index(a.level) >= LEVELS.index(fail_on)]
        if failing:
            from buildrunner.errors import TelemetryError

            raise TelemetryError(
                f"{plural(len(failing), 'active alert')} at {fail_on} or above: {failing[0].title}",
                hint="see `br telemetry alerts` for each one",
            )


@app.command()
def performance(hours: HoursOption = 24, format: FormatOption = "text", project: ProjectOption = None) -> None:
    """View performance: latency percentiles and distribution, throughput, worker CPU/memory, disk.

    Example: br telemetry performance --hours 168
    """
    from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

    with project_for(project, reading=True) as proj:
        _note_if_disabled(proj)
        perf = MetricsAnalyzer(proj).performance(hours)
    if format == "json":
        emit_json(perf)
        return
    from buildrunner.cli import telemetry_views

    telemetry_views.performance(stdout(), perf)


@app.command()
def export(
    output_file: Annotated[Optional[Path], typer.Argument(help="File to write (relative: under BR_TELEMETRY_EXPORT_DIR when set). Not used with --type otlp.", show_default=False)] = None,
    kind: Annotated[str, typer.Option("--type", "-t", help="metrics | events | costs (CSV), prometheus (textfile), otlp (send to an OTLP/HTTP collector).")] = "metrics",
    hours: HoursOption = 24,
    endpoint: Annotated[Optional[str], typer.Option("--endpoint", help="OTLP/HTTP endpoint for --type otlp (default: telemetry.otlp.endpoint or OTEL_EXPORTER_OTLP_ENDPOINT).")] = None,
    format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Export telemetry data to CSV, a Prometheus textfile, or an OTLP collector.

    Example: br telemetry export weekly-costs.csv --type costs --hours 168
    """
    from buildrunner.errors import ConfigError
    from buildrunner.telemetry.export import EXPORT_TYPES

    if kind not in EXPORT_TYPES:
        raise ConfigError(f"--type {kind!r}: unknown export type", hint=f"use one of {', '.join(EXPORT_TYPES)}")
    with project_for(project, reading=True) as proj:
        if kind == "otlp":
            from buildrunner.telemetry.otlp import OtlpExporter

            sent = OtlpExporter(proj, endpoint=endpoint).export(hours)
            if format == "json":
                emit_json(sent)
            else:
                stderr().print(f"Sent {sent.spans} spans and {sent.metric_points} metric points to {sent.endpoint}", markup=False)
                if sent.note:
                    stderr().print(f"note: {sent.note}", markup=False)
            return
        if output_file is None:
            example = f"{kind}.{'prom' if kind == 'prometheus' else 'csv'}"
            raise ConfigError(f"--type {kind}: OUTPUT_FILE is required", hint=f"e.g. br telemetry export {example} --type {kind}")
        if endpoint:
            raise ConfigError("--endpoint only applies to --type otlp", hint="drop --endpoint or use --type otlp")
        if format == "json" and str(output_file) == "-":  # stdout is the export itself: a JSON summary after it would break both
            raise ConfigError("--format json with OUTPUT_FILE -: stdout is the export", hint="drop --format json, or write the export to a file")
        from buildrunner.telemetry.export import TelemetryExporter

        exporter = TelemetryExporter(proj)
        if show_progress() and format == "text":
            from rich.progress import Progress

            with Progress(console=stderr(), transient=True) as bar:
                task = bar.add_task(f"Exporting {kind}", total=None)
                result = exporter.export(output_file, kind=kind, hours=hours, on_rows=lambda n: bar.update(task, completed=n))
        else:
            result = exporter.export(output_file, kind=kind, hours=hours)
    if format == "json":
        emit_json(result)
    else:
        from buildrunner.output import describe

        what = plural(result.rows, "line") if kind == "prometheus" else f"{plural(result.rows, 'row')} of {kind}"
        stderr().print(f"Wrote {what} to {describe(result.path)}", markup=False)


@app.command()
def report(
    output_file: Annotated[Path, typer.Argument(help="HTML file to write (relative: under BR_TELEMETRY_EXPORT_DIR when set).")],
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days of history to chart.")] = 30,
    project: ProjectOption = None,
) -> None:
    """Write a self-contained HTML report (opens offline): success rate, latency, cost per day and model.

    Example: br telemetry report telemetry.html --days 14
    """
    from contextlib import nullcontext

    from buildrunner.telemetry.html_report import write_report

    with project_for(project, reading=True) as proj, (stderr().status(f"Charting {days} days of telemetry") if show_progress() else nullcontext()):
        path = write_report(proj, output_file, days=days)
    from buildrunner.output import describe

    stderr().print(f"Wrote the telemetry report to {describe(path)}", markup=False)


@app.command()
def prune(
    days: Annotated[Optional[int], typer.Option("--days", min=0, help="Keep this many days (default: telemetry.retention_days; 0 keeps all).")] = None,
    format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Delete events older than the retention period and say how many.

    Example: br telemetry prune --days 30
    """
    from buildrunner.localdays import DAY_S
    from buildrunner.money import usd
    from buildrunner.store.base import now
    from buildrunner.telemetry.event_collector import EventCollector
    from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

    with project_for(project, reading=True) as proj:
        keep = proj.config.telemetry.retention_days if days is None else days
        # spend only events report (no cost record holds it) goes with them: the totals of those days lose it
        spend = MetricsAnalyzer(proj).event_only_spend(0.0, now() - keep * DAY_S) if keep > 0 else 0.0
        removed = EventCollector(proj).prune(keep)
    if format == "json":
        emit_json({"deleted": removed, "retention_days": keep, "spend_deleted": spend})
    elif keep == 0:
        stderr().print("Retention is 0 days (keep everything): nothing pruned")
    else:
        lost = f"; they reported {usd(spend)} of spend no cost record holds, which the totals of those days no longer count" if spend else ""
        stderr().print(f"Pruned {plural(removed, 'event')} older than {plural(keep, 'day')}{lost}")
