"""`br telemetry export`: metrics, events or costs as CSV, or a Prometheus textfile.

Files are written to a temporary sibling and renamed into place, so a failed export
never leaves half a file (and a Prometheus textfile collector never reads one).
A relative path goes under `telemetry.export_dir` (`BR_TELEMETRY_EXPORT_DIR`) when set.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import ConfigError, TelemetryError
from buildrunner.telemetry.event_collector import iso
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer, window

if TYPE_CHECKING:
    from buildrunner.project import Project

EXPORT_TYPES: tuple[str, ...] = ("metrics", "events", "costs", "prometheus", "otlp")
PAGE = 10_000

METRICS_COLUMNS = (
    "day", "finished_tasks", "succeeded_tasks", "failed_tasks", "success_rate", "avg_latency_ms",
    "p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "total_cost", "error_count", "event_count",
)
EVENT_COLUMNS = ("id", "timestamp", "type", "session_id", "task_id", "worker_id", "duration_ms", "cost", "error", "message", "metadata")
COST_COLUMNS = (
    "id", "timestamp", "model", "model_id", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost", "latency_ms", "session_id", "task_id", "source",
)


@dataclass
class ExportResult:
    path: Path
    kind: str
    rows: int


def resolve_output(project: "Project", file: str | Path) -> Path:
    """Where `file` goes: as given when absolute, else under the export dir (when set) or the cwd."""
    path = Path(file).expanduser()
    if path.is_absolute():
        return path
    export_dir = project.config.telemetry.export_dir
    if export_dir:
        base = Path(export_dir).expanduser()
        if not base.is_absolute():
            base = project.paths.root / base
        return base / path
    return Path.cwd() / path


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write(path: Path, chunks: Iterator[str]) -> None:
    """Write `chunks` to a temporary sibling, then rename it over `path` (all or nothing)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TelemetryError(f"{path.parent}: cannot create the folder ({exc.strerror})", hint="choose a writable location") from None
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder", hint="give a file name, e.g. metrics.csv")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise TelemetryError(f"{path}: cannot write here ({exc.strerror})", hint="choose a writable location") from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise TelemetryError(f"{path}: writing failed ({exc.strerror}); nothing was written", hint="check free space and permissions") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_lines(header: tuple[str, ...], rows: Iterator[tuple[object, ...]], counter: list[int], on_rows: Callable[[int], None] | None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
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
            from buildrunner.telemetry.prometheus import render_textfile

            text = render_textfile(self.project, hours)
            atomic_write(path, iter([text]))
            return ExportResult(path, kind, text.count("\n"))
        header, rows = {"metrics": (METRICS_COLUMNS, self._metric_rows), "events": (EVENT_COLUMNS, self._event_rows), "costs": (COST_COLUMNS, self._cost_rows)}[kind]
        atomic_write(path, _csv_lines(header, rows(hours), counter, on_rows))
        return ExportResult(path, kind, counter[0])

    def _metric_rows(self, hours: float) -> Iterator[tuple[object, ...]]:
        """One row per local day that the window touches (the first day clipped to the window)."""
        since, until = window(hours)
        days = int((until - since) // 86400) + 2
        for day, m in self.analyzer.get_trends(min(days, 3660)).items():
            if m.until <= since:
                continue
            if m.since < since:
                m = self.analyzer.metrics_between(since, m.until, with_errors=False)
            yield (
                day, m.finished_tasks, m.succeeded_tasks, m.failed_tasks,
                None if m.success_rate is None else round(m.success_rate, 2),
                m.avg_latency_ms, m.p50_latency_ms, m.p95_latency_ms, m.p99_latency_ms,
                round(m.total_cost, 6), m.error_count, m.event_count,
            )

    def _paged(self, table: str, hours: float) -> Iterator[dict]:
        """Rows of `table` in the window, oldest first, a page at a time (keyset on id)."""
        since, until = window(hours)
        last = -1
        store = self.project.store
        while True:
            page = store.fetchall(
                f"SELECT * FROM {table} WHERE ts >= ? AND ts < ? AND id > ? ORDER BY id LIMIT {PAGE}",  # br:allow: table is "events" or "cost_records"
                (since, until, last),
            )
            yield from page
            if len(page) < PAGE:
                return
            last = page[-1]["id"]

    def _event_rows(self, hours: float) -> Iterator[tuple[object, ...]]:
        for r in self._paged("events", hours):
            yield (r["id"], iso(r["ts"]), r["type"], r["session_id"], r["task_id"], r["worker_id"], r["duration_ms"], r["cost"], r["error"], r["message"], r["data"])

    def _cost_rows(self, hours: float) -> Iterator[tuple[object, ...]]:
        for r in self._paged("cost_records", hours):
            yield (r["id"], iso(r["ts"]), *(r[c] for c in COST_COLUMNS[2:]))
