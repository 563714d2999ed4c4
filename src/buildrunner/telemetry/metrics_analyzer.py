"""Success rate, latency percentiles, cost and errors over a time window, computed in SQL.

Aggregation stays in the database (`queries/telemetry.sql`): a million events are
summarised without loading them into Python. Percentiles are exact nearest-rank
values (the smallest duration with at least p % of durations at or below it), the
same definition as PostgreSQL's `percentile_disc`. An empty window has no success
rate and no latency: `NO_DATA`, never 0 % or 0 ms (see `NoData`).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from buildrunner.errors import TelemetryError
from buildrunner.localdays import QUARTER_HOUR_S, last_days, local_date, midnight
from buildrunner.money import money
from buildrunner.project import ensure_project
from buildrunner.store.base import now

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.store import Store

PERCENTILES = (50, 95, 99)
TOP_ERRORS = 5
# Upper edges (ms) of the latency histogram buckets; a last bucket is open-ended.
LATENCY_BUCKETS_MS = (100, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000)
MAX_HOURS = 24 * 3660
MAX_DURATION_MS = float("inf")
_INDEX_HINT = re.compile(r"/\*index:(\w+)\*/")
_FORMAT_LAYOUT = re.compile(r"^(?:(?P<fill>.)?(?P<align>[<>^=]))?[-+ ]?z?#?0?(?P<width>\d*)")


class NoData(float):
    """"No data" (a window without finished tasks) where a rate or a latency is expected.

    A float, so the spec's `f"{metrics.success_rate:.1f}%"` runs: it is NaN (comparisons are
    false, so no threshold fires on it), is written `--` in any number format (`--%`), reads
    "no data" as `str()`, is falsy, and is `null` in `--format json`. Tell it from a real 0 with
    `metrics.has_data`, `is NO_DATA`, `math.isnan` or `known(value)`.
    """

    def __new__(cls) -> "NoData":
        return super().__new__(cls, "nan")

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        layout = _FORMAT_LAYOUT.match(spec)
        fill, align, width = (layout.group("fill") or "", layout.group("align") or ">", layout.group("width")) if layout else ("", ">", "")
        return format("--", f"{fill}{'>' if align == '=' else align}{width}")

    def __str__(self) -> str:
        return "no data"

    def __repr__(self) -> str:
        return "NO_DATA"

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoData)

    def __hash__(self) -> int:
        return hash("NO_DATA")

    def __reduce__(self) -> tuple[type, tuple]:
        return (NoData, ())


NO_DATA = NoData()


def known(value: float | None) -> float | None:
    """`value`, or None for no data (`NO_DATA`, NaN or None): for JSON, CSV and "is there a number" checks."""
    return None if value is None or value != value else float(value)


def _or_no_data(value: float | None) -> float:
    return NO_DATA if value is None else value


@dataclass
class ErrorSummary:
    """Errors that share a normalised message (`message`), with the newest example."""

    message: str
    count: int
    example: str
    last_seen: float


@dataclass
class TelemetryMetrics:
    """The spec's TelemetryMetrics, plus p50 and the counts behind the rate.

    Rates and latencies are `NO_DATA` when the window holds no finished task (`has_data` is False).
    """

    period_hours: float
    success_rate: float
    avg_latency_ms: float
    p95_latency_ms: float
    p99_latency_ms: float
    total_cost: float
    error_count: int
    event_count: int
    top_errors: list[ErrorSummary] = field(default_factory=list)
    p50_latency_ms: float = NO_DATA
    finished_tasks: int = 0
    succeeded_tasks: int = 0
    failed_tasks: int = 0
    since: float = 0.0
    until: float = 0.0

    @property
    def has_data(self) -> bool:
        return self.finished_tasks > 0


@dataclass
class LatencyBucket:
    """Finished attempts whose duration is below `upper_ms` (None: no upper bound)."""

    upper_ms: float | None
    count: int


@dataclass
class PerformanceMetrics:
    """What `br telemetry performance` shows: latency, throughput and resource use."""

    period_hours: float
    p50_latency_ms: float
    p95_latency_ms: float
    p99_latency_ms: float
    avg_latency_ms: float
    max_latency_ms: float
    latency_histogram: list[LatencyBucket]
    tasks_per_hour: float
    events_per_hour: float
    hourly_attempts: list[int]
    workers: int
    cpu_seconds: float
    cpu_percent: float | None
    cpu_level: str
    peak_memory_bytes: int
    disk_bytes: int


@dataclass
class CostBreakdown:
    """Spend in a window from the cost records, per model and per coding agent and model ("api": direct requests)."""

    total: float
    requests: int
    by_model: dict[str, float]
    by_agent_model: dict[str, dict[str, float]] = field(default_factory=dict)


def window(hours: float, until: float | None = None) -> tuple[float, float]:
    """(since, until) for the last `hours`; raises on a non-positive or absurd span."""
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 < hours <= MAX_HOURS:
        raise TelemetryError(f"hours={hours!r}: must be between 1 and {MAX_HOURS}", hint="e.g. --hours 24 or --hours 168")
    end = now() if until is None else until
    # A hair past now, so an event stamped in this very instant is inside the window.
    return end - hours * 3600, end + 1e-3


def nearest_rank(p: float, n: int) -> int:
    """The 1-based rank of the p-th percentile among n sorted values."""
    return max(1, math.ceil(p / 100 * n))


def cpu_level(percent: float | None) -> str:
    """The spec's CPU wording from average utilisation of one core per worker."""
    if percent is None:
        return "no data"
    if percent < 25:
        return "low"
    if percent < 75:
        return "moderate"
    return "high"


class MetricsAnalyzer:
    """Read-only analysis of the events, cost records and workers tables."""

    def __init__(self, project: "Project | None" = None) -> None:
        project = ensure_project(project)
        self.project = project

    @property
    def store(self) -> "Store":
        return self.project.store

    def rows(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the named query from `queries/telemetry.sql` (index hints applied on SQLite)."""
        sql = self.store.query("telemetry", name)
        sql = _INDEX_HINT.sub(r"INDEXED BY \1" if self.store.dialect == "sqlite" else "", sql)
        return self.store.fetchall(sql, params)

    def percentiles(self, since: float, until: float, ps: tuple[float, ...] = PERCENTILES, n: int | None = None) -> dict[float, float | None]:
        """Exact nearest-rank latency percentiles of finished attempts in [since, until)."""
        if n is None:
            n = int(self.rows("latency_stats", {"since": since, "until": until})[0]["n"] or 0)
        if n == 0:
            return {p: None for p in ps}
        ranks = {p: nearest_rank(p, n) for p in ps}
        wanted = sorted(set(ranks.values()))
        found: dict[int, float] = {}
        # The query takes three ranks (one sort each call); the spec's p50/p95/p99 is one call.
        for i in range(0, len(wanted), 3):
            chunk = (wanted[i : i + 3] * 3)[:3]
            params = {"since": since, "until": until, "r1": chunk[0], "r2": chunk[1], "r3": chunk[2]}
            for row in self.rows("latency_at_ranks", params):
                found[int(row["rank_no"])] = float(row["duration_ms"])
        return {p: found.get(rank) for p, rank in ranks.items()}

    def _percentiles_in_buckets(self, since: float, until: float, histogram: list[LatencyBucket], ps: tuple[float, ...] = PERCENTILES) -> dict[float, float | None]:
        """`percentiles`, sorting only the histogram bucket that holds each rank."""
        n = sum(bucket.count for bucket in histogram)
        out: dict[float, float | None] = {p: None for p in ps}
        if n == 0:
            return out
        for p in ps:
            rank, below, low = nearest_rank(p, n), 0, 0.0
            for bucket in histogram:
                high = MAX_DURATION_MS if bucket.upper_ms is None else float(bucket.upper_ms)
                if rank <= below + bucket.count:
                    params = {"since": since, "until": until, "low": low, "high": high, "offset": rank - below - 1}
                    row = self.rows("latency_at_offset_between", params)
                    out[p] = float(row[0]["duration_ms"]) if row else None
                    break
                below, low = below + bucket.count, high
        return out

    def histogram(self, since: float, until: float) -> list[LatencyBucket]:
        """Finished attempts per latency bucket (one pass over the covering latency index)."""
        return self._latency_histogram(since, until)[1]

    def _latency_histogram(self, since: float, until: float) -> tuple[dict[str, Any], list[LatencyBucket]]:
        """latency_stats' row and the histogram buckets, from one pass over the latency index."""
        params: dict[str, Any] = {"since": since, "until": until}
        params.update({f"e{i}": float(edge) for i, edge in enumerate(LATENCY_BUCKETS_MS)})
        by_bucket = {int(row["bucket"]): row for row in self.rows("latency_histogram", params)}
        n = sum(int(row["n"]) for row in by_bucket.values())
        stats = {
            "n": n,
            "avg_ms": sum(float(row["total_ms"]) for row in by_bucket.values()) / n if n else None,
            "min_ms": min((row["min_ms"] for row in by_bucket.values()), default=None),
            "max_ms": max((row["max_ms"] for row in by_bucket.values()), default=None),
        }
        buckets = [LatencyBucket(upper_ms=edge, count=int(by_bucket[i]["n"]) if i in by_bucket else 0) for i, edge in enumerate((*LATENCY_BUCKETS_MS, None))]
        return stats, buckets

    def top_errors(self, since: float, until: float, limit: int = TOP_ERRORS) -> list[ErrorSummary]:
        """The most frequent errors, grouped by normalised message, newest example each."""
        out = []
        for row in self.rows("top_errors", {"since": since, "until": until, "limit": limit}):
            example = self.rows("error_example", {"key": row["error_key"], "ts": row["last_ts"]})
            out.append(
                ErrorSummary(
                    message=row["error_key"],
                    count=int(row["n"]),
                    example=example[0]["error"] if example else row["error_key"],
                    last_seen=float(row["last_ts"]),
                )
            )
        return out

    def metrics_between(self, since: float, until: float, *, with_errors: bool = True) -> TelemetryMetrics:
        """Metrics over [since, until) (epoch seconds); `with_errors=False` skips the top-errors queries."""
        outcomes = self.rows("task_outcomes", {"since": since, "until": until})[0]
        finished, succeeded = int(outcomes["finished"] or 0), int(outcomes["succeeded"] or 0)
        latency = self.rows("latency_stats", {"since": since, "until": until})[0]
        n = int(latency["n"] or 0)
        pct = self.percentiles(since, until, n=n)
        return TelemetryMetrics(
            period_hours=round((until - since) / 3600, 3),
            success_rate=100.0 * succeeded / finished if finished else NO_DATA,
            avg_latency_ms=float(latency["avg_ms"]) if n else NO_DATA,
            p95_latency_ms=_or_no_data(pct[95]),
            p99_latency_ms=_or_no_data(pct[99]),
            total_cost=self.spend_between(since, until),
            error_count=int(self.rows("error_count", {"since": since, "until": until})[0]["n"] or 0),
            event_count=int(self.rows("event_count", {"since": since, "until": until})[0]["n"] or 0),
            top_errors=self.top_errors(since, until) if with_errors else [],
            p50_latency_ms=_or_no_data(pct[50]),
            finished_tasks=finished,
            succeeded_tasks=succeeded,
            failed_tasks=finished - succeeded,
            since=since,
            until=until,
        )

    def analyze(self, hours: float = 24) -> TelemetryMetrics:
        """Metrics over the last `hours`."""
        since, until = window(hours)
        metrics = self.metrics_between(since, until)
        metrics.period_hours = hours
        return metrics

    def get_trends(self, days: int = 7) -> dict[str, TelemetryMetrics]:
        """Metrics per local calendar day for the last `days` days (today included), oldest first."""
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660:
            raise TelemetryError(f"days={days!r}: must be between 1 and 3660")
        out: dict[str, TelemetryMetrics] = {}
        for day in last_days(days, time.time()):
            out[day.isoformat()] = self.metrics_between(midnight(day), midnight(day + _dt.timedelta(days=1)), with_errors=False)
        return out

    def costs(self, hours: float = 24) -> CostBreakdown:
        """Spend per model (cost records and spend reported only on events), and per agent and model (per day: `daily_costs`).

        Spend known only from events has no agent: it is shown under "api", with direct API requests.
        """
        since, until = window(hours)
        models = self.rows("cost_by_model", {"since": since, "until": until})
        by_model = {str(r["model"]): money(float(r["cost"])) for r in models}
        by_agent_model: dict[str, dict[str, float]] = {}
        recorded: dict[str, float] = {}
        for r in self.rows("cost_by_agent_model", {"since": since, "until": until}):
            by_agent_model.setdefault(str(r["agent"] or "api"), {})[str(r["model"])] = money(float(r["cost"]))
            recorded[str(r["model"])] = recorded.get(str(r["model"]), 0.0) + float(r["cost"])
        for model, cost in by_model.items():
            if cost - recorded.get(model, 0.0) > 1e-12:
                api = by_agent_model.setdefault("api", {})
                api[model] = money(api.get(model, 0.0) + cost - recorded.get(model, 0.0))
        return CostBreakdown(
            total=money(sum(by_model.values())),
            requests=sum(int(r["n"]) for r in models),
            by_model=by_model,
            by_agent_model=by_agent_model,
        )

    def spend_between(self, since: float, until: float) -> float:
        """All known spend in [since, until): cost records and spend reported only on events, as `summary` totals it."""
        return money(float(self.rows("cost_total", {"since": since, "until": until})[0]["total"] or 0))

    def event_only_spend(self, since: float, until: float) -> float:
        """The spend in [since, until) that only events report (no cost record holds it)."""
        return money(float(self.rows("event_only_spend", {"since": since, "until": until})[0]["total"] or 0))

    def daily_costs(self, days: int, until: float | None = None) -> dict[str, float]:
        """Spend per local day for the last `days` days, zero-filled (for charts)."""
        end = now() if until is None else until
        dates = last_days(days, end)
        spent = {day.isoformat(): 0.0 for day in dates}
        for row in self.rows("cost_by_slot", {"since": midnight(dates[0]), "until": end + 1e-3}):
            day = local_date(int(row["slot"]) * QUARTER_HOUR_S).isoformat()
            if day in spent:
                spent[day] += float(row["cost"])
        return {day: money(cost) for day, cost in spent.items()}

    def performance(self, hours: float = 24) -> PerformanceMetrics:
        """Latency percentiles and histogram, throughput per hour, worker CPU/memory, store disk use."""
        since, until = window(hours)
        params = {"since": since, "until": until}
        latency, histogram = self._latency_histogram(since, until)
        n = int(latency["n"] or 0)
        pct = self._percentiles_in_buckets(since, until, histogram)
        per_hour = {int(r["hour"]): int(r["n"]) for r in self.rows("finished_per_hour", params)}
        first_hour, last_hour = int(since // 3600), int(until // 3600)
        hourly = [per_hour.get(h, 0) for h in range(first_hour, last_hour + 1)]
        events = int(self.rows("event_count", params)[0]["n"] or 0)
        usage = self.rows("worker_usage", params)[0]
        wall = float(usage["wall_seconds"] or 0)
        cpu_seconds = float(usage["cpu_seconds"] or 0)
        cpu_percent = 100.0 * cpu_seconds / wall if wall > 0 else None
        return PerformanceMetrics(
            period_hours=hours,
            p50_latency_ms=_or_no_data(pct[50]),
            p95_latency_ms=_or_no_data(pct[95]),
            p99_latency_ms=_or_no_data(pct[99]),
            avg_latency_ms=float(latency["avg_ms"]) if n else NO_DATA,
            max_latency_ms=float(latency["max_ms"]) if n else NO_DATA,
            latency_histogram=histogram,
            tasks_per_hour=int(self.rows("task_outcomes", params)[0]["finished"] or 0) / hours,
            events_per_hour=events / hours,
            hourly_attempts=hourly,
            workers=int(usage["workers"] or 0),
            cpu_seconds=cpu_seconds,
            cpu_percent=cpu_percent,
            cpu_level=cpu_level(cpu_percent),
            peak_memory_bytes=int(usage["peak_rss_bytes"] or 0),
            disk_bytes=self.store.size_bytes(),
        )
