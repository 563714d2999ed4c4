"""Alerts: thresholds from config and cost limits, levels, first/last triggered, resolve, no data."""

from __future__ import annotations

import time

from telemetry_helpers import add_cost, finished

from buildrunner.config import Config
from buildrunner.project import Project
from buildrunner.telemetry.alerts import AlertManager
from buildrunner.telemetry.event_collector import EventCollector


def test_no_data_no_alerts(any_project: Project) -> None:
    assert AlertManager(any_project).check() == []
    assert any_project.store.scalar("SELECT COUNT(*) AS n FROM alerts") == 0


def test_success_rate_and_latency_alerts_with_levels(any_project: Project) -> None:
    EventCollector(any_project).collect_batch(
        [finished("s", "a", True, 2500), finished("s", "b", True, 2500), finished("s", "c", True, 2500), finished("s", "d", False, 2500)]
    )
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert alerts["success_rate"].level == "warning"  # 75 % < 80 %
    assert (alerts["success_rate"].current_value, alerts["success_rate"].threshold, alerts["success_rate"].unit) == (75.0, 80.0, "%")
    assert alerts["latency.average"].level == "warning"  # 2500 ms > 2000 ms, not > 4000
    EventCollector(any_project).collect_batch([finished("s", x, False, 9000) for x in "efghij"])
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert alerts["success_rate"].level == "critical"  # 30 % < 40 %
    assert alerts["latency.average"].level == "critical"


def test_thresholds_come_from_config(tmp_project) -> None:
    config = Config.model_validate({"telemetry": {"thresholds": {"success_rate_warning": 40, "latency_warning_ms": 10_000}}})
    with Project(tmp_project, config=config) as project:
        EventCollector(project).collect_batch([finished("s", "a", True, 2500), finished("s", "b", False, 2500)])
        assert AlertManager(project).check() == []


def test_cost_limits_warn_then_critical(any_project: Project) -> None:
    add_cost(any_project, 8.50)  # 85 % of the default daily 10.00
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert alerts["cost.daily"].level == "warning" and alerts["cost.daily"].unit == "$"
    assert "cost.weekly" not in alerts  # 8.50 < 80 % of 50
    add_cost(any_project, 4.00)
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert alerts["cost.daily"].level == "critical" and alerts["cost.daily"].current_value == 12.5
    assert alerts["cost.daily"].title == "Daily cost exceeded"


def test_spend_reported_only_on_events_counts_toward_the_cost_alerts(any_project: Project) -> None:
    """The spec's EventCollector example reports cost on events: an events-only user passed the daily limit with no
    alert, and the alert's figure disagreed with summary's Total Cost."""
    collector = EventCollector(any_project)
    collector.collect_batch([{"type": "task_completed", "task_id": f"job{i}", "cost": 2.5, "timestamp": time.time() - 60} for i in range(5)])
    add_cost(any_project, 1.0, task_id="job0")  # this task's cost is a record: its event's cost is not counted again
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert alerts["cost.daily"].level == "critical" and alerts["cost.daily"].current_value == 4 * 2.5 + 1.0
    from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

    assert MetricsAnalyzer(any_project).analyze(24).total_cost == alerts["cost.daily"].current_value


def test_first_and_last_triggered_and_resolution(any_project: Project) -> None:
    collector = EventCollector(any_project)
    collector.collect_batch([finished("s", "a", False, 10)])
    manager = AlertManager(any_project)
    [first] = manager.check()
    time.sleep(0.05)
    [again] = manager.check()
    assert again.first_triggered == first.first_triggered
    assert again.last_triggered > first.last_triggered
    assert again.trigger_count == 1  # looking again is not a new trigger
    collector.collect_batch([finished("s", "k", False, 10), finished("s", "m", True, 10)])  # 1 of 3: moved, still firing
    [moved] = manager.check()
    assert moved.trigger_count == 2 and moved.first_triggered == first.first_triggered
    collector.collect_batch([finished("s", x, True, 10) for x in "bcdefghij"])  # 90 %: recovered
    assert manager.check() == []
    [resolved] = manager.get_alerts(include_resolved=True)
    assert resolved.resolved_at is not None and not resolved.active


def test_lost_workers_are_info(any_project: Project) -> None:
    EventCollector(any_project).collect_event({"type": "worker_lost", "worker_id": "w1", "task_id": "t"})
    [alert] = AlertManager(any_project).check()
    assert (alert.level, alert.key, alert.current_value) == ("info", "workers.lost", 1)
    assert AlertManager(any_project).get_alerts(level="critical") == []


def test_an_events_spend_counts_though_its_task_id_had_a_cost_record_in_an_earlier_run(any_project: Project) -> None:
    """A task id repeats across runs ("nightly-build"): a cost record of it twenty days ago hid tonight's spend, reported
    on its event, from every total; a record made while tonight's run ran still stands for it (not counted twice)."""
    from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

    add_cost(any_project, 1.0, task_id="nightly-build", age_s=20 * 86400)
    EventCollector(any_project).collect_event({"type": "task_completed", "task_id": "nightly-build", "duration_ms": 60000, "cost": 2.0})
    assert MetricsAnalyzer(any_project).analyze(24).total_cost == 2.0
    add_cost(any_project, 0.5, task_id="nightly-build", age_s=30)  # tonight's run recorded its calls: the event's 2.0 is those
    assert MetricsAnalyzer(any_project).analyze(24).total_cost == 0.5


def test_one_slow_or_failed_task_warns_but_is_not_yet_critical(any_project: Project) -> None:
    """A single 12 s build made the latency alert critical (six times the 2 s threshold) on one sample."""
    EventCollector(any_project).collect_batch([finished("s", "build", False, 12_000)])
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert (alerts["latency.average"].level, alerts["success_rate"].level) == ("warning", "warning")
    assert "over 1 finished task" in alerts["latency.average"].message
    EventCollector(any_project).collect_batch([finished("s", f"t{i}", False, 12_000) for i in range(4)])
    alerts = {a.key: a for a in AlertManager(any_project).check()}
    assert (alerts["latency.average"].level, alerts["success_rate"].level) == ("critical", "critical")
