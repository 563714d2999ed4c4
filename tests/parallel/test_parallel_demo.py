"""The README's main job: the demo plan in examples/ runs to completion and telemetry reflects it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_demo_plan_completes_and_telemetry_summary_reflects_it(tmp_project: Path, run_br: Any) -> None:
    shutil.copytree(EXAMPLES, tmp_project / "examples", ignore=shutil.ignore_patterns("build", "docs", "__pycache__"))
    result = run_br("parallel", "start", "demo", "--config", "examples/demo/plan.yaml", "--workers", "3", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Progress: 10/10 tasks completed (100%)" in result.stdout
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    assert "2 * (3 + 4) = 14.0" in run_br("parallel", "logs", sid, "smoke").stdout
    assert "Ran 5 tests" in run_br("parallel", "logs", sid, "unit-tests").stdout
    flaky = run_br("parallel", "logs", sid, "fetch-rates").stdout
    assert "attempt 1 (failed)" in flaky and "attempt 2 (completed)" in flaky
    metrics = json.loads(run_br("telemetry", "summary", "--format", "json").stdout)["metrics"]
    # Every task ended completed; the flaky step's failed first attempt is counted as an error.
    assert metrics["success_rate"] == 100.0
    assert metrics["error_count"] >= 1 and metrics["event_count"] > 9
    assert any("mirror timed out" in e["example"] for e in metrics["top_errors"])
