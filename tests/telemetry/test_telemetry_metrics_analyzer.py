"""MetricsAnalyzer on real stores: the success-rate rule, exact percentiles, cost, errors, trends."""

from __future__ import annotations

import math
import random
import time

import pytest
from telemetry_helpers import add_cost, add_worker, finished

from buildrunner.errors import TelemetryError
from buildrunner.project import Project
from buildrunner.telemetry.event_collector import EventCollector
from buildrunner.telemetry.metrics_analyzer import NO_DATA, MetricsAnalyzer, known, nearest_rank


def test_empty_window_is_no_data_not_zero_percent(any_project: Project) -> None:
    m = MetricsAnalyzer(any_project).analyze(24)
    assert m.success_rate is NO_DATA and not m.has_data and m.success_rate != 0 and math.isnan(m.success_rate)
    assert m.avg_latency_ms is NO_DATA and m.p50_latency_ms is NO_DATA and m.p99_latency_ms is NO_DATA
    assert known(m.success_rate) is None and known(0.0) == 0.0
    assert (m.event_count, m.error_count, m.total_cost, m.top_errors) == (0, 0, 0.0, [])


def test_success_rate_counts_a_retried_then_completed_task_once(collector: EventCollector, any_project: Project) -> None:
    collector.collect_batch(
        [
            finished("s1", "a", False, attempt=1),
            {"type": "task_retry", "session_id": "s1", "task_id": "a", "attempt": 2, "max_attempts": 3},
            finished("s1", "a", False, attempt=2),
            finished("s1", "a", True, attempt=3),  # a: success, counted once
            finished("s1", "b", False),  # b: failure
            finished("s1", "c", True),  # c: success
            finished("s2", "a", False),  # same task id, other session: its own failure
            {"type": "task_started", "session_id": "s1", "task_id": "d"},  # not finished: not counted
        ]
    )
    m = MetricsAnalyzer(any_project).analyze(24)
    assert (m.finished_tasks, m.succeeded_tasks, m.failed_tasks) == (4, 2, 2)
    assert m.success_rate == pytest.approx(50.0)
    assert m.error_count == 4  # every failed attempt is an error


def test_outside_a_session_each_run_of_a_task_id_is_its_own_outcome(collector: EventCollector, any_project: Project) -> None:
    """A CI job reporting `nightly-build` every night without a session: seven runs are seven outcomes (they were
    merged into one, 100 % beside three errors, and the success-rate alert could never fire); a failure whose next
    event is its retry still waits for that retry."""
    day = 86_400
    nightly = [{**finished(None, "nightly-build", n % 2 == 0, age_s=n * day + 60)} for n in range(7)]  # 4 passed, 3 failed
    retried = [
        {**finished(None, "deploy", False, age_s=40)},
        {"type": "task_retry", "task_id": "deploy", "attempt": 2, "timestamp": time.time() - 40},
        {**finished(None, "deploy", True, age_s=20)},
        {**finished(None, "waiting", False, age_s=15)},
        {"type": "task_retry", "task_id": "waiting", "attempt": 2, "timestamp": time.time() - 14},
    ]
    collector.collect_batch(nightly + retried + [finished("s1", "nightly-build", False)])  # a session's run: its own
    m = MetricsAnalyzer(any_project).analyze(24 * 7)
    assert (m.finished_tasks, m.succeeded_tasks, m.failed_tasks) == (7 + 1 + 1, 4 + 1, 3 + 1)


def test_a_failed_attempt_waiting_for_its_retry_is_not_a_finished_failure(collector: EventCollector, any_project: Project) -> None:
    """A lost or failed attempt that will be retried must not drag the success rate (or raise an alert) meanwhile."""
    now = time.time()

    def retry(task: str, age_s: float) -> dict:
        return {"type": "task_retry", "session_id": "s", "task_id": task, "attempt": 2, "timestamp": now - age_s}

    collector.collect_batch(
        [
            finished("s", "waiting", False, age_s=30), retry("waiting", 29),  # failed, retry due: not finished yet
            finished("s", "gave-up", False, age_s=50), retry("gave-up", 50), finished("s", "gave-up", False, age_s=40),
        ]
    )
    m = MetricsAnalyzer(any_project).analyze(24)
    assert (m.finished_tasks, m.succeeded_tasks, m.failed_tasks) == (1, 0, 1)  # only gave-up, whose last attempt failed
    collector.collect_batch([finished("s", "waiting", True, age_s=10)])
    m = MetricsAnalyzer(any_project).analyze(24)
    assert (m.finished_tasks, m.succeeded_tasks) == (2, 1) and m.success_rate == pytest.approx(50.0)


def test_percentiles_are_exact_nearest_rank(collector: EventCollector, any_project: Project) -> None:
    rng = random.Random(7)
    durations = [round(rng.lognormvariate(7, 1.2), 3) for _ in range(997)]
    collector.collect_batch([finished("s", f"t{i}", i % 5 != 0, d) for i, d in enumerate(durations)])
    m = MetricsAnalyzer(any_project).analyze(24)
    ordered = sorted(durations)
    for p, got in ((50, m.p50_latency_ms), (95, m.p95_latency_ms), (99, m.p99_latency_ms)):
        assert got == pytest.approx(ordered[math.ceil(p / 100 * len(ordered)) - 1])
    assert m.avg_latency_ms == pytest.approx(sum(durations) / len(durations))


def test_percentiles_of_one_to_hundred(collector: EventCollector, any_project: Project) -> None:
    collector.collect_batch([finished("s", f"t{i}", True, float(i)) for i in range(1, 101)])
    m = MetricsAnalyzer(any_project).analyze(24)
    assert (m.p50_latency_ms, m.p95_latency_ms, m.p99_latency_ms) == (50.0, 95.0, 99.0)
    assert nearest_rank(50, 1) == 1 and nearest_rank(99, 100) == 99


def test_window_excludes_older_events_and_costs(collector: EventCollector, any_project: Project) -> None:
    collector.collect_batch([finished("s", "old", False, age_s=3 * 3600), finished("s", "new", True, age_s=60)])
    add_cost(any_project, 1.25, age_s=60)
    add_cost(any_project, 4.00, age_s=3 * 3600)
    one_hour = MetricsAnalyzer(any_project).analyze(1)
    assert (one_hour.finished_tasks, one_hour.success_rate, one_hour.total_cost) == (1, 100.0, pytest.approx(1.25))
    four_hours = MetricsAnalyzer(any_project).analyze(4)
    assert (four_hours.finished_tasks, four_hours.total_cost) == (2, pytest.approx(5.25))


def test_top_errors_group_by_normalised_message(collector: EventCollector, any_project: Project) -> None:
    collector.collect_batch(
        [finished("s", f"t{i}", False, error=f"API timeout after {30 + i}s") for i in range(3)]
        + [finished("s", "x", False, error="rate limit exceeded")]
        + [{"type": "task_skipped", "session_id": "s", "task_id": "y", "error": "dependency t1 failed"}]
        + [{"type": "task_retry", "session_id": "s", "task_id": "x", "attempt": 2, "error": "rate limit exceeded"}]
    )
    m = MetricsAnalyzer(any_project).analyze(24)
    assert [(e.message, e.count) for e in m.top_errors] == [("API timeout after <n>s", 3), ("rate limit exceeded", 1)]
    assert m.top_errors[0].example.startswith("API timeout after 3")
    assert m.error_count == 4  # a skip's or a retry's reason is not another error


def test_trends_per_local_day(collector: EventCollector, any_project: Project) -> None:
    collector.collect_batch([finished("s", "a", True, age_s=1), finished("s", "b", False, age_s=1)])
    trends = MetricsAnalyzer(any_project).get_trends(3)
    assert len(trends) == 3
    days = list(trends.values())
    assert days[-1].success_rate == pytest.approx(50.0) or days[-2].success_rate == pytest.approx(50.0)
    assert days[0].success_rate is NO_DATA
    with pytest.raises(TelemetryError):
        MetricsAnalyzer(any_project).get_trends(0)


def test_performance_reads_workers_and_store_size(collector: EventCollector, any_project: Project) -> None:
    collector.collect_batch([finished("s1", f"t{i}", True, 150.0 * (i + 1)) for i in range(10)])
    add_worker(any_project, "w1", cpu_seconds=30, peak_rss=200 * 2**20, wall_s=100)
    add_worker(any_project, "w2", cpu_seconds=50, peak_rss=300 * 2**20, wall_s=100)
    p = MetricsAnalyzer(any_project).performance(24)
    assert p.workers == 2 and p.peak_memory_bytes == 300 * 2**20
    assert p.cpu_percent == pytest.approx(40.0) and p.cpu_level == "moderate"
    assert p.disk_bytes > 0
    assert sum(b.count for b in p.latency_histogram) == 10
    assert sum(p.hourly_attempts) == 10 and p.tasks_per_hour == pytest.approx(10 / 24)
    assert p.p50_latency_ms == 750.0


def test_performance_without_workers_has_no_cpu_data(any_project: Project) -> None:
    p = MetricsAnalyzer(any_project).performance(24)
    assert p.cpu_percent is None and p.cpu_level == "no data" and p.p95_latency_ms is NO_DATA


def test_bad_hours(any_project: Project) -> None:
    with pytest.raises(TelemetryError, match="hours"):
        MetricsAnalyzer(any_project).analyze(0)


SPEC_EXAMPLE = """
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

analyzer = MetricsAnalyzer()

# Calculate metrics
metrics = analyzer.analyze(hours=24)

print(f"Success rate: {metrics.success_rate:.1f}%")
print(f"Average latency: {metrics.avg_latency_ms:.0f}ms")
print(f"P95 latency: {metrics.p95_latency_ms:.0f}ms")
print(f"Total cost: ${metrics.total_cost:.2f}")
print(f"Error count: {metrics.error_count}")

# Get trends
trends = analyzer.get_trends(days=7)
for day, day_metrics in trends.items():
    print(f"{day}: {day_metrics.success_rate:.1f}% success")
"""


def test_the_spec_example_runs_on_a_fresh_project_and_says_there_is_no_data(tmp_project) -> None:
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", SPEC_EXAMPLE], cwd=tmp_project, capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    lines = fresh.stdout.splitlines()
    assert lines[:5] == ["Success rate: --%", "Average latency: --ms", "P95 latency: --ms", "Total cost: $0.00", "Error count: 0"]
    assert len(lines) == 12 and all(line.endswith(": --% success") for line in lines[5:])
    with Project(tmp_project) as project:
        EventCollector(project).collect_batch([finished("s", "a", True, 1200.0, age_s=5), finished("s", "b", False, 800.0, age_s=5)])
    filled = subprocess.run([sys.executable, "-c", SPEC_EXAMPLE], cwd=tmp_project, capture_output=True, text=True)
    assert filled.stdout.splitlines()[:3] == ["Success rate: 50.0%", "Average latency: 1000ms", "P95 latency: 1200ms"]
    assert filled.stdout.splitlines()[-1].endswith(": 50.0% success")


def test_no_data_formats_keep_their_layout() -> None:
    assert f"{NO_DATA:>6.1f}|{NO_DATA:<5.0f}|{NO_DATA:*^8.2%}|{NO_DATA}" == "    --|--   |***--***|no data"
    assert not NO_DATA and NO_DATA != 0.0 and NO_DATA == NO_DATA and not (NO_DATA < 80)


def test_a_cost_given_only_on_an_event_counts_once(collector: EventCollector, any_project: Project) -> None:
    """The spec's collect_event(..., "cost": 0.15) is spend; a session's spend is its cost records (the runner writes both)."""
    collector.collect_event({"type": "task_completed", "task_id": "task-001", "duration_ms": 82000, "cost": 0.15})
    collector.collect_event({"type": "task_completed", "task_id": "task-002", "cost": 0.05, "metadata": {"model": "opus"}})
    collector.collect_event({"type": "model_selected", "task_id": "task-003", "cost": 0.5, "metadata": {"model": "opus"}})  # an estimate
    collector.collect_event({"type": "task_completed", "session_id": "s1", "task_id": "task-004", "cost": 0.2})
    add_cost(any_project, 0.2, model="haiku", session_id="s1", task_id="task-004")
    collector.collect_event({"type": "session_completed", "session_id": "s1", "cost": 0.2})  # the session's total of its tasks
    collector.collect_event({"type": "task_completed", "task_id": "task-006", "cost": 0.07})
    add_cost(any_project, 0.07, model="haiku", task_id="task-006")  # the same spend, also tracked
    analyzer = MetricsAnalyzer(any_project)
    assert analyzer.analyze(24).total_cost == pytest.approx(0.15 + 0.05 + 0.2 + 0.07)
    assert sum(analyzer.daily_costs(2).values()) == pytest.approx(0.47)
    assert analyzer.costs(24).by_model == pytest.approx({"unspecified": 0.15, "opus": 0.05, "haiku": 0.27})


def test_the_readmes_no_data_helpers_import_from_the_package() -> None:
    """README: `buildrunner.telemetry.NO_DATA` and `known(value)`; both from the package, as written there."""
    import buildrunner.telemetry as telemetry

    assert telemetry.known(telemetry.NO_DATA) is None and telemetry.known(0.0) == 0.0
    assert {"NO_DATA", "known", "MetricsAnalyzer"} <= set(telemetry.__all__)


def test_daily_spend_and_trends_use_each_dates_own_midnight(any_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read on 27 October in Berlin (winter time), spend at 00:30 on 24 October (summer time) is the 24th's: one
    offset for the whole window put it on the 23rd."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        berlin = ZoneInfo("Europe/Berlin")
        spent_at = dt.datetime(2026, 10, 24, 0, 30, tzinfo=berlin).timestamp()
        until = dt.datetime(2026, 10, 27, 12, tzinfo=berlin).timestamp()
        add_cost(any_project, 1.25, age_s=time.time() - spent_at)
        assert MetricsAnalyzer(any_project).daily_costs(5, until=until) == {
            "2026-10-23": 0.0, "2026-10-24": 1.25, "2026-10-25": 0.0, "2026-10-26": 0.0, "2026-10-27": 0.0,
        }
    finally:
        monkeypatch.undo()
        time.tzset()
