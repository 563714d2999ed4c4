"""Costs by agent in a real store (SQLite and PostgreSQL): records, summaries, budgets, CSV, telemetry, migration 0011."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from buildrunner.agents import get_agent
from buildrunner.agents.base import AgentResult
from buildrunner.config import Config
from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker
from buildrunner.store import open_store
from buildrunner.store.base import migrations, split_statements
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

from .conftest import feed_all, fixture_lines, scenarios

MODEL = {"claude": "claude-sonnet-4-5", "codex": "gpt-5.1-codex", "gemini": "gemini-2.5-flash"}


def fixture_result(vendor: str, scenario: str = "success") -> AgentResult:
    run = get_agent(vendor, Config()).start(MODEL[vendor])
    feed_all(run, fixture_lines(vendor, scenario))
    return run.finish(scenarios(vendor)[scenario]["exit"])


@pytest.fixture
def tracker(any_project: Project) -> CostTracker:
    return CostTracker(any_project)


def rows(project: Project) -> list[dict[str, Any]]:
    return project.store.fetchall("SELECT model, model_id, agent, source, cost, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, task_id FROM cost_records ORDER BY id")


def test_each_agents_result_is_stored_per_model_with_its_agent(tracker: CostTracker, any_project: Project) -> None:
    claude, codex, gemini = (fixture_result(v) for v in ("claude", "codex", "gemini"))
    record = tracker.track_agent_result(claude, session_id="s1", task_id="docs")
    assert record is not None and record.cost == claude.cost_usd and record.agent == "claude"
    assert {p.model for p in record.parts} == {"sonnet", "haiku"}  # Claude's models are routing tiers
    assert tracker.track_agent_result(codex, session_id="s1", task_id="docs") is not None
    assert tracker.track_agent_result(gemini, session_id="s1", task_id="docs") is not None
    stored = rows(any_project)
    assert [(r["agent"], r["model"]) for r in stored] == [
        ("claude", "haiku"), ("claude", "sonnet"), ("codex", "gpt-5.1-codex"), ("gemini", "gemini-2.5-flash"), ("gemini", "gemini-2.5-flash-lite"),
    ]
    by_row = {(r["agent"], r["model_id"]): r for r in stored}
    for result in (claude, codex, gemini):
        for model, cost in result.cost_by_model.items():
            row = by_row[(result.agent, model)]
            assert row["cost"] == pytest.approx(cost)
            tokens = result.tokens_by_model[model]
            assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (tokens.input, tokens.output, tokens.cache_read, tokens.cache_write)
    assert {r["source"] for r in stored} == {"claude-code", "codex", "gemini"}


def test_summary_groups_by_agent_and_model_and_budgets_count_every_agent(tracker: CostTracker, any_project: Project, tmp_project: Path) -> None:
    (tmp_project / ".buildrunner" / "config.json").write_text(json.dumps({"routing": {"cost_limits": {"daily": 0.06}}}), encoding="utf-8")
    results = [fixture_result(v) for v in ("claude", "codex", "gemini")]
    for result in results:
        tracker.track_agent_result(result)
    tracker.track_request("haiku", 1000, 100)  # a direct API request
    summary = tracker.get_summary("day")
    expected_total = sum(r.cost_usd for r in results) + (1000 * 1 + 100 * 5) / 1e6
    assert summary.total_cost == pytest.approx(expected_total, abs=1e-6)
    assert summary.by_agent == pytest.approx({"claude": results[0].cost_usd, "codex": results[1].cost_usd, "gemini": results[2].cost_usd, "api": 0.0015}, abs=1e-6)
    assert list(summary.by_agent)[-1] == "api"
    assert summary.requests_by_agent == {"claude": 2, "codex": 1, "gemini": 2, "api": 1}
    assert set(summary.by_agent_model["claude"]) == {"haiku", "sonnet"} and set(summary.by_agent_model["gemini"]) == {"gemini-2.5-flash", "gemini-2.5-flash-lite"}
    assert summary.by_model["haiku"] == pytest.approx(summary.by_agent_model["claude"]["haiku"] + 0.0015, abs=1e-6)
    assert tracker.spent("day") == pytest.approx(expected_total, abs=1e-6)
    assert tracker.remaining_budget("day") == pytest.approx(max(0.0, 0.06 - expected_total), abs=1e-6)
    assert tracker.would_exceed(0.01, "day")  # the claude run alone is under the limit; all agents together are not


def test_an_attempt_that_spent_nothing_stores_nothing(tracker: CostTracker, any_project: Project) -> None:
    crashed = fixture_result("codex", "crash")
    assert crashed.cost_usd == 0 and tracker.track_agent_result(crashed) is None
    assert rows(any_project) == []


def test_claude_code_results_tracked_the_old_way_are_claudes(tracker: CostTracker, any_project: Project) -> None:
    final = [json.loads(line) for line in fixture_lines("claude", "json-success")][0]
    tracker.track_claude_code_result(final, task_id="t")
    assert {r["agent"] for r in rows(any_project)} == {"claude"}
    assert set(tracker.get_summary("day").by_agent) == {"claude"}


def test_agent_durations_stay_out_of_model_latency(tracker: CostTracker) -> None:
    result = fixture_result("claude", "json-success")
    single = AgentResult(**{**result.__dict__, "cost_by_model": {"claude-haiku-4-5": 0.01}, "tokens_by_model": {"claude-haiku-4-5": result.tokens}, "duration_ms": 90_000.0})
    tracker.track_agent_result(single)
    tracker.track_request("haiku", 10, 10, 500)
    assert tracker.observed_latency() == {"haiku": 500.0}


def test_costs_cli_shows_agents_in_text_json_and_csv(run_br: Any, tmp_project: Path) -> None:
    project = Project(tmp_project)
    try:
        tracker = CostTracker(project)
        for vendor in ("claude", "codex"):
            tracker.track_agent_result(fixture_result(vendor), task_id="t1")
    finally:
        project.close()
    text = run_br("routing", "costs")
    assert text.returncode == 0, text.stderr
    assert "By Agent and Model:" in text.stdout and "claude: 2 requests" in text.stdout and "codex: 1 request |" in text.stdout
    assert "gpt-5.1-codex:" in text.stdout
    data = json.loads(run_br("routing", "costs", "--format", "json").stdout)
    assert set(data["by_agent"]) == {"claude", "codex"} and data["requests_by_agent"] == {"claude": 2, "codex": 1}
    assert set(data["by_agent_model"]["claude"]) == {"haiku", "sonnet"}
    table = list(csv.DictReader(io.StringIO(run_br("routing", "costs", "--format", "csv").stdout)))
    assert [r["agent"] for r in table] == ["claude", "claude", "codex"]
    summary = run_br("telemetry", "summary")  # telemetry groups spend by agent and model too
    assert "claude · sonnet:" in summary.stdout and "codex · gpt-5.1-codex:" in summary.stdout
    by_agent = json.loads(run_br("telemetry", "summary", "--format", "json").stdout)["cost_by_agent_model"]
    assert set(by_agent) == {"claude", "codex"} and sum(by_agent["claude"].values()) == pytest.approx(data["by_agent"]["claude"], abs=1e-6)


def test_telemetry_cost_view_shows_the_agent(tracker: CostTracker, any_project: Project) -> None:
    tracker.track_agent_result(fixture_result("gemini"))
    tracker.track_request("sonnet", 100, 100)
    costs = MetricsAnalyzer(any_project).costs(24)
    assert set(costs.by_agent_model) == {"gemini", "api"}
    assert set(costs.by_agent_model["gemini"]) == {"gemini-2.5-flash", "gemini-2.5-flash-lite"}
    assert costs.total == pytest.approx(sum(sum(m.values()) for m in costs.by_agent_model.values()))


OLD_ROWS = [
    # ts, model, model_id, cost, latency_ms, source
    (1_700_000_000.0, "sonnet", "claude-sonnet-4-5", 0.25, 48_000.0, "claude-code"),
    (1_700_000_100.0, "haiku", "claude-haiku-4-5", 0.01, 700.0, "api"),
    (1_700_000_200.0, "haiku", "claude-haiku-4-5", 0.02, 900.0, "anthropic"),
]


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_0011_names_old_claude_code_records_and_keeps_totals(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    statements = [s for version, sql in migrations(dialect) if version <= 8 for s in split_statements(sql)]
    insert = "INSERT INTO cost_records (ts, model, model_id, cost, latency_ms, source) VALUES ({})"
    if dialect == "sqlite":
        url = str(tmp_path / "old.db")
        conn = sqlite3.connect(url)
        for statement in statements:
            conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
        conn.executemany("INSERT INTO schema_version VALUES (?, 0)", [(v,) for v, _ in migrations(dialect) if v <= 8])
        conn.executemany(insert.format("?, ?, ?, ?, ?, ?"), OLD_ROWS)
        conn.commit()
        conn.close()
    else:
        import psycopg

        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
            for version, _ in migrations(dialect):
                if version <= 8:
                    conn.execute("INSERT INTO schema_version VALUES (%s, 0)", (version,))
            for row in OLD_ROWS:
                conn.execute(insert.format("%s, %s, %s, %s, %s, %s"), row)
    store = open_store(url=url)
    try:
        assert store.schema_version() >= 11
        agents = {r["source"]: r["agent"] for r in store.fetchall("SELECT source, agent FROM cost_records")}
        assert agents == {"claude-code": "claude", "api": None, "anthropic": None}
        rollup = store.fetchall("SELECT agent, model, SUM(requests) AS n, SUM(cost) AS cost, SUM(latency_sum) AS lat, SUM(latency_count) AS lc FROM cost_rollup GROUP BY agent, model ORDER BY agent, model")
        assert [(r["agent"], r["model"], int(r["n"]), round(float(r["cost"]), 6), float(r["lat"]), int(r["lc"])) for r in rollup] == [
            ("", "haiku", 2, 0.03, 1600.0, 2),
            ("claude", "sonnet", 1, 0.25, 0.0, 0),
        ]
    finally:
        store.close()
