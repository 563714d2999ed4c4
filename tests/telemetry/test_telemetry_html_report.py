"""The HTML report is self-contained and renders in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from telemetry_helpers import add_cost, finished

from buildrunner.project import Project
from buildrunner.telemetry.event_collector import EventCollector

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def report(project: Project, run_br, tmp_path: Path) -> Path:
    EventCollector(project).collect_batch(
        [finished("s", f"t{i}", i % 4 != 0, 300.0 * (i + 1), age_s=60 + i, error="API timeout </script><b>x</b>") for i in range(12)]
    )
    add_cost(project, 1.5, model="haiku")
    add_cost(project, 3.0, model="sonnet", age_s=86400 + 60)
    out = tmp_path / "out"
    r = run_br("telemetry", "report", "report.html", "--days", "7", env={"BR_TELEMETRY_EXPORT_DIR": str(out)})
    assert r.returncode == 0, r.stderr
    return out / "report.html"


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the report must not load anything from the network"
    assert "@import" not in text and "url(http" not in text
    assert text.count("<svg") == 4
    assert "<b>x</b>" not in text  # error text is escaped, never markup
    for caption in ("Success rate per day", "Latency percentiles per day", "Cost per day", "Cost per model"):
        assert caption in text


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="7"' in dom.stdout  # the inline script ran and built the per-day table
    assert dom.stdout.count('class="day-row"') == 7
    assert "75.0%" in dom.stdout and "$1.50" in dom.stdout
    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", report.as_uri())
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    blank_html = tmp_path / "blank.html"
    blank_html.write_text("<!DOCTYPE html><html><body></body></html>")
    blank = tmp_path / "blank.png"
    chromium(tmp_path, f"--screenshot={blank}", "--window-size=1280,1000", blank_html.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5 * blank.stat().st_size  # charts and text drawn, not an empty page
