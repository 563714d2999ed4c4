"""The HTML report is self-contained and renders in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import date
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
    # Today, yesterday (spend only), and the five quiet days before them as one row.
    assert dom.stdout.count('class="day-row') == 3
    assert "no activity for 5 days" in dom.stdout
    assert "75.0%" in dom.stdout and "$1.50" in dom.stdout and "$3.00" in dom.stdout
    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", report.as_uri())
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    blank_html = tmp_path / "blank.html"
    blank_html.write_text("<!DOCTYPE html><html><body></body></html>")
    blank = tmp_path / "blank.png"
    chromium(tmp_path, f"--screenshot={blank}", "--window-size=1280,1000", blank_html.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5 * blank.stat().st_size  # charts and text drawn, not an empty page


def _figure(html: str, caption: str) -> str:
    start = html.index(f"<figcaption>{caption}")
    return html[start : html.index("</figure>", start)]


def test_small_amounts_read_as_the_cli_writes_them_and_quiet_days_are_one_row(project: Project, run_br, tmp_path: Path) -> None:
    """The README demo costs $0.0014: the report must not round it to $0.00 anywhere."""
    EventCollector(project).collect_batch([finished("s", f"t{i}", True, 200.0 + i) for i in range(10)])
    add_cost(project, 0.0014, model="haiku")
    event_day = date.fromtimestamp(time.time() - 60)  # finished() dates events a minute ago
    before = date.today()
    r = run_br("telemetry", "report", str(tmp_path / "r.html"))  # 30 days by default
    if date.today() != before:  # the run crossed local midnight: render again, wholly on the new day
        r = run_br("telemetry", "report", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    quiet = 29 if event_day == date.today() else 28  # just after midnight the activity is yesterday's, today a quiet row
    html = (tmp_path / "r.html").read_text()
    assert '<div class="label">Total cost</div><div class="value">$0.0014</div>' in html
    ticks = re.findall(r'class="tick">([^<]*)<', _figure(html, "Cost per day"))
    assert len(ticks) == 5 and len(set(ticks)) == 5, ticks
    assert ticks[0] in ("$0.0000", "$0.000") and all(t.startswith("$0.00") for t in ticks)
    assert 'class="bar-value">$0.0014<' in _figure(html, "Cost per model")
    rows = re.findall(r'<tr class="day-row[^"]*">(.*?)</tr>', html)
    assert len(rows) == 31 - quiet and f"no activity for {quiet} days" in rows[-1] and "$0.0014" in rows[-2]
    dom = chromium(tmp_path, "--dump-dom", (tmp_path / "r.html").as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("$0.0014") >= 3 and f"no activity for {quiet} days" in dom.stdout
