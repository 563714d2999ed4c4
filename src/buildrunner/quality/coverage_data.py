"""Line coverage measured by coverage.py: read from its data files, or measured by running the tests.

Three files carry it: `coverage.json` (`coverage json`), `coverage.xml` (`coverage xml`,
Cobertura) and `.coverage` (the raw SQLite data, reported with the project's own
coverage config). The newest one wins.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
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
    import coverage  # coverage.py (about 40 ms) only when there is a .coverage file to read or a suite to measure
    from coverage.exceptions import CoverageException

    cov = coverage.Coverage(data_file=str(path), config_file=_coverage_config(root))
    try:
        cov.load()
        percent = cov.report(file=io.StringIO(), ignore_errors=True)
    except CoverageException as exc:
        raise ValueError(str(exc)) from None
    return float(percent), None, None


def _shown(path: Path, root: Path) -> str:
    """A data file's path as reports show it: relative to the project when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


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
    return CoverageMeasurement(
        percent=round(percent, 2),
        source=_shown(path, root),
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
    """A test run under coverage: what ran, how it ended, why (its last words), what it measured."""

    command: list[str]
    exit_code: int
    seconds: float
    measurement: CoverageMeasurement
    cause: str  # the last error line and the summary line of its output: what a failing run died of

    @property
    def ran_tests(self) -> bool:
        """Whether the tests ran: exit 0 (passed) or 1 (some failed) for pytest and unittest; any other code is a
        run that never got to the tests (a collection error, no tests found, a usage error)."""
        return self.exit_code in (0, 1)


# pytest's short summary of a failure (`FAILED tests/test_a.py::test_f - assert 3 == 4`), its error lines
# (`E   ModuleNotFoundError: No module named 'app'`) and a traceback's last line (`ValueError: bad`).
_FAILED_LINE = re.compile(r"^(?:FAILED|ERROR) (\S+ - .+)$")
_ERROR_LINE = re.compile(r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*)$")


def _cause(stdout: str, stderr: str) -> str:
    """One line saying how the run ended: the first failure pytest summarises, else the last error line, then the
    summary line (`ModuleNotFoundError: No module named 'app' (1 error in 0.05s)`): why, without the whole log."""
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
    failed = [m.group(1) for m in map(_FAILED_LINE.match, lines) if m]
    errors = [m.group(1) for m in map(_ERROR_LINE.match, lines) if m]
    summary = next((line.strip() for line in reversed(stdout.splitlines()) if line.strip()), None) or (lines[-1] if lines else "no output")
    reason = failed[0] if failed else errors[-1] if errors else None
    return f"{reason} ({summary})" if reason and reason != summary else summary


def _measure_files(data_file: Path, root: Path, files: Sequence[Path]) -> tuple[float, int, int]:
    """(percent, covered, total) statements of exactly `files`, with the project's coverage config (its exclusions):
    a file no test imported counts with every line missed, and the tests themselves are not among them."""
    import coverage
    from coverage.exceptions import CoverageException

    here = os.getcwd()
    os.chdir(root)  # data recorded with `relative_files = true` names files relative to where the suite ran (the root);
    try:  # coverage reads the folder they are relative to when it starts
        cov = coverage.Coverage(data_file=str(data_file), config_file=_coverage_config(root))
        try:
            cov.load()
        except CoverageException as exc:
            raise ValueError(str(exc)) from None
        covered = total = 0
        for path in files:
            try:
                _, statements, _, missing, _ = cov.analysis2(str(path))
            except CoverageException:  # not Python coverage can parse: the gate notes the file already
                continue
            total += len(statements)
            covered += len(statements) - len(missing)
    finally:
        os.chdir(here)
    return (100.0 * covered / total if total else 100.0), covered, total


def run_coverage(root: Path, data_file: Path, test_command: list[str], timeout: float, files: Sequence[Path]) -> CoverageRun:
    """Run the test suite under coverage.py and measure `files` (the project's own code) from what it recorded."""
    python = _project_python(root)
    make_private_dir(data_file.parent)  # 0700, as all of .buildrunner/ is
    data_file.unlink(missing_ok=True)
    command = [python, "-m", "coverage", "run", f"--data-file={data_file}", f"--source={root}", *test_command]
    started = time.monotonic()
    try:
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout, check=False)
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
    cause = _cause(proc.stdout, proc.stderr)
    if not data_file.is_file():
        raise BuildRunnerError(
            f"the test run under coverage recorded no data (exit {proc.returncode}: {cause})",
            hint="check quality.test_command runs your tests",
        )
    try:
        percent, covered, total = _measure_files(data_file, root, files)
    except (OSError, ValueError) as exc:
        raise BuildRunnerError(f"coverage data from the test run is unreadable: {exc}") from None
    measurement = CoverageMeasurement(round(percent, 2), _shown(data_file, root), ".coverage", covered, total, data_file.stat().st_mtime)
    return CoverageRun(command, proc.returncode, round(time.monotonic() - started, 2), measurement, cause)
