"""`br routing ...` end to end: real subprocesses, real stores."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_estimate_text_follows_the_spec(run_br) -> None:
    result = run_br("routing", "estimate", "Add user authentication with JWT tokens")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Task: Add user authentication with JWT tokens\n\nComplexity: ")
    for label in ("Recommended Model: ", "Estimated Cost: $", "Estimated Time: ", "Reasoning:\n- Requires security considerations"):
        assert label in out
    assert out.endswith("\nRouting: default thresholds (no calibration; see br routing calibrate)\n")
    assert "Factors" not in out


def test_estimate_verbose_lists_the_signals_that_fired_and_their_words(run_br) -> None:
    result = run_br("routing", "estimate", "Fix a race condition in a lock-free queue", "--verbose")
    assert result.returncode == 0
    score = int(re.search(r"Complexity: (?:complex|critical) \(score (\d+)/100\)\nRecommended Model: opus", result.stdout).group(1))
    factors = [float(m) for m in re.findall(r"^  • [^:]+: ([+-][\d.]+)", result.stdout, re.M)]
    assert score == pytest.approx(min(100, max(0, sum(factors))), abs=1)  # the factors add up to the score
    assert "• baseline: +36  (every task starts here)" in result.stdout
    assert "• concurrency: +57.1  (words: lock-free, race condition)" in result.stdout
    [learned] = [line for line in result.stdout.splitlines() if "• learned vocabulary:" in line]
    points, parts = learned.split(": ", 1)[1].split("  (words: ")
    shown = [float(p.rsplit(" ", 1)[1]) for p in parts.rstrip(")").replace("; offset ", ", offset ").split(", ")]
    assert "lock" in parts and "race" in parts and "fix" not in parts.split()
    assert sum(shown) == pytest.approx(float(points), abs=0.1 * len(shown))  # the words' points add up to the factor
    assert "Routing: default thresholds (no calibration" in result.stdout


def test_estimate_json_is_stable(run_br) -> None:
    result = run_br("routing", "estimate", "Fix bug in payment processor", "--format", "json")
    data = json.loads(result.stdout)
    assert list(data)[:7] == ["task", "complexity_level", "complexity_score", "recommended_model", "estimated_cost", "estimated_time_minutes", "reasoning"]
    assert data["task"] == "Fix bug in payment processor"
    assert all(set(f) == {"name", "weight"} for f in data["factors"])
    verbose = json.loads(run_br("routing", "estimate", "Fix bug", "-f", "json", "-v").stdout)
    assert all("detail" in f for f in verbose["factors"])


def test_estimate_with_files(run_br, tmp_project) -> None:
    (tmp_project / "a.py").write_text("x = 1\n" * 500)
    result = run_br("routing", "estimate", "Rename the field", "--file", "a.py", "-f", "json", "-v")
    assert {"files to change", "code size"} <= {f["name"] for f in json.loads(result.stdout)["factors"]}
    missing = run_br("routing", "estimate", "Rename the field", "--file", "nope.py")
    assert missing.returncode == 6 and "nope.py" in one_line_error(missing)
    folder = run_br("routing", "estimate", "Rename the field", "--file", str(tmp_project))  # a folder was "no such file"
    assert folder.returncode == 2 and "is a folder, not a file" in folder.stderr


def test_estimate_ai_without_key_notes_the_fallback(run_br) -> None:
    result = run_br("routing", "estimate", "Fix typo", "--ai", "-f", "json", env={"ANTHROPIC_API_KEY": ""})
    assert result.returncode == 0
    assert "ANTHROPIC_API_KEY is not set" in json.loads(result.stdout)["reasoning"][-1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("estimate", ""), "TASK_DESCRIPTION is empty"),
        (("select", "  "), "TASK_DESCRIPTION is empty"),
        (("select", "Fix it", "--cost-limit", "-1"), "--cost-limit -1: cannot be negative"),
        (("select", "Fix it", "--cost-limit", "cheap"), "--cost-limit 'cheap': not a number"),
        (("select", "Fix it", "--time-limit", "-3"), "--time-limit -3: cannot be negative"),
        (("select", "Fix it", "--time-limit", "soon"), "not a number"),
        (("select", "Fix it", "--model", "gpt-4o"), "use one of: haiku, sonnet, opus"),
        (("costs", "--period", "year"), "use one of: day, week, month, all"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_br, args: tuple[str, ...], needle: str) -> None:
    result = run_br("routing", *args)
    assert result.returncode == 2
    assert needle in one_line_error(result)


def test_select_text_and_json(run_br) -> None:
    result = run_br("routing", "select", "Refactor database queries", "--cost-limit", "0.05")  # the spec's example
    assert result.returncode == 0, result.stderr
    assert "Task: Refactor database queries\nCost Limit: $0.05\n\nSelected Model: haiku\nEstimated Cost: $" in result.stdout
    assert "✅ Meets cost constraint" in result.stdout
    assert "⚠️ Below the tier trusted with complexity" in result.stdout  # a refactor is moderate: sonnet would be trusted
    data = json.loads(run_br("routing", "select", "Add feature", "--format", "json", "--time-limit", "600").stdout)
    assert data["selected_model"] in {"haiku", "sonnet", "opus"} and data["meets_time_limit"] is True
    assert data["model_id"].startswith("claude-")
    below = json.loads(run_br("routing", "select", "Refactor database queries", "--cost-limit", "0.05", "--format", "json").stdout)
    assert below["capable"] is False  # a script sees the tier is below the trusted one without parsing `reasoning`
    assert below["capable"] == next(a["capable"] for a in below["alternatives"] if a["name"] == below["selected_model"])
    assert json.loads(run_br("routing", "select", "Refactor database queries", "--format", "json").stdout)["capable"] is True


def test_select_verbose_shows_why_the_score_is_what_it_is_as_estimate_does(run_br) -> None:
    task = "Fix a race condition in a lock-free queue"
    shown = run_br("routing", "select", task, "--verbose")
    assert shown.returncode == 0, shown.stderr
    factors = shown.stdout.split("Factors (weights sum to the score", 1)[1]
    assert factors == run_br("routing", "estimate", task, "--verbose").stdout.split("Factors (weights sum to the score", 1)[1]
    assert "• concurrency: " in factors and "Factors" not in run_br("routing", "select", task).stdout
    data = json.loads(run_br("routing", "select", task, "-v", "-f", "json").stdout)
    assert data["factors"] == json.loads(run_br("routing", "estimate", task, "-v", "-f", "json").stdout)["factors"]
    assert "factors" not in json.loads(run_br("routing", "select", task, "-f", "json").stdout)


def test_select_forced_model_reports_unmet_limit_and_exits_1(run_br) -> None:
    result = run_br("routing", "select", "Critical bug fix", "--model", "opus", "--cost-limit", "0.001")
    assert result.returncode == 1  # a script's `br routing select ... && run` must not go on past a ❌
    assert "Selected Model: opus (forced)" in result.stdout and "❌ Exceeds cost constraint" in result.stdout
    assert "opus, forced by --model, misses the cost limit" in one_line_error(result)
    data = json.loads(run_br("routing", "select", "Critical bug fix", "--model", "opus", "--time-limit", "1", "--format", "json").stdout)
    assert data["forced"] is True and data["meets_time_limit"] is False
    assert run_br("routing", "select", "Critical bug fix", "--model", "opus", "--cost-limit", "100").returncode == 0


def test_select_takes_the_files_the_task_touches_as_estimate_does(run_br, tmp_project) -> None:
    (tmp_project / "big.py").write_text("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(400)))
    alone = json.loads(run_br("routing", "select", "Tidy up this module", "--format", "json").stdout)
    with_file = json.loads(run_br("routing", "select", "Tidy up this module", "--file", "big.py", "--format", "json").stdout)
    estimated = json.loads(run_br("routing", "estimate", "Tidy up this module", "--file", "big.py", "--format", "json").stdout)
    assert with_file["complexity_score"] == estimated["complexity_score"] > alone["complexity_score"]
    missing = run_br("routing", "select", "Tidy up", "--file", "nope.py")
    assert missing.returncode == 6 and "--file nope.py" in one_line_error(missing)


def test_select_warns_when_a_budget_is_spent_or_would_be(run_br, project: Project) -> None:
    assert json.loads(run_br("routing", "select", "Add a CSV export", "--format", "json").stdout)["budget_note"] is None
    CostTracker(project).track_request("sonnet", 1000, 100, cost=9.99)  # $0.01 of the daily $10 left
    near = json.loads(run_br("routing", "select", "Add a CSV export", "--format", "json").stdout)
    assert "more than the $0.01 left in the tightest budget" in near["budget_note"]
    CostTracker(project).track_request("sonnet", 1000, 100, cost=0.5)
    spent = run_br("routing", "select", "Add a CSV export")
    assert spent.returncode == 0  # a warning: the selection itself is still right
    assert "⚠️ daily budget spent: $10.49 of $10.00" in spent.stdout and "holds new agent work back" in spent.stdout


def test_select_nothing_fits_exits_1(run_br) -> None:
    result = run_br("routing", "select", "Refactor database queries", "--cost-limit", "0.0001")
    assert result.returncode == 1
    line = one_line_error(result)
    assert "cost limit" in line and "closest is haiku" in line
    assert "--model" not in line  # a forced tier that misses the limit exits 1 too: no advice that leads there
    minimum = float(line.split("raise --cost-limit to at least ")[1].split()[0])
    assert run_br("routing", "select", "Refactor database queries", "--cost-limit", f"{minimum:.4f}").returncode == 0  # the advice works


def test_costs_text_json_csv(run_br, any_project: Project) -> None:
    tracker = CostTracker(any_project)
    for _ in range(3):
        tracker.track_request("haiku", 1000, 100, cost=0.41)
    tracker.track_request("sonnet", 1000, 100, cost=1.5, task_id="t9")
    env = {"BR_DATABASE_URL": any_project.store.url} if any_project.store.dialect == "sqlite" else None
    text = run_br("routing", "costs", "--period", "week", env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Cost Summary (This Week)\n\nModel Distribution:\n")
    assert "Haiku:  3 requests | $1.23" in text.stdout and "Sonnet: 1 request  | $1.50" in text.stdout
    assert "Total: 4 requests | $2.73" in text.stdout and "Daily Breakdown:" in text.stdout
    data = json.loads(run_br("routing", "costs", "--format", "json", env=env).stdout)
    assert data["request_count"] == 4 and data["by_model"] == {"haiku": pytest.approx(1.23), "sonnet": pytest.approx(1.5)}
    assert data["remaining_budget"] == pytest.approx(10 - 2.73)
    rows = list(csv.DictReader(io.StringIO(run_br("routing", "costs", "--period", "month", "--format", "csv", env=env).stdout)))
    assert len(rows) == 4 and rows[-1]["task_id"] == "t9"


def test_costs_on_an_empty_store(run_br) -> None:
    result = run_br("routing", "costs")
    assert result.returncode == 0 and "No requests recorded in this period." in result.stdout


def test_models_table_and_json(run_br) -> None:
    text = run_br("routing", "models")
    assert text.returncode == 0
    assert "Available Models:" in text.stdout
    assert "│ sonnet │ claude-sonnet-4-5 │ $3.00/1M" in text.stdout and "~1000ms" in text.stdout
    assert "Recommendations:" in text.stdout and "• opus: Critical bugs" in text.stdout
    models = json.loads(run_br("routing", "models", "-f", "json").stdout)["models"]
    assert [m["tier"] for m in models] == ["haiku", "sonnet", "opus"]
    assert models[2]["output_per_mtok"] == 25.0
    assert "scaled to what this project's attempts cost" not in text.stdout


def test_models_says_when_cost_estimates_are_scaled_by_a_calibration(run_br, tmp_project) -> None:
    calibration = {"fitted_at": "2026-12-06T13:00Z", "outcomes": 40, "max_complexity": {}, "cost_scale": {"sonnet": 3.5}}
    (tmp_project / ".buildrunner" / "config.json").write_text(json.dumps({"routing": {"calibration": calibration}}))
    text = run_br("routing", "models")
    assert "Estimated task costs are scaled to what this project's attempts cost (br routing calibrate): sonnet x3.5" in text.stdout
    models = {m["tier"]: m for m in json.loads(run_br("routing", "models", "-f", "json").stdout)["models"]}
    assert (models["haiku"]["cost_scale"], models["sonnet"]["cost_scale"]) == (1.0, 3.5)
    assert models["sonnet"]["input_per_mtok"] == 3.0  # the list prices stay as they are


@pytest.mark.parametrize("command", ["estimate", "select", "calibrate", "costs", "models"])
def test_help_ends_with_an_example(run_br, command: str) -> None:
    result = run_br("routing", command, "--help")
    assert result.returncode == 0
    assert "Example: br routing " + command in result.stdout


def test_a_cheaper_tier_trusted_with_more_than_a_capable_one_is_a_config_error(run_br, tmp_project) -> None:
    (tmp_project / ".buildrunner" / "config.json").write_text(
        json.dumps({"routing": {"models": {"haiku": {"model_id": "claude-haiku-4-5", "max_complexity": 80, "typical_latency_ms": 500}}}})
    )
    result = run_br("routing", "select", "Refactor database queries")
    assert result.returncode == 2
    assert "haiku.max_complexity (80) is above sonnet.max_complexity (74)" in one_line_error(result)


def test_select_needs_no_store_its_budget_warning_is_left_out_without_one(run_br) -> None:
    """The budget note is advice: with the database out of reach the selection is still made (as estimate's is)."""
    result = run_br("routing", "select", "Fix the typo in the README", "--format", "json", env={"BR_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["selected_model"] == "haiku" and data["budget_note"] is None


def test_a_dash_reads_the_task_from_standard_input(run_br) -> None:
    """`gh issue view 42 | br routing estimate -`: the text piped in is the task, not the word "-"."""
    ticket = "Fix a race condition in the lock-free queue: two producers can lose an item under load"
    piped = json.loads(run_br("routing", "estimate", "-", "--format", "json", input=ticket).stdout)
    direct = json.loads(run_br("routing", "estimate", ticket, "--format", "json").stdout)
    assert piped["task"] == ticket and piped["complexity_score"] == direct["complexity_score"]
    assert run_br("routing", "select", "-", input="").returncode == 2  # nothing piped: the empty description is refused


def test_binary_data_on_standard_input_is_refused_in_one_line(tmp_project) -> None:
    """A file piped in by mistake (an image, a core dump) is not a task: exit 2 and say so, never an estimate of junk."""
    junk = bytes(range(256)) * 8
    proc = subprocess.run([sys.executable, "-m", "buildrunner", "routing", "estimate", "-"], cwd=tmp_project, input=junk, capture_output=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 2
    assert b"standard input is not UTF-8 text" in proc.stderr and b"Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == b""


def test_terminal_escapes_in_a_task_never_reach_the_terminal_or_the_json(run_br) -> None:
    """A ticket copied from a coloured terminal (or written to attack one): the escapes are not words, and echoing
    them back would clear the screen or recolour it."""
    ticket = "Fix the \x1b[31mred\x1b[0m login \x1b[2J redirect\x07 loop"
    text = run_br("routing", "estimate", ticket)
    assert text.returncode == 0 and "\x1b" not in text.stdout and "\x07" not in text.stdout
    assert "Task: Fix the red login  redirect loop" in text.stdout
    data = json.loads(run_br("routing", "estimate", ticket, "--format", "json").stdout)
    assert data["task"] == "Fix the red login  redirect loop"


def test_a_calibration_for_signals_that_changed_names_the_config_file(run_br, tmp_project) -> None:
    config = tmp_project / ".buildrunner" / "config.json"
    calibration = {"fitted_at": "2026-12-06T13:00Z", "outcomes": 40, "max_complexity": {}, "weights": {"nonexistent": 5}}
    config.write_text(json.dumps({"routing": {"calibration": calibration}}))
    result = run_br("routing", "estimate", "Fix the race condition in the queue")
    assert result.returncode == 2
    line = one_line_error(result)
    assert str(config) in line and "unknown signal 'nonexistent'" in line and "remove routing.calibration" in line
    calibration["weights"] = {"concurrency": 500}
    config.write_text(json.dumps({"routing": {"calibration": calibration}}))
    result = run_br("routing", "estimate", "Fix the race condition in the queue")
    assert result.returncode == 2 and "weights.concurrency = 500.0 must be from -200 to 200" in one_line_error(result)


def test_ai_asked_for_and_not_used_is_said_on_stderr(run_br) -> None:
    for command in ("estimate", "select"):
        result = run_br("routing", command, "Add a login page", "--ai", "--format", "json", env={"ANTHROPIC_API_KEY": None})
        assert result.returncode == 0
        assert json.loads(result.stdout)  # stdout stays one JSON document
        assert "warning: --ai: AI estimation unavailable (ANTHROPIC_API_KEY is not set); heuristic used" in result.stderr


def test_select_errors_show_select_examples_and_a_device_is_not_a_missing_file(run_br) -> None:
    empty = run_br("routing", "select", "   ")
    assert empty.returncode == 2 and 'br routing select "Fix the login redirect"' in one_line_error(empty)
    device = run_br("routing", "estimate", "Add a login page", "--file", os.devnull)
    assert device.returncode == 2 and "not a regular file" in one_line_error(device)


def test_select_text_says_the_limits_apart_and_the_trust_warning_first(run_br) -> None:
    """A new user's review (2026-12-06): "❌ Exceeds cost constraint ($0.05 > $0.05)" for $0.0549, "1 minutes", and a
    ✅ above the warning that a score-100 task went to haiku."""
    forced = run_br("routing", "select", "Fix the race in the order queue", "--model", "haiku", "--cost-limit", "0.05", "--time-limit", "1")
    assert forced.returncode == 1
    exceeds = re.search(r"❌ Exceeds cost constraint \(\$([\d.]+) > \$([\d.]+)\)", forced.stdout)
    assert exceeds and float(exceeds.group(1)) > float(exceeds.group(2))
    assert "Time Limit: 1 minute\n" in forced.stdout
    squeezed = run_br("routing", "select", "Rotate the JWT signing key without logging users out", "--cost-limit", "0.10").stdout
    assert squeezed.index("⚠️ Below the tier trusted") < squeezed.index("✅ Meets cost constraint")


def test_a_cost_limit_beyond_any_record_and_a_latin1_text_are_clear_errors(run_br) -> None:
    assert "more than $1,000,000.00" in one_line_error(huge := run_br("routing", "select", "x", "--cost-limit", "1e308")) and huge.returncode == 2
    latin1 = subprocess.run([sys.executable, "-m", "buildrunner", "routing", "estimate", "-"], input="Corrige la faute dans le café".encode("latin-1"),
                            capture_output=True, cwd=os.getcwd())
    assert latin1.returncode == 2 and b"iconv -f latin1 -t utf-8" in latin1.stderr


def test_a_description_with_no_signal_says_it_is_moderate_by_default(run_br) -> None:
    data = json.loads(run_br("routing", "estimate", "asdf", "--format", "json").stdout)
    assert data["reasoning"] == ["No signal of difficulty or ease recognised: moderate by default"]
    assert json.loads(run_br("routing", "estimate", "Fix a typo in the README", "-f", "json").stdout)["reasoning"][-1] == "Simple technical complexity overall"


def test_a_pasted_list_that_starts_with_a_dash_is_told_how_to_pass_it(run_br) -> None:
    """A review's tickets (2026-12-07): a pasted bullet list ("- move all customers ...") failed with "No such option: -
    move all ...", which does not say that the text was read as an option, nor how to pass it."""
    for command in ("estimate", "select"):
        bullet = run_br("routing", command, "- move every customer to the new checkout\n- keep their saved cards")
        assert bullet.returncode == 2
        assert f'put -- before it (br routing {command} -- "- first item")' in one_line_error(bullet)
        passed = run_br("routing", command, "--format", "json", "--", "- move every customer to the new checkout\n- keep their saved cards")
        assert passed.returncode == 0 and json.loads(passed.stdout)["task"].startswith("- move every customer")
    assert "Possible options: --verbose" in one_line_error(run_br("routing", "estimate", "--verbos", "Fix the typo"))


def test_an_unquoted_description_is_told_to_be_quoted_and_the_task_line_is_what_is_read(run_br) -> None:
    """A new user's review: `br routing estimate Fix typo in README` said only "unexpected extra argument", and the Task
    line showed an issue template's comment that the estimate does not read."""
    unquoted = run_br("routing", "estimate", "Fix", "typo", "in", "README")
    assert unquoted.returncode == 2 and 'quote the task: br routing estimate "' in one_line_error(unquoted)
    assert "(see `br parallel start --help`)" in one_line_error(run_br("parallel", "start", "a", "b", "c"))
    templated = subprocess.run([sys.executable, "-m", "buildrunner", "routing", "estimate", "-"], capture_output=True, text=True, cwd=os.getcwd(),
                               input="<!-- Please describe the bug -->\n### Describe the bug\nLogin redirect ignores ?next\n")
    assert templated.stdout.startswith("Task: Login redirect ignores ?next\n")
