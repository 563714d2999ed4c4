"""Threshold alerts: success rate, latency, spend against the cost limits, lost workers.

`AlertManager.check()` evaluates every rule on the data in the store and records the
result in the `alerts` table: a firing rule keeps its first-triggered time and updates
its last-triggered time and count; a rule that stops firing is resolved. A rule with
no data (no finished task, no spend) never fires. The record follows one window
(`ALERT_WINDOW_HOURS`): a look over another window is shown, not recorded, or a quick
`--hours 1` would resolve an alert the day's figures still raise.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal

from buildrunner.errors import TelemetryError
from buildrunner.money import money, usd
from buildrunner.routing.cost_tracker import BUDGET_PERIODS, CostTracker, period_start
from buildrunner.store.base import now
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer, known, window
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.project import Project

Level = Literal["info", "warning", "critical"]
LEVELS: tuple[Level, ...] = ("info", "warning", "critical")
# Spend at this share of a limit warns; at 100 % it is critical.
COST_WARNING_SHARE = 0.8
# Below this share of the success-rate threshold (or above this multiple of the latency one) is critical.
CRITICAL_SUCCESS_SHARE = 0.5
CRITICAL_LATENCY_MULTIPLE = 2.0
# A rate over fewer finished tasks than this warns at most: one slow build or one failed job is not yet a trend.
CRITICAL_MIN_TASKS = 5
# The window the recorded alerts (their history, the exported gauge) are evaluated over.
ALERT_WINDOW_HOURS = 24
# `unit` of each alert key prefix, for rendering "75%", "2450ms", "$12.45".
UNITS = {"success_rate": "%", "latency": "ms", "cost": "$", "workers": ""}


@dataclass
class Alert:
    """One alert rule's current state (`resolved_at` None while it is active)."""

    key: str
    level: Level
    title: str
    message: str
    current_value: float | None
    threshold: float | None
    unit: str
    first_triggered: float
    last_triggered: float
    trigger_count: int = 1
    resolved_at: float | None = None

    @property
    def active(self) -> bool:
        return self.resolved_at is None


@dataclass
class _Firing:
    key: str
    level: Level
    title: str
    message: str
    current: float
    threshold: float | None


def _unit(key: str) -> str:
    return UNITS.get(key.split(".", 1)[0], "")


def _most_severe_first(alerts: list[Alert]) -> list[Alert]:
    """Critical, then warning, then info; the order within a level kept (the store's: newest first)."""
    return sorted(alerts, key=lambda a: -LEVELS.index(a.level))


def _row_to_alert(row: dict) -> Alert:
    stored = {f.name for f in fields(Alert)} - {"unit"}
    return Alert(**{name: row[name] for name in stored}, unit=_unit(row["key"]))


class AlertManager:
    """Evaluate the configured thresholds and keep the `alerts` table current."""

    def __init__(self, project: "Project | None" = None) -> None:
        self.analyzer = MetricsAnalyzer(project)
        self.project = self.analyzer.project

    def evaluate(self, hours: float = ALERT_WINDOW_HOURS) -> list[_Firing]:
        """The rules firing now: rates over the last `hours`, spend over the limit periods."""
        config = self.project.config
        thresholds = config.telemetry.thresholds
        since, until = window(hours)
        metrics = self.analyzer.metrics_between(since, until, with_errors=False)
        firing: list[_Firing] = []
        if metrics.has_data and metrics.success_rate < thresholds.success_rate_warning:
            critical = metrics.success_rate < thresholds.success_rate_warning * CRITICAL_SUCCESS_SHARE and metrics.finished_tasks >= CRITICAL_MIN_TASKS
            firing.append(
                _Firing(
                    "success_rate",
                    "critical" if critical else "warning",
                    "Success rate below threshold",
                    f"{metrics.succeeded_tasks} of {plural(metrics.finished_tasks, 'finished task')} succeeded in the last {hours:g} hours",
                    metrics.success_rate,
                    thresholds.success_rate_warning,
                )
            )
        limit_ms = thresholds.latency_warning_ms
        if known(metrics.avg_latency_ms) is not None and limit_ms > 0 and metrics.avg_latency_ms > limit_ms:
            critical = metrics.avg_latency_ms > limit_ms * CRITICAL_LATENCY_MULTIPLE and metrics.finished_tasks >= CRITICAL_MIN_TASKS
            firing.append(
                _Firing(
                    "latency.average",
                    "critical" if critical else "warning",
                    "Average latency above threshold",
                    f"average {metrics.avg_latency_ms:.0f}ms (p95 {metrics.p95_latency_ms:.0f}ms) over {plural(metrics.finished_tasks, 'finished task')}",
                    metrics.avg_latency_ms,
                    limit_ms,
                )
            )
        firing.extend(self._cost_rules())
        lost = int(self.analyzer.rows("lost_workers", {"since": since, "until": until})[0]["n"] or 0)
        if lost:
            firing.append(
                _Firing("workers.lost", "info", "Workers lost", f"{plural(lost, 'worker')} stopped heartbeating in the last {hours:g} hours; their tasks were requeued", lost, None)
            )
        return firing

    def _cost_rules(self) -> list[_Firing]:
        """Spend against each budget, over the same calendar periods the CostTracker enforces. The spend is all that is
        known, as `summary` totals it: cost records and spend reported only on events (the spec's EventCollector
        example); the cost records alone let an events-only user pass the limit with no alert."""
        tracker = CostTracker(self.project)
        out = []
        stamp = now()
        for period, name in BUDGET_PERIODS.items():
            limit = tracker.budget_limit(period)
            if limit is None:
                continue
            start = period_start(period, stamp) or 0.0
            spent = money(tracker.spent(period) + self.analyzer.event_only_spend(start, stamp + 1e-3))  # the records from the rollup
            since = _dt.datetime.fromtimestamp(start)
            if spent >= limit:
                title = f"{name.capitalize()} cost {'exceeded' if spent > limit else 'limit reached'}"
                out.append(_Firing(f"cost.{name}", "critical", title, f"{usd(spent)} spent since {since:%Y-%m-%d}", spent, limit))
            elif spent >= limit * COST_WARNING_SHARE:
                out.append(_Firing(f"cost.{name}", "warning", f"{name.capitalize()} cost near its limit", f"{spent / limit:.0%} of the {name} limit spent", spent, limit))
        return out

    def check(self, hours: float = ALERT_WINDOW_HOURS) -> list[Alert]:
        """Evaluate the rules, record them, resolve the ones no longer firing; returns active alerts. Over a window
        other than ALERT_WINDOW_HOURS, the rules firing over it are returned as they are now, and nothing is recorded."""
        firing = self.evaluate(hours)
        if hours != ALERT_WINDOW_HOURS:
            stamp = now()
            return _most_severe_first([Alert(f.key, f.level, f.title, f.message, f.current, f.threshold, _unit(f.key), stamp, stamp) for f in firing])
        store = self.project.store
        stamp = now()
        with store.transaction():
            for rule in firing:
                params = {**rule.__dict__, "now": stamp}
                if store.execute(store.query("telemetry", "alert_refire"), params):
                    continue
                # New, or firing again after it was resolved: a new episode starts now.
                store.execute(store.query("telemetry", "alert_forget"), {"key": rule.key})
                store.execute(store.query("telemetry", "alert_open"), params)
            keys = {rule.key for rule in firing}
            for row in store.fetchall(store.query("telemetry", "alert_active_keys")):
                if row["key"] not in keys:
                    store.execute(store.query("telemetry", "alert_resolve"), {"key": row["key"], "now": stamp})
        return self.get_alerts()

    def get_alerts(self, level: str | None = None, include_resolved: bool = False) -> list[Alert]:
        """Recorded alerts, most severe then newest first; only active ones unless asked."""
        if level is not None and level not in LEVELS:
            raise TelemetryError(f"level {level!r}: expected one of {', '.join(LEVELS)}")
        rows = self.analyzer.rows("alert_list", {"all_states": 1 if include_resolved else 0, "level": level})
        return _most_severe_first([_row_to_alert(row) for row in rows])
