"""Cost tracking and budgets, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildrunner.errors import BuildRunnerError, ConfigError
from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker, period_start

CLAUDE_CODE_RESULT = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "duration_ms": 48211,
    "total_cost_usd": 0.2431,
    "usage": {"input_tokens": 12, "output_tokens": 2210, "cache_read_input_tokens": 81234, "cache_creation_input_tokens": 10422},
    "modelUsage": {
        "claude-sonnet-4-5-20250929": {
            "inputTokens": 12, "outputTokens": 2210, "cacheReadInputTokens": 81234, "cacheCreationInputTokens": 10422,
            "webSearchRequests": 0, "costUSD": 0.2101, "contextWindow": 200000,
        },
        "claude-haiku-4-5-20251001": {
            "inputTokens": 3120, "outputTokens": 410, "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0,
            "webSearchRequests": 0, "costUSD": 0.0330, "contextWindow": 200000,
        },
    },
}


@pytest.fixture
def tracker(any_project: Project) -> CostTracker:
    return CostTracker(any_project)


def test_track_request_prices_and_persists(tracker: CostTracker, any_project: Project) -> None:
    record = tracker.track_request("sonnet", 1500, 800, 1250, session_id="s1", task_id="t1")
    assert record.id is not None
    assert record.cost == pytest.approx((1500 * 3 + 800 * 15) / 1e6)
    assert (record.model, record.model_id) == ("sonnet", "claude-sonnet-4-5")
    row = any_project.store.fetchone("SELECT * FROM cost_records WHERE id = ?", (record.id,))
    assert row is not None
    assert (row["model"], row["input_tokens"], row["output_tokens"], row["latency_ms"], row["session_id"], row["task_id"]) == ("sonnet", 1500, 800, 1250, "s1", "t1")


def test_known_cost_and_cache_tokens(tracker: CostTracker) -> None:
    record = tracker.track_request("claude-opus-4-5", 10, 20, cache_read_tokens=1_000_000, cost=0.5)
    assert record.model == "opus" and record.model_id == "claude-opus-4-5" and record.cost == 0.5
    priced = tracker.track_request("haiku", 0, 0, cache_read_tokens=1_000_000, cache_write_tokens=1_000_000)
    assert priced.cost == pytest.approx(0.1 + 1.25)


def test_a_long_context_request_is_charged_the_long_context_rates(tracker: CostTracker) -> None:
    """Sonnet 4.5 charges more for a request over 200k input tokens (cached ones count): the record and the budgets
    must carry what the bill says, as genai-prices computes it for that request, not the base rate."""
    from genai_prices import Usage, calc_price

    def billed(**usage: int) -> float:
        return float(calc_price(Usage(**usage), "claude-sonnet-4-5", provider_id="anthropic").total_price)

    long = tracker.track_request("sonnet", 300_000, 10_000)
    assert long.cost == pytest.approx(billed(input_tokens=300_000, output_tokens=10_000))
    assert long.cost > (300_000 * 3 + 10_000 * 15) / 1e6 * 1.5  # the base rates would be a third too low or worse
    cached = tracker.track_request("sonnet", 150_000, 1_000, cache_read_tokens=100_000)
    assert cached.cost == pytest.approx(billed(input_tokens=250_000, cache_read_tokens=100_000, output_tokens=1_000))
    short = tracker.track_request("sonnet", 150_000, 1_000)
    assert short.cost == pytest.approx((150_000 * 3 + 1_000 * 15) / 1e6)
    assert tracker.spent("all") == pytest.approx(long.cost + cached.cost + short.cost)


def test_summary_by_model_day_and_average(tracker: CostTracker) -> None:
    tracker.track_request("haiku", 1000, 1000, cost=1.25)
    tracker.track_request("haiku", 1000, 1000, cost=0.75)
    tracker.track_request("opus", 1000, 1000, cost=3.0)
    summary = tracker.get_summary("day")
    assert summary.period == "day"
    assert summary.request_count == 3
    assert summary.total_cost == pytest.approx(5.0)
    assert summary.by_model == {"haiku": pytest.approx(2.0), "opus": pytest.approx(3.0)}
    assert summary.requests_by_model == {"haiku": 2, "opus": 1}
    assert list(summary.by_day.values()) == [pytest.approx(5.0)]
    assert summary.avg_cost_per_request == pytest.approx(5.0 / 3)
    assert summary.budget_limit == 10.0 and summary.budget_remaining == pytest.approx(5.0)


def test_periods_are_calendar_periods(tracker: CostTracker) -> None:
    day_start = period_start("day")
    month_start = period_start("month")
    assert day_start is not None and month_start is not None
    tracker.track_request("sonnet", 0, 0, cost=1.0, ts=day_start)  # first instant of today
    tracker.track_request("sonnet", 0, 0, cost=2.0, ts=day_start - 1)  # last second of yesterday
    tracker.track_request("sonnet", 0, 0, cost=4.0, ts=month_start - 1)  # last month
    assert tracker.spent("day") == pytest.approx(1.0)
    assert tracker.get_summary("day").request_count == 1
    assert tracker.spent("month") == pytest.approx(1.0 + (2.0 if day_start - 1 >= month_start else 0.0))
    everything = tracker.get_summary("all")
    assert everything.total_cost == pytest.approx(7.0) and everything.request_count == 3
    assert len(everything.by_day) >= 2


def test_empty_store_summary(tracker: CostTracker) -> None:
    summary = tracker.get_summary("week")
    assert (summary.total_cost, summary.request_count, summary.avg_cost_per_request, summary.by_model) == (0.0, 0, 0.0, {})
    assert isinstance(summary.total_cost, float)  # the spec's type, also in JSON ("total_cost": 0.0)


def test_claude_code_result_one_row_per_model(tracker: CostTracker, any_project: Project) -> None:
    record = tracker.track_claude_code_result(CLAUDE_CODE_RESULT, model="sonnet", session_id="s", task_id="t")
    assert record.cost == pytest.approx(0.2431)  # total_cost_usd wins
    assert record.model == "sonnet"  # the model that cost the most
    assert [(p.model, p.cost) for p in record.parts] == [("haiku", pytest.approx(0.0330)), ("sonnet", pytest.approx(0.2101))]
    assert record.parts[0].ts == record.parts[1].ts
    assert record.cache_read_tokens == 81234 and record.input_tokens == 3132
    rows = any_project.store.fetchall("SELECT model, model_id, source, task_id FROM cost_records ORDER BY id")
    assert rows == [
        {"model": "haiku", "model_id": "claude-haiku-4-5-20251001", "source": "claude-code", "task_id": "t"},
        {"model": "sonnet", "model_id": "claude-sonnet-4-5-20250929", "source": "claude-code", "task_id": "t"},
    ]
    assert tracker.get_summary("day").by_model == {"haiku": pytest.approx(0.033), "sonnet": pytest.approx(0.2101)}


def test_claude_code_result_without_model_usage_uses_usage_and_total(tracker: CostTracker) -> None:
    result = {k: v for k, v in CLAUDE_CODE_RESULT.items() if k != "modelUsage"}
    record = tracker.track_claude_code_result(result, model="opus")
    assert (record.model, record.cost, record.latency_ms, record.cache_write_tokens) == ("opus", pytest.approx(0.2431), 48211, 10422)
    no_cost = tracker.track_claude_code_result({"usage": {"input_tokens": 1_000_000, "output_tokens": 0}}, model="haiku")
    assert no_cost.cost == pytest.approx(1.0)  # computed from the tier's prices


def test_an_agent_result_with_an_absurd_cost_is_refused_and_totals_stay_finite(tracker: CostTracker) -> None:
    with pytest.raises(ConfigError, match="cost=1e"):
        tracker.track_claude_code_result({"total_cost_usd": 1e308, "usage": {}}, model="haiku")
    tracker.track_claude_code_result({"total_cost_usd": 0.25, "usage": {}}, model="haiku")
    assert tracker.get_summary("day").total_cost == pytest.approx(0.25)


def test_anthropic_usage_dict(tracker: CostTracker) -> None:
    usage = {"input_tokens": 1000, "output_tokens": 500, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 100}
    record = tracker.track_anthropic_usage("claude-sonnet-4-5", usage, 900)
    assert record.cost == pytest.approx((1000 * 3 + 500 * 15 + 2000 * 0.3 + 100 * 3.75) / 1e6)
    assert record.source == "anthropic" and record.latency_ms == 900


def test_unknown_model_needs_a_cost(tracker: CostTracker) -> None:
    with pytest.raises(ConfigError, match="unknown model 'mystery-1'") as err:
        tracker.track_request("mystery-1", 10, 10)
    assert "haiku" in (err.value.hint or "")
    assert tracker.track_request("mystery-1", 10, 10, cost=0.02).model == "mystery-1"
    assert tracker.get_summary("day").by_model == {"mystery-1": pytest.approx(0.02)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_tokens": -1}, {"cost": -0.5}, {"latency_ms": float("nan")}, {"cache_read_tokens": "many"},
        {"cost": 1e308}, {"input_tokens": 10**30}, {"latency_ms": 1e300},  # garbage, not a cost: stored, every total would be infinite
    ],
)
def test_bad_values_are_rejected_and_nothing_is_stored(tracker: CostTracker, kwargs: dict) -> None:
    args = {"model": "haiku", "input_tokens": 10, "output_tokens": 10, **kwargs}
    with pytest.raises(ConfigError):
        tracker.track_request(**args)
    assert tracker.get_summary("all").request_count == 0


def test_budgets_from_config(write_config, tmp_project: Path, any_project: Project) -> None:
    write_config({"routing": {"cost_limits": {"daily": 5, "weekly": 3, "monthly": 0}}})
    tracker = CostTracker(Project(tmp_project, store=any_project.store))
    assert tracker.budget_limit("month") is None  # 0 = no limit
    assert tracker.remaining_budget() == pytest.approx(3.0)  # the tightest
    tracker.track_request("sonnet", 0, 0, cost=2.0)
    assert tracker.remaining_budget("day") == pytest.approx(3.0)
    assert tracker.remaining_budget("week") == pytest.approx(1.0)
    assert tracker.remaining_budget("month") is None
    assert tracker.would_exceed(0.5) is False
    assert tracker.would_exceed(1.5) is True
    assert tracker.would_exceed(1.5, period="day") is False
    tracker.track_request("sonnet", 0, 0, cost=1.5)
    assert tracker.remaining_budget() == 0.0  # spent: the runner stops routing work


def test_env_limits_override_config(write_config, tmp_project: Path, any_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config({"routing": {"cost_limits": {"daily": 5, "weekly": 50, "monthly": 100}}})
    monkeypatch.setenv("BR_COST_LIMIT_DAILY", "0.25")
    tracker = CostTracker(Project(tmp_project, store=any_project.store))
    tracker.track_request("haiku", 0, 0, cost=0.2)
    assert tracker.remaining_budget() == pytest.approx(0.05)


def test_no_limits_at_all(write_config, tmp_project: Path, any_project: Project) -> None:
    write_config({"routing": {"cost_limits": {"daily": 0, "weekly": 0, "monthly": 0}}})
    tracker = CostTracker(Project(tmp_project, store=any_project.store))
    tracker.track_request("opus", 0, 0, cost=1000.0)
    assert tracker.remaining_budget() is None and tracker.would_exceed(1e9) is False


def test_export_csv(tracker: CostTracker, tmp_path: Path) -> None:
    tracker.track_request("haiku", 100, 50, 300, task_id="t1")
    tracker.track_request("opus", 10, 5, cost=0.3)
    target = tmp_path / "costs.csv"
    assert tracker.export_csv(target, period="month") == 2
    rows = list(csv.DictReader(target.open()))
    assert [r["model"] for r in rows] == ["haiku", "opus"]
    assert rows[0]["timestamp_utc"].endswith("+00:00") and rows[0]["task_id"] == "t1" and rows[1]["task_id"] == ""
    assert float(rows[1]["cost"]) == 0.3
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(BuildRunnerError, match="cannot"):
        tracker.export_csv(blocker / "c.csv")


def test_rollup_follows_deletes_and_updates(tracker: CostTracker, any_project: Project) -> None:
    keep = tracker.track_request("haiku", 0, 0, cost=1.0, latency_ms=100)
    drop = tracker.track_request("haiku", 0, 0, cost=2.0, latency_ms=300)
    store = any_project.store
    with store.transaction():
        store.execute("DELETE FROM cost_records WHERE id = ?", (drop.id,))
        store.execute("UPDATE cost_records SET model = 'opus', cost = 5.0 WHERE id = ?", (keep.id,))
    summary = tracker.get_summary("day")
    assert summary.by_model == {"opus": pytest.approx(5.0)} and summary.request_count == 1
    assert tracker.observed_latency() == {"opus": pytest.approx(100.0)}


def test_observed_latency_feeds_the_catalogue(tracker: CostTracker, any_project: Project) -> None:
    from buildrunner.routing.models import catalogue

    tracker.track_request("sonnet", 0, 0, 800)
    tracker.track_request("sonnet", 0, 0, 1200)
    models = catalogue(any_project, observed_latency=tracker.observed_latency())
    assert models["sonnet"].typical_latency_ms == pytest.approx(1000) and models["sonnet"].latency_source == "telemetry"
    assert models["opus"].latency_source == "config"
    tracker.track_claude_code_result(CLAUDE_CODE_RESULT)  # a 48 s agent run is not a model latency
    assert tracker.observed_latency()["sonnet"] == pytest.approx(1000)


WRITER = """
import sys
from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker
tracker = CostTracker(Project(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    tracker.track_request("haiku", 1000, 100, 5.0)
"""


@pytest.mark.slow
def test_concurrent_writers_keep_totals_exact(tracker: CostTracker, tmp_project: Path, any_project: Project) -> None:
    env = dict(os.environ)
    if any_project.store.dialect == "sqlite":  # the fixture's SQLite file, not the project default
        env["BR_DATABASE_URL"] = any_project.store.url
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_project), "40"], env=env) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    summary = tracker.get_summary("all")
    raw = any_project.store.fetchone("SELECT COUNT(*) AS n, SUM(cost) AS total FROM cost_records")
    assert raw is not None
    assert summary.request_count == raw["n"] == 120
    assert summary.total_cost == pytest.approx(float(raw["total"]))
    assert json.dumps(summary.by_model)  # plain data, ready for --format json


def test_records_stream_in_pages_in_insertion_order(tracker: CostTracker) -> None:
    day_start = period_start("day")
    assert day_start is not None
    ids = [tracker.track_request("haiku", 0, 0, cost=0.01 * n, ts=day_start + n).id for n in range(5)]
    tracker.track_request("haiku", 0, 0, cost=9.0, ts=day_start - 86400 * 40)  # outside the month
    assert [r.id for r in tracker.iter_records("day", page=2)] == ids
    assert len(tracker.records("all")) == 6


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch):
    """The process's local zone is Europe/Berlin (clocks change on 29 March and 25 October 2026)."""
    import time as _time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    _time.tzset()
    yield
    monkeypatch.undo()
    _time.tzset()


def _berlin(*args: int) -> float:
    import datetime as dt
    from zoneinfo import ZoneInfo

    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


def test_budget_periods_are_local_calendar_periods_across_clock_changes(berlin: None) -> None:
    """A month, week or day spanning a clock change starts and ends at local midnight (it was an hour off: March's
    budget counted the last hour of February, and "it resets at" named 01:00)."""
    from buildrunner.routing.cost_tracker import period_end

    assert period_start("month", _berlin(2026, 3, 31, 12)) == _berlin(2026, 3, 1)
    assert period_start("day", _berlin(2026, 3, 29, 12)) == _berlin(2026, 3, 29)  # the change day itself
    assert period_end("day", _berlin(2026, 3, 29, 12)) == _berlin(2026, 3, 30)  # a 23-hour day
    assert period_end("week", _berlin(2026, 3, 26, 9)) == _berlin(2026, 3, 30)  # Monday, midnight
    assert period_end("month", _berlin(2026, 10, 20)) == _berlin(2026, 11, 1)
    assert period_start("week", _berlin(2026, 10, 26, 8)) == _berlin(2026, 10, 26)


def test_spend_is_booked_on_its_own_local_day_whatever_the_season_now(tracker: CostTracker, berlin: None) -> None:
    """Spend at 00:30 on a summer night belongs to that date, read in winter too (one offset for every record put it
    on the day before)."""
    tracker.track_request("haiku", 0, 0, cost=1.0, ts=_berlin(2026, 7, 15, 0, 30))
    tracker.track_request("haiku", 0, 0, cost=2.0, ts=_berlin(2026, 1, 15, 23, 50))
    tracker.track_request("haiku", 0, 0, cost=4.0, ts=_berlin(2026, 3, 29, 23, 30))  # late on the 23-hour day
    assert tracker.get_summary("all").by_day == {"2026-01-15": 2.0, "2026-03-29": 4.0, "2026-07-15": 1.0}


def test_an_agent_runs_summed_usage_is_priced_at_the_base_rates(tracker: CostTracker) -> None:
    """A Claude Code result's usage adds up many requests: past 200k in total it is not one long-context request."""
    result = {**CLAUDE_CODE_RESULT, "modelUsage": {"claude-sonnet-4-5": {"inputTokens": 2000, "outputTokens": 20000, "cacheReadInputTokens": 900000, "cacheCreationInputTokens": 60000}}}
    result.pop("total_cost_usd")
    record = tracker.track_claude_code_result(result)
    assert record.cost == pytest.approx((2000 * 3 + 20000 * 15 + 900000 * 0.3 + 60000 * 3.75) / 1e6)


@pytest.mark.parametrize("when", ["milliseconds", "three days ahead", "before 1970", "nan"])
def test_a_time_that_cannot_be_when_work_was_done_is_refused(tracker: CostTracker, when: str) -> None:
    """A time in milliseconds made every report fail ("year 58899 is out of range"); one in the future counted against
    today's budget."""
    import time

    ts = {"milliseconds": time.time() * 1000, "three days ahead": time.time() + 3 * 86400, "before 1970": -5.0, "nan": float("nan")}[when]
    with pytest.raises(ConfigError, match="not a time of work done"):
        tracker.track_request("haiku", 0, 0, cost=0.5, ts=ts)
    assert tracker.get_summary("all").request_count == 0


def test_a_time_in_milliseconds_stored_by_an_older_release_does_not_break_the_reports(any_project: Project, run_br) -> None:  # type: ignore[no-untyped-def]
    import time

    CostTracker(any_project).track_request("haiku", 0, 0, cost=0.5)
    any_project.store.execute(
        "INSERT INTO cost_records (ts, model, model_id, cost, source, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens) "
        "VALUES (?, 'haiku', 'claude-haiku-4-5', 0.25, 'api', 0, 0, 0, 0)",
        (time.time() * 1000,),
    )
    for args in (("routing", "costs"), ("routing", "costs", "--period", "all", "--format", "csv"), ("telemetry", "summary")):
        result = run_br(*args)
        assert result.returncode == 0, (args, result.stderr)
    summary = CostTracker(any_project).get_summary("all")
    assert summary.total_cost == 0.75 and "9999-12-31" in summary.by_day  # the odd row is shown, on a date no one misses


def test_a_budget_spent_in_many_small_records_is_spent_exactly(tracker: CostTracker, any_project: Project) -> None:
    """A hundred records of $0.10 summed to 9.99999999999998: a $10 budget was not spent, with $0.00000000000002 left."""
    from buildrunner.telemetry.alerts import AlertManager

    for _ in range(100):
        tracker.track_request("haiku", 0, 0, cost=0.1)
    assert tracker.spent("day") == 10.0
    assert tracker.remaining_budget("day") == 0.0
    assert tracker.get_summary("day").budget_remaining == 0.0
    daily = {a.key: a for a in AlertManager(any_project).check()}["cost.daily"]
    assert (daily.level, daily.title, daily.current_value) == ("critical", "Daily cost limit reached", 10.0)


@pytest.mark.parametrize("model", ["gpt-5.1-codex", "gemini-2.5-pro"])
def test_the_models_codex_and_gemini_run_are_priced_without_a_tier(tracker: CostTracker, model: str) -> None:
    """track_request looked prices up under Anthropic only: the models BuildRunner's own agents run could not be recorded."""
    from genai_prices import Usage, calc_price

    record = tracker.track_request(model, 100_000, 10_000, agent="codex")
    expected = float(calc_price(Usage(input_tokens=100_000, output_tokens=10_000), model).total_price)
    assert (record.model, record.cost) == (model, pytest.approx(expected))
