"""Line coverage measured by coverage.py: read from its data files, or measured by running the tests.

Three files carry it: `coverage.json` (`coverage json`), `coverage.xml` (`coverage xml`,
Cobertura) and `.coverage` (the raw SQLite data, reported with the project's own
coverage config). The newest one wins.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from buildrunner.errors import BuildRunnerError, ConfigError
from buildrunner.paths import make_private_dir

DATA_FILES = ("coverage.json", "coverage.xml", ".coverage")
CONFIG_FILES = (".coveragerc", "pyproject.toml")


@dataclass(frozen=True)
class CoverageMeasurement:
    """Line coverage and the file it was read from."""

    percent: float
    source: str
    kind: str  # "coverage.json" | "coverage.xml" | ".coverage"
    covered_lines: int | None
    total_lines: int | None
    measured_at: float


def _from_json(path: Path) -> tuple[float, int | None, int | None]:
    totals = json.loads(path.read_text(encoding="utf-8"))["totals"]
    return float(totals["percent_covered"]), totals.get("covered_lines"), totals.get("num_statements")


def _from_xml(path: Path) -> tuple[float, int | None, int | None]:
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    covered, valid = root.get("lines-covered"), root.get("lines-valid")
    return (
        float(root.attrib["line-rate"]) * 100,
        int(covered) if covered is not None else None,
        int(valid) if valid is not None else None,
    )


def _coverage_config(root: Path) -> str | bool:
    for name in CONFIG_FILES:
        if (root / name).is_file():
            return str(root / name)
    return False


def _from_data_file(path: Path, root: Path) -> tuple[float, int | None, int | None]:
    import coverage
    from coverage.exceptions import CoverageException

    cov = coverage.Coverage(data_file=str(path), config_file=_coverage_config(root))
    try:
        cov.load()
        percent = cov.report(file=io.StringIO(), ignore_errors=True)
    except CoverageException as exc:
        raise ValueError(str(exc)) from None
    return float(percent), None, None


def read_coverage(path: Path, root: Path) -> CoverageMeasurement:
    """The coverage recorded in one data file; ValueError when it cannot be read."""
    readers = {"coverage.json": _from_json, "coverage.xml": _from_xml}
    kind = path.name if path.name in readers else ".coverage"
    try:
        if kind == ".coverage":
            percent, covered, total = _from_data_file(path, root)
        else:
            percent, covered, total = readers[kind](path)
    except (OSError, KeyError, TypeError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    if not 0 <= percent <= 100 or (covered is not None and total is not None and not 0 <= covered <= total):
        raise ValueError(f"{path.name}: {percent}% covered ({covered} of {total} lines) is not a coverage figure")
    try:
        source = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        source = str(path)
    return CoverageMeasurement(
        percent=round(percent, 2),
        source=source,
        kind=kind,
        covered_lines=covered,
        total_lines=total,
        measured_at=path.stat().st_mtime,
    )


def find_coverage(root: Path) -> tuple[CoverageMeasurement | None, list[str]]:
    """The newest readable coverage data in the project root, and notes on files that could not be read."""
    notes: list[str] = []
    candidates = sorted(
        (p for p in (root / name for name in DATA_FILES) if p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in candidates:
        try:
            return read_coverage(path, root), notes
        except ValueError as exc:
            notes.append(f"coverage data not readable: {exc}")
    return None, notes


def _project_python(root: Path) -> str:
    """The project's own virtualenv interpreter when it has one, else the one running br."""
    for venv in (".venv", "venv"):
        candidate = root / venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if candidate.is_file():
            return str(candidate)
    return sys.executable


@dataclass(frozen=True)
class CoverageRun:
    """A test run under coverage: what ran, how it ended, what it measured."""

    command: list[str]
    exit_code: int
    seconds: float
    measurement: CoverageMeasurement


def run_coverage(root: Path, data_file: Path, test_command: list[str], timeout: float) -> CoverageRun:
    """Run the test suite under coverage.py and read what it measured."""
    python = _project_python(root)
    make_private_dir(data_file.parent)  # 0700, as all of .buildrunner/ is
    data_file.unlink(missing_ok=True)
    command = [python, "-m", "coverage", "run", f"--data-file={data_file}"]
    if not _coverage_config(root):
        command.append(f"--source={root}")
    command += test_command
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BuildRunnerError(
            f"the test run under coverage took longer than {timeout:.0f} s and was stopped",
            hint="raise quality.coverage_timeout or speed up the suite",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot run {python}: {exc}", hint="check the project's virtualenv") from None
    if "No module named coverage" in proc.stderr:
        raise ConfigError(
            f"coverage.py is not installed for {python}",
            hint=f"run: {python} -m pip install coverage",
        )
    if not data_file.is_file():
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise BuildRunnerError(
            f"the test run under coverage recorded no data (exit {proc.returncode}: {last})",
            hint="check quality.test_command runs your tests",
        )
    try:
        measurement = read_coverage(data_file, root)
    except ValueError as exc:
        raise BuildRunnerError(f"coverage data from the test run is unreadable: {exc}") from None
    return CoverageRun(command, proc.returncode, round(time.monotonic() - started, 2), measurement)
