"""The numbers `br telemetry` shows are those of the work `br parallel` really ran."""

from __future__ import annotations

import json

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
