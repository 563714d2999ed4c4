"""The numbers `br telemetry` shows are those of the work `br parallel` really ran."""

from __future__ import annotations

import json
import time

import pytest

PLAN = """\
tasks:
  - id: ok1
    description: Say hello
    command: "echo hello"
  - id: flaky
    description: Fails once, then passes on the retry
    command: "test -f marker || { touch marker; echo 'boom 42' >&2; exit 3; }"
    retries: 2
  - id: bad
    description: Always fails
    command: "echo 'API rate limit exceeded' >&2; exit 1"
  - id: after
    description: Depends on bad
    command: "true"
    depends_on: [bad]
"""


@pytest.mark.slow
def test_summary_reflects_a_real_parallel_session(project, run_br) -> None:
    (project.paths.root / "plan.yaml").write_text(PLAN)
    run = run_br("parallel", "start", "demo", "--config", "plan.yaml", "--workers", "2", "--wait", timeout=180)
    assert run.returncode != 0 and "Traceback" not in run.stderr  # `bad` failed, so --wait reports failure
    metrics = json.loads(run_br("telemetry", "summary", "-f", "json").stdout)["metrics"]
    # ok1 and flaky (retried, then completed: once, as a success) succeeded; bad failed; after was skipped.
    assert (metrics["finished_tasks"], metrics["succeeded_tasks"], metrics["failed_tasks"]) == (3, 2, 1)
    assert round(metrics["success_rate"], 1) == 66.7
    assert metrics["error_count"] == 2
    assert {e["message"] for e in metrics["top_errors"]} == {"exit code <n>: API rate limit exceeded", "exit code <n>: boom <n>"}
    perf = json.loads(run_br("telemetry", "performance", "-f", "json").stdout)
    assert perf["workers"] == 2 and perf["peak_memory_bytes"] > 0 and perf["p99_latency_ms"] is not None
    types = [e["type"] for e in json.loads(run_br("telemetry", "events", "-f", "json", "--limit", "100").stdout)]
    assert types.count("task_retry") == 1 and types.count("task_skipped") == 1 and types[-1] == "session_completed"
    alerts = json.loads(run_br("telemetry", "alerts", "-f", "json").stdout)
    assert [a["key"] for a in alerts] == ["success_rate"]


@pytest.mark.slow
def test_a_failed_verify_is_one_error_and_a_stopped_retry_is_no_outcome(project, run_br) -> None:
    """A verify that fails ends its attempt as one task_failed: its verify_result is not a second error. A task
    whose retry the session's stop cancelled ends failed (its failed attempt was its last), its error counted once."""
    (project.paths.root / "plan.yaml").write_text(
        'tasks:\n  - id: checked\n    command: "true"\n    verify: "false"\n    retries: 1\n'
    )
    assert run_br("parallel", "start", "v", "--config", "plan.yaml", "--workers", "1", "--wait", timeout=180).returncode == 1
    metrics = json.loads(run_br("telemetry", "summary", "-f", "json").stdout)["metrics"]
    assert metrics["error_count"] == 2  # two attempts, each failed its verify once
    assert [(e["message"], e["count"]) for e in metrics["top_errors"]] == [("verify failed (exit code <n>)", 2)]
    config = project.paths.root / ".buildrunner" / "config.json"
    settings = json.loads(config.read_text()) if config.exists() else {}
    settings.setdefault("parallel", {})["retry_backoff"] = 3600  # the retry waits: the stop comes first
    config.write_text(json.dumps(settings))
    (project.paths.root / "retry.yaml").write_text('tasks:\n  - id: later\n    command: "exit 1"\n    retries: 3\n')
    started = json.loads(run_br("parallel", "start", "r", "--config", "retry.yaml", "--workers", "1", "-f", "json").stdout)
    sid = started["session_id"]
    deadline = time.monotonic() + 60
    while "task_retry" not in run_br("telemetry", "events", "--session", sid, "-f", "json").stdout:
        assert time.monotonic() < deadline, "the first attempt never failed"
        time.sleep(0.1)
    assert run_br("parallel", "stop", sid).returncode == 0
    after = json.loads(run_br("telemetry", "summary", "-f", "json").stdout)["metrics"]
    assert after["finished_tasks"] == metrics["finished_tasks"] + 1 and after["failed_tasks"] == metrics["failed_tasks"] + 1
    assert after["error_count"] == metrics["error_count"] + 1  # its one failed attempt; the stop is no second error
