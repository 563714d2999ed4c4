"""EventCollector against the real store (SQLite file and PostgreSQL schema)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from buildrunner.config import Config
from buildrunner.errors import TelemetryError
from buildrunner.project import Project
from buildrunner.telemetry.event_collector import EventCollector, normalise_error, parse_timestamp


def count(project: Project) -> int:
    return int(project.store.scalar("SELECT COUNT(*) AS n FROM events"))


def test_event_round_trip_keeps_known_fields_and_metadata(any_project: Project) -> None:
    collector = EventCollector(any_project)
    stored = collector.collect_event(
        {
            "type": "task_started",
            "session_id": "s1",
            "task_id": "task-001",
            "worker_id": "w1",
            "description": "Add user auth",
            "metadata": {"model": "haiku"},
            "attempt": 2,
        }
    )
    assert stored["id"] is not None
    [got] = collector.get_events(event_type="task_started")
    assert got["id"] == stored["id"]
    assert (got["session_id"], got["task_id"], got["worker_id"], got["message"]) == ("s1", "task-001", "w1", "Add user auth")
    assert got["metadata"] == {"model": "haiku", "attempt": 2}
    assert abs(got["ts"] - time.time()) < 60


def test_timestamps_iso_naive_aware_and_epoch(any_project: Project) -> None:
    collector = EventCollector(any_project)
    base = time.time() - 3600
    naive_local = dt.datetime.fromtimestamp(base).isoformat()
    aware = dt.datetime.fromtimestamp(base, dt.timezone.utc).isoformat()
    collector.collect_batch([
        {"type": "a", "timestamp": naive_local},
        {"type": "b", "timestamp": aware},
        {"type": "c", "timestamp": base},
        {"type": "d", "timestamp": dt.datetime.fromtimestamp(base, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    ])
    for event in collector.get_events(hours=2):
        assert event["ts"] == pytest.approx(base, abs=0.01), event


@pytest.mark.parametrize(
    "event, message",
    [
        ({"task_id": "t"}, "without a 'type'"),
        ({"type": "  "}, "without a 'type'"),
        ({"type": "task_completed", "duration_ms": "fast"}, "duration_ms='fast': not a number"),
        ({"type": "task_completed", "cost": -1}, "cost=-1"),
        ({"type": "task_completed", "cost": 1e308}, "must be a number from 0 to 1,000,000"),  # summed, every total would be inf
        ({"type": "task_completed", "duration_ms": 1e300}, "must be a number from 0 to 1,000,000,000,000"),
        ({"type": "task_completed", "timestamp": "yesterday"}, "not ISO 8601"),
        ({"type": "task_completed", "timestamp": time.time() * 1000}, "out of range"),
        ({"type": "task_completed", "metadata": [1, 2]}, "metadata"),
        ({"type": "bad type!"}, "event type"),
    ],
)
def test_bad_events_are_rejected_and_nothing_is_written(any_project: Project, event: dict, message: str) -> None:
    collector = EventCollector(any_project)
    with pytest.raises(TelemetryError, match=message.replace("(", r"\(")):
        collector.collect_event(event)
    with pytest.raises(TelemetryError, match="batch event #1"):
        collector.collect_batch([{"type": "fine"}, event, {"type": "fine"}])
    assert count(any_project) == 0


def test_batch_is_one_transaction_and_counts(any_project: Project) -> None:
    collector = EventCollector(any_project)
    n = collector.collect_batch({"type": "task_completed", "task_id": f"t{i}", "duration_ms": i} for i in range(500))
    assert n == 500 and count(any_project) == 500
    assert [e["task_id"] for e in collector.get_events(limit=3)] == ["t499", "t498", "t497"]


def test_get_events_filters_by_type_hours_session_and_limit(any_project: Project) -> None:
    collector = EventCollector(any_project)
    old = time.time() - 5 * 3600
    collector.collect_batch([
        {"type": "task_failed", "session_id": "s1", "error": "boom", "timestamp": old},
        {"type": "task_failed", "session_id": "s2", "error": "boom"},
        {"type": "task_started", "session_id": "s1"},
        {"type": "task_started", "session_id": "s1"},
    ])
    assert len(collector.get_events(event_type="task_failed", hours=1)) == 1
    assert len(collector.get_events(event_type="task_failed", hours=6)) == 2
    assert len(collector.get_events(session_id="s1", hours=6)) == 3
    assert len(collector.get_events(session_id="s1", hours=1)) == 2
    assert len(collector.get_events(hours=6, limit=2)) == 2
    with pytest.raises(TelemetryError, match="hours"):
        collector.get_events(hours=0)


def test_failing_listener_is_logged_and_event_kept(any_project: Project, caplog: pytest.LogCaptureFixture) -> None:
    collector = EventCollector(any_project)
    seen: list[dict] = []

    def broken(event: dict) -> None:
        raise RuntimeError("listener bug")

    collector.add_listener("task_failed", broken)
    collector.add_listener("task_failed", seen.append)
    collector.add_listener("*", seen.append)
    with caplog.at_level(logging.ERROR, logger="buildrunner.telemetry.event_collector"):
        collector.collect_event({"type": "task_failed", "task_id": "t1", "error": "API timeout"})
        collector.collect_batch([{"type": "task_started", "task_id": "t2"}])
    assert "listener" in caplog.text and "listener bug" in caplog.text
    assert [e["type"] for e in seen] == ["task_failed", "task_failed", "task_started"]
    assert seen[0]["error"] == "API timeout"
    assert count(any_project) == 2


def test_disabled_telemetry_stores_nothing(tmp_project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BR_TELEMETRY_ENABLED", "false")
    project = Project(tmp_project)
    collector = EventCollector(project)
    assert collector.enabled is False
    event = collector.collect_event({"type": "task_started"})
    assert event["id"] is None
    assert collector.collect_batch([{"type": "x"}] * 3) == 0
    assert count(project) == 0
    with pytest.raises(TelemetryError):
        collector.collect_event({"duration_ms": 1})
    project.close()


def test_disabled_by_config_object(tmp_project) -> None:
    config = Config.model_validate({"telemetry": {"enabled": False}})
    with Project(tmp_project, config=config) as project:
        EventCollector(project).collect_event({"type": "x"})
        assert count(project) == 0


def test_retention_prunes_old_events_and_says_how_many(any_project: Project) -> None:
    collector = EventCollector(any_project)
    day = 86400
    collector.collect_batch([{"type": "x", "timestamp": time.time() - age * day} for age in (0, 1, 40, 100, 200)])
    assert collector.prune() == 2  # default retention_days = 90
    assert collector.prune(days=30) == 1
    assert collector.prune(days=0) == 0
    assert count(any_project) == 2


def test_error_normalisation_groups_variable_parts() -> None:
    a = normalise_error("API timeout after 30s on task 'build-7' (pid 4411)")
    b = normalise_error("API timeout after 45s on task 'lint-2' (pid 99)\ntraceback...")
    assert a == b == "API timeout after <n>s on task <value> (pid <n>)"
    assert normalise_error("can't open /tmp/a/b.txt") == normalise_error("can't open /var/x.log")
    assert normalise_error("commit 3f9a2c1d4e failed") == "commit <hex> failed"
    assert normalise_error("") == ""

past = st.datetimes(min_value=dt.datetime(1971, 1, 2), max_value=dt.datetime(2025, 12, 31), timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]))


@given(past)
def test_parse_timestamp_reads_iso_and_epoch_alike(moment: dt.datetime) -> None:
    expected = moment.timestamp()
    assert parse_timestamp(moment.isoformat()) == pytest.approx(expected, abs=1e-6)
    assert parse_timestamp(moment) == pytest.approx(expected, abs=1e-6)
    assert parse_timestamp(expected) == expected
    assert parse_timestamp(str(expected)) == pytest.approx(expected)


@given(st.text(max_size=50))
def test_parse_timestamp_never_crashes_on_text(text: str) -> None:
    try:
        parse_timestamp(text)
    except TelemetryError as exc:
        assert "timestamp" in exc.message


@settings(max_examples=200)
@given(st.text(max_size=120), st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=4))
def test_normalised_errors_ignore_numbers_and_are_stable(template: str, numbers: list[int]) -> None:
    key = normalise_error(template)
    assert normalise_error(key) == key
    assert "\n" not in key and len(key) <= 200
    message = "failed after " + " and ".join(f"{n}s" for n in numbers)
    other = "failed after " + " and ".join(f"{n + 7}s" for n in numbers)
    assert normalise_error(message) == normalise_error(other)


def test_retention_is_applied_explicitly_at_most_once_a_day_never_as_a_side_effect_of_a_write(tmp_project) -> None:
    config = Config.model_validate({"telemetry": {"retention_days": 7}})
    with Project(tmp_project, config=config) as project:
        collector = EventCollector(project)
        collector.collect_batch([{"type": "x", "timestamp": time.time() - 30 * 86400}])
        collector.collect_event({"type": "y"})
        assert count(project) == 2  # writing prunes nothing
        assert collector.prune_if_due() == 1  # the scheduled pass (a worker runs it when it starts)
        assert [e["type"] for e in collector.get_events(hours=24 * 60)] == ["y"]
        collector.collect_batch([{"type": "x", "timestamp": time.time() - 30 * 86400}])
        assert EventCollector(project).prune_if_due() == 0  # it ran less than a day ago, for anyone sharing the store
        assert collector.prune() == 1  # an explicit prune (`br telemetry prune`, `br parallel cleanup`) always runs


def test_secrets_are_masked_before_storage(any_project: Project) -> None:
    token = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
    collector = EventCollector(any_project)
    seen: list[dict] = []
    collector.add_listener("*", seen.append)
    collector.collect_event(
        {
            "type": "task_failed",
            "error": f"git push failed: https://x:{token}@github.com/o/r.git",
            "description": f"deploy with GITHUB_TOKEN={token}",
            "metadata": {"env": {"GITHUB_TOKEN": token}, "args": ["--token", token]},
        }
    )
    collector.collect_batch([{"type": "task_started", "message": f"token {token}"}])
    rows = any_project.store.fetchall("SELECT error, message, data FROM events ORDER BY id")
    assert token not in json.dumps(rows) and token not in json.dumps(seen)
    masked = f"ghp_...{token[-4:]}"  # first 4 ... last 4
    assert masked in rows[0]["error"] and masked in rows[0]["message"] and rows[1]["message"] == f"token {masked}"
    assert json.loads(rows[0]["data"]) == {"env": {"GITHUB_TOKEN": masked}, "args": ["--token", masked]}


def test_ids_and_metadata_shapes(any_project: Project) -> None:
    collector = EventCollector(any_project)
    event = collector.collect_event({"type": "x", "task_id": 7, "session_id": "", "metadata": {"when": dt.date(2025, 1, 2), "n": [1, "a"]}})
    assert (event["task_id"], event["session_id"]) == ("7", None)
    assert event["metadata"] == {"when": "2025-01-02", "n": [1, "a"]}
    with pytest.raises(TelemetryError, match="string id"):
        collector.collect_event({"type": "x", "task_id": ["a"]})
    with pytest.raises(TelemetryError, match="metadata"):
        collector.collect_event({"type": "x", "metadata": {(1, 2): "tuple key"}})
    assert count(any_project) == 1
