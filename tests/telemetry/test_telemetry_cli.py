"""`br telemetry ...` as a user runs it: real subprocesses on a real project store."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from telemetry_helpers import add_cost, add_worker, finished

from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker
from buildrunner.telemetry.event_collector import EventCollector


@pytest.fixture
def filled(project: Project) -> Project:
    now = time.time()
    EventCollector(project).collect_batch(
        [
            {"type": "task_started", "session_id": "s1", "task_id": "task-001", "description": "Add user auth", "timestamp": now - 600},
            finished("s1", "task-001", True, 82000, age_s=500, cost=0.15),
            {"type": "task_started", "session_id": "s1", "task_id": "task-002", "description": "Fix bug #123", "timestamp": now - 400},
            finished("s1", "task-002", False, 1200, age_s=300, error="API timeout"),
            {"type": "task_retry", "session_id": "s1", "task_id": "task-002", "attempt": 2, "max_attempts": 3, "timestamp": now - 250},
            finished("s1", "task-002", True, 104000, age_s=200),
            finished("s1", "task-003", False, 900, age_s=100, error="API rate limit exceeded"),
            finished("s1", "task-004", False, 900, age_s=90, error="API rate limit exceeded"),
        ]
    )
    add_cost(project, 12.45)
    add_worker(project, "w1", cpu_seconds=12, peak_rss=245 * 2**20, wall_s=60)
    return project


def test_summary_text_and_json(filled: Project, run_br) -> None:
    r = run_br("telemetry", "summary")
    assert r.returncode == 0, r.stderr
    assert "Telemetry Summary (Last 24 Hours)" in r.stdout
    assert "Success Rate: 50% (2/4 tasks)" in r.stdout
    assert "Total Cost: $12.45" in r.stdout and "Error Count: 3" in r.stdout  # task-001's $0.15 is session s1's: its records count and "Event Count: 8" in r.stdout
    assert "• API rate limit exceeded (2 times)" in r.stdout
    assert "Daily Cost (last 7 days)" in r.stdout and "█" in r.stdout
    data = json.loads(run_br("telemetry", "summary", "--format", "json").stdout)
    assert data["metrics"]["success_rate"] == 50.0 and data["has_data"] is True
    assert data["metrics"]["top_errors"][0]["count"] == 2


def test_summary_without_data_says_no_data(project: Project, run_br) -> None:
    r = run_br("telemetry", "summary")
    assert "Success Rate: no data" in r.stdout and "0%" not in r.stdout
    assert json.loads(run_br("telemetry", "summary", "-f", "json").stdout)["metrics"]["success_rate"] is None


def test_events_listing_and_filters(filled: Project, run_br) -> None:
    r = run_br("telemetry", "events")
    lines = [line for line in r.stdout.splitlines() if " | " in line]
    assert len(lines) == 8
    assert "| task_started      | task-001 | Add user auth" in lines[0]
    assert "Duration: 82s" in lines[1] and "Error: API timeout" in lines[3] and "Attempt 2/3" in lines[4]
    failed = json.loads(run_br("telemetry", "events", "--type", "task_failed", "--format", "json").stdout)
    assert [e["task_id"] for e in failed] == ["task-002", "task-003", "task-004"]
    assert len(json.loads(run_br("telemetry", "events", "--limit", "2", "-f", "json").stdout)) == 2
    typo = run_br("telemetry", "events", "--type", "task_faild")
    assert typo.returncode == 2 and "did you mean 'task_failed'" in typo.stderr and "Traceback" not in typo.stderr


def test_events_of_a_session_by_id_name_or_prefix_and_an_unknown_one_is_not_found(filled: Project, run_br) -> None:
    from buildrunner.parallel.plan import validate_plan
    from buildrunner.parallel.session_manager import SessionManager

    reported = json.loads(run_br("telemetry", "events", "--session", "s1", "-f", "json").stdout)  # an id only events carry
    assert len(reported) == 8 and {e["session_id"] for e in reported} == {"s1"}
    nightly = SessionManager(filled).create_session("nightly", plan=validate_plan({"tasks": [{"id": "a", "command": "true"}]}, "p"), start_workers=False)
    for given in ("nightly", nightly.session_id, nightly.session_id[:14]):
        shown = json.loads(run_br("telemetry", "events", "--session", given, "-f", "json").stdout)
        assert [e["type"] for e in shown] == ["session_started"] and shown[0]["session_id"] == nightly.session_id, given
    unknown = run_br("telemetry", "events", "--session", "nope")
    assert unknown.returncode == 6 and "session nope: not found" in unknown.stderr and "br parallel list" in unknown.stderr


def test_alerts_and_level_filter(filled: Project, run_br) -> None:
    r = run_br("telemetry", "alerts")
    assert "Active Alerts" in r.stdout
    assert "CRITICAL: Daily cost exceeded" in r.stdout and "Current: $12.45" in r.stdout and "Threshold: $10.00" in r.stdout
    assert "WARNING: Success rate below threshold" in r.stdout and "Current: 50%" in r.stdout
    critical = json.loads(run_br("telemetry", "alerts", "--level", "critical", "-f", "json").stdout)
    assert {a["level"] for a in critical} == {"critical"} and critical
    bad = run_br("telemetry", "alerts", "--level", "urgent")
    assert bad.returncode == 2 and "'urgent' is not one of 'info', 'warning', 'critical'" in bad.stderr
    assert "Value error" not in bad.stderr  # a library's prefix, whichever Typer checks the choice


def test_alerts_all_lists_the_resolved_ones_with_when(filled: Project, run_br) -> None:
    """Without `--all` a recovered alert just vanishes; with it the history says when it fired and when it resolved."""
    assert "Success rate below threshold" in run_br("telemetry", "alerts").stdout
    EventCollector(filled).collect_batch([finished("s2", f"ok-{n}", True, 500, age_s=5) for n in range(30)])
    assert "Success rate below threshold" not in run_br("telemetry", "alerts").stdout
    everything = json.loads(run_br("telemetry", "alerts", "--all", "--format", "json").stdout)
    [recovered] = [a for a in everything if a["key"] == "success_rate"]
    assert recovered["active"] is False and recovered["resolved_at"] >= recovered["last_triggered"]
    assert "Resolved:" in run_br("telemetry", "alerts", "--all").stdout


def test_a_look_over_another_window_does_not_rewrite_the_alert_history(filled: Project, run_br) -> None:
    """`alerts --hours 1` resolved the day's success-rate alert, and the next plain look started a new episode."""
    first = {a["key"]: a for a in json.loads(run_br("telemetry", "alerts", "--format", "json").stdout)}
    narrow = run_br("telemetry", "alerts", "--hours", "1", "--format", "json")
    assert narrow.returncode == 0 and "not recorded" in narrow.stderr
    again = {a["key"]: a for a in json.loads(run_br("telemetry", "alerts", "--format", "json").stdout)}
    assert again["success_rate"]["first_triggered"] == first["success_rate"]["first_triggered"]
    everything = json.loads(run_br("telemetry", "alerts", "--all", "--format", "json").stdout)
    assert all(a["active"] for a in everything if a["key"] == "success_rate")


def test_the_exported_alert_gauge_is_what_fires_now_not_the_last_look(filled: Project, run_br) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    assert run_br("telemetry", "export", "a.prom", "--type", "prometheus").returncode == 0  # no `alerts` run before it
    samples = {(s.name, s.labels.get("level")): s.value for f in text_string_to_metric_families((filled.paths.root / "a.prom").read_text()) for s in f.samples}
    assert samples[("buildrunner_alerts_active", "critical")] >= 1  # the daily cost over its limit
    assert samples[("buildrunner_alerts_active", "warning")] >= 1  # the success rate


def test_performance_text_and_json(filled: Project, run_br) -> None:
    r = run_br("telemetry", "performance")
    assert "Latency Percentiles:" in r.stdout and "P50: 1200ms" in r.stdout
    assert "Memory: 245.0 MB" in r.stdout and "Disk:" in r.stdout and "Latency Distribution:" in r.stdout
    data = json.loads(run_br("telemetry", "performance", "-f", "json").stdout)
    assert data["p99_latency_ms"] == 104000.0 and data["workers"] == 1 and data["disk_bytes"] > 0


def test_export_csv_types_and_export_dir(filled: Project, run_br, tmp_path: Path) -> None:
    assert run_br("telemetry", "export", "metrics.csv").returncode == 0
    [today] = [row for row in csv.DictReader(open(filled.paths.root / "metrics.csv")) if row["finished_tasks"] != "0"]
    assert (today["succeeded_tasks"], today["failed_tasks"], today["success_rate"]) == ("2", "2", "50.0")
    out = tmp_path / "exports"
    r = run_br("telemetry", "export", "events.csv", "--type", "events", env={"BR_TELEMETRY_EXPORT_DIR": str(out)})
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "events.csv")))
    assert len(rows) == 8 and rows[4]["metadata"] == '{"attempt":2,"max_attempts":3}'
    assert run_br("telemetry", "export", str(tmp_path / "c.csv"), "--type", "costs", "--hours", "168").returncode == 0
    [cost] = list(csv.DictReader(open(tmp_path / "c.csv")))
    assert cost["cost"] == "12.45" and cost["model"] == "sonnet"
    CostTracker(filled).export_csv(tmp_path / "same.csv", period="all")  # the library's export: the same layout
    with open(tmp_path / "c.csv") as telemetry, open(tmp_path / "same.csv") as routing:
        assert next(csv.reader(telemetry)) == next(csv.reader(routing)) and "agent" in cost and "timestamp_utc" in cost


def test_export_bad_type_writes_nothing(filled: Project, run_br) -> None:
    r = run_br("telemetry", "export", "x.csv", "--type", "everything")
    assert r.returncode == 2 and "unknown export type" in r.stderr
    assert not (filled.paths.root / "x.csv").exists()
    assert run_br("telemetry", "export").returncode == 2


def test_export_to_stdout_with_json_is_refused_as_it_would_mix_two_documents(filled: Project, run_br) -> None:
    """`export - --format json` printed the CSV and then the JSON summary on stdout: neither could be parsed."""
    r = run_br("telemetry", "export", "-", "--type", "events", "--format", "json")
    assert r.returncode == 2 and r.stdout == "" and "stdout is the export" in r.stderr
    plain = run_br("telemetry", "export", "-", "--type", "events")
    assert plain.returncode == 0 and len(list(csv.DictReader(plain.stdout.splitlines()))) == 8


def test_export_to_a_place_that_cannot_be_written_is_one_line(filled: Project, run_br, tmp_path: Path) -> None:
    r = run_br("telemetry", "export", "/proc/metrics.csv")
    assert r.returncode == 1 and r.stderr.startswith("error: /proc/metrics.csv: cannot write here")
    assert "unexpected" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_prometheus_textfile_parses(filled: Project, run_br) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    assert run_br("telemetry", "export", "bt.prom", "--type", "prometheus").returncode == 0
    families = {f.name: f for f in text_string_to_metric_families((filled.paths.root / "bt.prom").read_text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("buildrunner_tasks_finished", (("outcome", "succeeded"),))] == 2
    assert samples[("buildrunner_task_success_ratio", ())] == 0.5
    assert samples[("buildrunner_task_duration_seconds", (("quantile", "0.5"),))] == 1.2
    assert samples[("buildrunner_cost_usd", (("model", "sonnet"),))] == 12.45
    # Windowed figures are gauges; what only grows is a counter (a windowed summary's _count fell as the window slid).
    assert families["buildrunner_task_duration_seconds"].type == "gauge"
    assert families["buildrunner_task_attempt_results"].type == "counter"
    assert samples[("buildrunner_task_attempt_results_total", (("outcome", "succeeded"),))] >= 2
    # task-002's failed first attempt stays counted though the task passed on its retry: a counter never goes down
    assert samples[("buildrunner_task_attempt_results_total", (("outcome", "failed"),))] == 3
    assert samples[("buildrunner_spend_usd_total", (("model", "sonnet"),))] >= 12.45
    narrow = run_br("telemetry", "export", "narrow.prom", "--type", "prometheus", "--hours", "1")
    assert narrow.returncode == 0
    narrowed = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families((filled.paths.root / "narrow.prom").read_text()) for s in f.samples}
    total = ("buildrunner_task_attempt_results_total", (("outcome", "succeeded"),))
    assert narrowed[total] == samples[total]  # a counter does not shrink with the window


def test_exported_csv_never_hands_a_spreadsheet_a_formula(project: Project, run_br, tmp_path: Path) -> None:
    """An event's message or an agent's output can start with `=`: a spreadsheet opening the export would run it."""
    EventCollector(project).collect_batch([finished("s1", "t", False, 100, age_s=5, error='=HYPERLINK("http://evil.test","x")')])
    add_cost(project, 0.5, model="@SUM(A1)", age_s=5)
    assert run_br("telemetry", "export", str(tmp_path / "e.csv"), "--type", "events").returncode == 0
    assert run_br("telemetry", "export", str(tmp_path / "c.csv"), "--type", "costs").returncode == 0
    cells = [c for name in ("e.csv", "c.csv") for row in csv.reader(open(tmp_path / name)) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]
    assert "'=HYPERLINK(\"http://evil.test\",\"x\")" in cells and "'@SUM(A1)" in cells  # kept, made inert


def test_the_prometheus_metrics_are_the_ones_the_docs_list(filled: Project, run_br) -> None:
    """docs/telemetry-export.md names every metric the textfile has, with its type, and no other."""
    import re

    from prometheus_client.parser import text_string_to_metric_families

    page = (Path(__file__).resolve().parents[2] / "docs" / "telemetry-export.md").read_text()
    documented = {}
    for line in page.splitlines():
        if line.startswith("| `buildrunner_"):
            names, kind = line.split("|")[1], line.split("|")[2].strip()
            for name in re.findall(r"`(buildrunner_\w+)", names):
                documented[name.removesuffix("_total")] = kind
    assert run_br("telemetry", "export", "d.prom", "--type", "prometheus").returncode == 0
    exported = {f.name: f.type for f in text_string_to_metric_families((filled.paths.root / "d.prom").read_text())}
    assert exported == documented


def test_prune_reports_count(project: Project, run_br) -> None:
    EventCollector(project).collect_batch([{"type": "x", "timestamp": time.time() - d * 86400} for d in (1, 100, 200)])
    r = run_br("telemetry", "prune")
    assert r.returncode == 0 and "Pruned 2 events older than 90 days" in r.stderr
    assert json.loads(run_br("telemetry", "prune", "--days", "0", "-f", "json").stdout) == {"deleted": 0, "retention_days": 0, "spend_deleted": 0.0}


def test_prune_says_what_spend_goes_with_the_events(project: Project, run_br) -> None:
    """Events carrying spend no cost record holds were pruned, and the money left the totals without a word."""
    EventCollector(project).collect_batch(
        [{"type": "task_completed", "task_id": f"nightly{d}", "cost": 0.5, "timestamp": time.time() - d * 86400} for d in range(1, 11)]
    )
    pruned = json.loads(run_br("telemetry", "prune", "--days", "3", "-f", "json").stdout)
    assert pruned == {"deleted": 8, "retention_days": 3, "spend_deleted": 4.0}


def test_disabled_by_env_still_reads(project: Project, run_br) -> None:
    r = run_br("telemetry", "summary", env={"BR_TELEMETRY_ENABLED": "false"})
    assert r.returncode == 0


def test_help_ends_with_example(run_br) -> None:
    for command in ("summary", "events", "alerts", "performance", "export", "report", "prune"):
        r = run_br("telemetry", command, "--help")
        assert r.returncode == 0 and "Example: br telemetry" in r.stdout


def test_commands_on_either_store(any_project: Project, run_br) -> None:
    """The same numbers from the CLI on SQLite and on PostgreSQL (BR_DATABASE_URL)."""
    EventCollector(any_project).collect_batch(
        [finished("s", "a", False, 100.0, error="exit status 2"), finished("s", "a", True, 300.0), finished("s", "b", False, 200.0)]
    )
    add_cost(any_project, 0.5, model="haiku")
    env = {"BR_DATABASE_URL": os.environ.get("BR_DATABASE_URL") or any_project.store.url}
    summary = json.loads(run_br("telemetry", "summary", "-f", "json", env=env).stdout)["metrics"]
    assert (summary["success_rate"], summary["p50_latency_ms"], summary["total_cost"]) == (50.0, 200.0, 0.5)
    perf = json.loads(run_br("telemetry", "performance", "-f", "json", env=env).stdout)
    assert perf["p99_latency_ms"] == 300.0 and sum(b["count"] for b in perf["latency_histogram"]) == 3
    alerts = json.loads(run_br("telemetry", "alerts", "-f", "json", env=env).stdout)
    assert [a["key"] for a in alerts] == ["success_rate"]
    events = json.loads(run_br("telemetry", "events", "-f", "json", env=env).stdout)
    assert [e["type"] for e in events] == ["task_failed", "task_completed", "task_failed"]


@pytest.mark.parametrize("command", [("export", "--type", "costs", "--hours", "168"), ("export", "--type", "prometheus"), ("report",)])
def test_exports_write_to_standard_output(filled: Project, run_br, command: tuple[str, ...]) -> None:
    """`-` and /dev/stdout are the pipe `br` writes to; nothing named "-" appears."""
    subcommand, *options = command
    for target in ("-", "/dev/stdout"):
        r = run_br("telemetry", subcommand, target, *options)
        assert r.returncode == 0, r.stderr
        assert ("sonnet" in r.stdout) if subcommand == "export" else r.stdout.lstrip().startswith("<!DOCTYPE html>")
        assert "standard output" in r.stderr or target in r.stderr
    assert not (filled.paths.root / "-").exists()


@pytest.mark.parametrize("subcommand", ["export", "report"])
def test_exports_keep_symlinks_fifos_and_devices(filled: Project, run_br, tmp_path: Path, subcommand: str) -> None:
    real = tmp_path / "real.out"
    real.write_text("old")
    link = tmp_path / "link.out"
    link.symlink_to(real)
    assert run_br("telemetry", subcommand, str(link)).returncode == 0
    assert link.is_symlink() and real.read_text() != "old"

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    r = run_br("telemetry", subcommand, str(fifo))
    out, _ = reader.communicate(timeout=60)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and out.strip()

    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return  # a device node needs root; /dev/null below still checks the type is kept
    assert run_br("telemetry", subcommand, str(node)).returncode == 0
    assert stat.S_ISCHR(node.lstat().st_mode)


def test_escape_codes_a_task_printed_are_shown_not_obeyed(run_br, project: Project) -> None:
    """A failing task's stderr may hold colour codes or worse (a title change, a cursor move): printing them raw
    would repaint the user's terminal. Shown as text; the JSON keeps the error as it was."""
    error = "boom \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 end"
    EventCollector(project).collect_event({"type": "task_failed", "task_id": "t1", "error": error})
    for args in (("events",), ("summary",)):
        out = run_br("telemetry", *args).stdout
        assert "\x1b" not in out and "\x07" not in out, args
        assert "boom \\x1b[31mRED\\x1b[0m \\x1b]0;pwned\\x07 end" in out, args
    [event] = json.loads(run_br("telemetry", "events", "--format", "json").stdout)
    assert event["error"] == error


def test_reading_telemetry_while_it_is_switched_off_says_so(run_br) -> None:  # type: ignore[no-untyped-def]
    """An empty summary with BR_TELEMETRY_ENABLED=false said only that there was no data."""
    for command in ("summary", "events", "alerts", "performance"):
        result = run_br("telemetry", command, env={"BR_TELEMETRY_ENABLED": "false"})
        assert result.returncode == 0 and "telemetry is disabled (env BR_TELEMETRY_ENABLED)" in result.stderr, (command, result.stderr)
    assert "disabled" not in run_br("telemetry", "summary").stderr


def test_alerts_fail_on_a_level_for_cron_and_ci(project: Project, run_br) -> None:
    """A cron job or CI step could not tell from the exit code that an alert was active."""
    EventCollector(project).collect_batch([finished("s", f"t{i}", i < 3, 100) for i in range(4)])  # 75 %: a warning
    assert run_br("telemetry", "alerts", "--fail-on", "critical").returncode == 0
    warned = run_br("telemetry", "alerts", "--fail-on", "warning", "--format", "json")
    assert warned.returncode == 1 and "1 active alert at warning or above: Success rate below threshold" in warned.stderr
    assert [a["key"] for a in json.loads(warned.stdout)] == ["success_rate"]  # the list is printed first
