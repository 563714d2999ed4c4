"""`br telemetry export`: metrics, events or costs as CSV, or a Prometheus textfile.

Output goes through `buildrunner.output` (`-` is standard output; a device, FIFO or symlink
keeps its type; a regular file is replaced whole or not at all). A relative path goes under
`telemetry.export_dir` (`BR_TELEMETRY_EXPORT_DIR`) when set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import ConfigError
from buildrunner.localdays import DAY_S
from buildrunner.output import csv_cell, is_stdout, write_output
from buildrunner.routing.cost_tracker import CSV_HEADER, csv_row
from buildrunner.telemetry.event_collector import iso
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer, known, window

if TYPE_CHECKING:
    from buildrunner.project import Project

EXPORT_TYPES: tuple[str, ...] = ("metrics", "events", "costs", "prometheus", "otlp")
PAGE = 10_000

METRICS_COLUMNS = (
    "day", "finished_tasks", "succeeded_tasks", "failed_tasks", "success_rate", "avg_latency_ms",
    "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "total_cost", "error_count", "event_count",
)
EVENT_COLUMNS = ("id", "timestamp", "type", "session_id", "task_id", "worker_id", "duration_ms", "cost", "error", "message", "metadata")


@dataclass
class ExportResult:
    path: Path
    kind: str
    rows: int


def resolve_output(project: "Project", file: str | Path) -> Path:
    """Where `file` goes: as given when absolute (or `-`, standard output), else under the export dir (when set) or the cwd."""
    path = Path(file).expanduser()
    if path.is_absolute() or is_stdout(file):
        return path
    export_dir = project.config.telemetry.export_dir
    if export_dir:
        base = Path(export_dir).expanduser()
        if not base.is_absolute():
            base = project.paths.root / base
        try:  # the configured export folder is made when first used (a folder named on the command line is not)
            base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"telemetry.export_dir {base}: cannot create the folder ({exc.strerror})", hint="set it to a writable folder") from None
        return base / path
    return Path.cwd() / path


def _csv_lines(header: tuple[str, ...], rows: Iterator[tuple[object, ...]], counter: list[int], on_rows: Callable[[int], None] | None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        counter[0] += 1
        if buffer.tell() > 1 << 16:
            if on_rows:
                on_rows(counter[0])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class TelemetryExporter:
    """Write the store's telemetry as files other tools read."""

    def __init__(self, project: "Project | None" = None) -> None:
        self.analyzer = MetricsAnalyzer(project)
        self.project = self.analyzer.project

    def export(self, file: str | Path, kind: str = "metrics", hours: float = 24, on_rows: Callable[[int], None] | None = None) -> ExportResult:
        """Export `kind` over the last `hours` to `file`; returns where and how many rows.

        `on_rows(n)` is told the running row count as pages are written (for a progress bar).
        """
        if kind not in EXPORT_TYPES or kind == "otlp":
            raise ConfigError(
                f"--type {kind!r}: unknown export type",
                hint="use metrics, events, costs or prometheus (otlp sends to a collector and takes no file)",
            )
        window(hours)
        path = resolve_output(self.project, file)
        counter = [0]
        if kind == "prometheus":
            from buildrunner.telemetry.prometheus import render_textfile  # prometheus_client (about 45 ms) for this kind only

            text = render_textfile(self.project, hours)
            write_output(path, [text])
            return ExportResult(path, kind, text.count("\n"))
        header, rows = {"metrics": (METRICS_COLUMNS, self._metric_rows), "events": (EVENT_COLUMNS, self._event_rows), "costs": (CSV_HEADER, self._cost_rows)}[kind]
        write_output(path, _csv_lines(header, rows(hours), counter, on_rows))
        return ExportResult(path, kind, counter[0])

    def _metric_rows(self, hours: float) -> Iterator[tuple[object, ...]]:
        """One row per local day that the window touches (the first day clipped to the window)."""
        since, until = window(hours)
        days = int((until - since) // DAY_S) + 2
        for day, m in self.analyzer.get_trends(min(days, 3660)).items():
            if m.until <= since:
                continue
            if m.since < since:
                m = self.analyzer.metrics_between(since, m.until, with_errors=False)
            yield (
                day, m.finished_tasks, m.succeeded_tasks, m.failed_tasks,
                None if known(m.success_rate) is None else round(m.success_rate, 2),
                *(known(v) for v in (m.avg_latency_ms, m.p50_latency_ms, m.p95_latency_ms, m.p99_latency_ms)),
                round(m.total_cost, 6), m.error_count, m.event_count,
            )

    def _paged(self, query: str, hours: float) -> Iterator[dict]:
        """Rows of the named page query in the window, oldest first, a page at a time (keyset on id)."""
        since, until = window(hours)
        last = -1
        while True:
            page = self.analyzer.rows(query, {"since": since, "until": until, "after": last, "page": PAGE})
            yield from page
            if len(page) < PAGE:
                return
            last = page[-1]["id"]

    def _event_rows(self, hours: float) -> Iterator[tuple[object, ...]]:
        for r in self._paged("events_page", hours):
            yield (r["id"], iso(r["ts"]), r["type"], r["session_id"], r["task_id"], r["worker_id"], r["duration_ms"], r["cost"], r["error"], r["message"], r["data"])

    def _cost_rows(self, hours: float) -> Iterator[tuple[object, ...]]:
        for r in self._paged("cost_records_page", hours):
            yield csv_row(r)
