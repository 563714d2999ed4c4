"""The quality gate: four scores from real measurements, each compared with its threshold.

How each score is made (every input is listed in the report, so a score can be traced):

- Security: findings of the secret scanner and the SQL-injection detector, weighted
  high 15 / medium 5 / low 1, per thousand lines of code (at least one):
  ``100 - weighted / max(1, kloc)``, floored at 0.
- Testing: line coverage from coverage.py data when present (or measured with
  `run_coverage` over the modules Testing grades, untested ones included, tests left out;
  0 when the suite never got to run its tests); otherwise the share of modules that some
  test imports, labelled so.
- Documentation: 80 points for docstring coverage of the public API (modules, public
  classes, functions and methods), 10 for a README, 5 each for it covering install and usage.
- Structure: the mean of four shares (functions within the complexity limit, code in
  modules radon ranks A for maintainability, functions and modules within the size
  limits) minus 5 points per import cycle (at most 25).

Python is analysed in depth. Other languages are counted and reported as not
analysed; they never lower a score. A category with nothing to measure is "not
analysed" and neither passes nor fails.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from radon.metrics import mi_rank  # radon's own cut-offs: rank A is above 19

from buildrunner.project import Project
from buildrunner.quality.coverage_data import CoverageMeasurement, CoverageRun, find_coverage
from buildrunner.quality.coverage_data import run_coverage as run_tests
from buildrunner.quality.imports import describe_cycle, find_cycles, needs_test, tested_modules
from buildrunner.quality.metrics import FileMetrics, measure_python
from buildrunner.quality.security_inputs import SecurityFinding, security_or_none, summary
from buildrunner.quality.sources import LanguageCount, SourceFile, SourceSet, parallel_map, project_sources, read_pyproject
from buildrunner.words import plural

SECURITY_WEIGHTS = {"high": 15, "medium": 5, "low": 1}
CYCLE_PENALTY = 5
MAX_CYCLE_PENALTY = 25
README_INSTALL = re.compile(r"\binstall", re.IGNORECASE)
README_USAGE = re.compile(r"\b(usage|example|examples|quick ?start|getting started|how to use)\b", re.IGNORECASE)

PASS, FAIL, NOT_ANALYSED = "pass", "fail", "not analysed"


@dataclass
class CategoryScore:
    """One category: its score (None when not analysed), threshold, status and the inputs it came from."""

    name: str
    score: float | None
    threshold: float
    status: str
    basis: str
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityReport:
    """The gate's verdict for one project."""

    root: str
    overall: float | None
    passed: bool
    categories: list[CategoryScore]
    warnings: list[str]
    notes: list[str]
    python_files: int
    python_lines: int
    not_analysed: list[LanguageCount]
    seconds: float

    def category(self, name: str) -> CategoryScore:
        """The category called `name` (case-insensitive)."""
        return next(c for c in self.categories if c.name.lower() == name.lower())

    @property
    def failed(self) -> list[CategoryScore]:
        """Categories below their threshold."""
        return [c for c in self.categories if c.status == FAIL]


def _status(score: float | None, threshold: float) -> str:
    if score is None:
        return NOT_ANALYSED
    return PASS if score >= threshold else FAIL


def _share(good: int, total: int) -> float:
    return 100.0 if total == 0 else 100.0 * good / total


def testable(sources: SourceSet, by_rel: dict[str, FileMetrics]) -> list[SourceFile]:
    """The modules Testing grades (by line coverage or by the tested-module ratio): analysable library code, not tests,
    scripts, examples or entry shims."""
    return [s for s in sources.python if needs_test(s, by_rel[s.rel].empty) and not by_rel[s.rel].error]


UNKEPT_COVERAGE = "the test run under coverage (its data is not kept outside a BuildRunner project)"


class QualityGate:
    """Scores a project's code; `check()` returns a `QualityReport`."""

    def __init__(self, project: Project | None = None) -> None:
        self.project = project or Project()
        self.settings = self.project.config.quality

    def check(
        self,
        *,
        run_coverage: bool = False,
        progress: Callable[[int, int], None] | None = None,
        strict: bool = False,
    ) -> QualityReport:
        """Measure the project and grade it against `quality.thresholds`; with `strict`, a warning fails it too."""
        started = time.monotonic()
        root = self.project.paths.root.resolve()
        read_pyproject(root)  # a broken pyproject.toml is a configuration error here as in the gap analysis, not ignored
        sources = project_sources(self.project)
        warnings: list[str] = []
        notes: list[str] = []
        metrics, (security,) = parallel_map(
            measure_python,
            sources.python,
            progress,
            side_jobs=[(security_or_none, (str(root),))],
        )
        for m, src in zip(metrics, sources.python, strict=True):
            if m.error:  # broken test data (deliberately invalid files) is common: a note, not a warning
                (notes if src.is_test else warnings).append(f"{m.rel}: not analysed, {m.error}")
        warnings.extend(f"{rel}: folder not analysed, cannot be read ({why})" for rel, why in sources.unreadable.items())
        by_rel = {m.rel: m for m in metrics}
        code = [m for m, s in zip(metrics, sources.python, strict=True) if not s.is_test and not m.error]
        python_lines = sum(m.sloc for m in metrics)
        coverage_run = self._run_coverage(root, [s.path for s in testable(sources, by_rel)]) if run_coverage else None
        other_lines = sum(c.lines for c in sources.other.values())

        categories = [
            self._security(security, python_lines + other_lines, warnings, notes),
            self._testing(sources, by_rel, coverage_run, warnings, notes),
            self._documentation(root, code),
            self._structure(sources, by_rel, code, warnings),
        ]
        scored = [c.score for c in categories if c.score is not None]
        overall = round(sum(scored) / len(scored), 1) if scored else None
        if note := sources.not_analysed_note():
            notes.append(note)
        if not sources.python:
            warnings.append("no Python source found: Testing, Documentation and Structure are not analysed, so the score grades almost nothing")
        return QualityReport(
            root=str(root),
            overall=overall,
            passed=all(c.status != FAIL for c in categories) and not (strict and warnings),
            categories=categories,
            warnings=warnings,
            notes=notes,
            python_files=len(sources.python),
            python_lines=python_lines,
            not_analysed=sorted(sources.other.values(), key=lambda c: c.language),
            seconds=round(time.monotonic() - started, 2),
        )

    # -- categories -------------------------------------------------------------------------

    def _run_coverage(self, root: Path, files: list[Path]) -> CoverageRun:
        """The suite under coverage.py, measuring `files`. Its data goes to `.buildrunner/coverage/` in an initialised project (ignored by
        git there); elsewhere to a private temporary folder removed afterwards: the gate records nothing in a folder
        that is not a BuildRunner project (it made `.buildrunner/` there, and a git repository saw an untracked file)."""
        command, timeout = list(self.settings.test_command), self.settings.coverage_timeout
        if self.project.paths.state_dir.is_dir():
            return run_tests(root, self.project.paths.state_dir / "coverage" / ".coverage", command, timeout, files)
        with tempfile.TemporaryDirectory(prefix="br-coverage-") as folder:
            run = run_tests(root, Path(folder) / ".coverage", command, timeout, files)
        return replace(run, measurement=replace(run.measurement, source=UNKEPT_COVERAGE))  # not a folder that is gone

    def _security(
        self,
        findings: list[SecurityFinding] | None,
        lines: int,
        warnings: list[str],
        notes: list[str],
    ) -> CategoryScore:
        threshold = self.settings.thresholds.security
        if findings is None:
            notes.append("Security not analysed: the security scanner is not available in this installation")
            return CategoryScore("Security", None, threshold, NOT_ANALYSED, "security scanner unavailable")
        counts = {sev: sum(1 for f in findings if f.severity == sev) for sev in SECURITY_WEIGHTS}
        weighted = sum(SECURITY_WEIGHTS[sev] * n for sev, n in counts.items())
        kloc = max(1.0, lines / 1000)
        score = round(max(0.0, 100 - weighted / kloc), 1)
        if findings:
            warnings.append(f"{summary(findings)}: `br gaps analyze` lists each one, as does `br security scan`")
        return CategoryScore(
            "Security",
            score,
            threshold,
            _status(score, threshold),
            f"{plural(len(findings), 'finding')} over {plural(lines, 'line')} of code",
            {
                "lines_of_code": lines,
                "findings_by_severity": counts,
                "weights": SECURITY_WEIGHTS,
                "weighted_per_kloc": round(weighted / kloc, 2),
                "findings": [
                    {"location": f"{f.path}:{f.line}", "kind": f.kind, "severity": f.severity, "title": f.title}
                    for f in findings
                ],
            },
        )

    def _testing(
        self,
        sources: SourceSet,
        by_rel: dict[str, FileMetrics],
        coverage_run: CoverageRun | None,
        warnings: list[str],
        notes: list[str],
    ) -> CategoryScore:
        threshold = self.settings.thresholds.testing
        measured: CoverageMeasurement | None
        if coverage_run is not None:
            measured, run = coverage_run.measurement, coverage_run
            inputs: dict[str, Any] = {"command": run.command, "exit_code": run.exit_code, "seconds": run.seconds}
            if not run.ran_tests:  # what collecting the tests imported is no test's coverage
                warnings.append(f"the test run under coverage exited {run.exit_code} before running the tests: {run.cause}")
                return CategoryScore("Testing", 0.0, threshold, FAIL, f"the tests did not run (exit {run.exit_code}): {run.cause}", inputs)
            if run.exit_code != 0:
                warnings.append(f"the test run under coverage exited {run.exit_code} (failing tests): {run.cause}")
        else:
            measured, read_notes = find_coverage(Path(sources.root))
            notes.extend(read_notes)
            inputs = {}
        if measured is not None:
            newest = max((s.path.stat().st_mtime for s in sources.python if not s.is_test), default=0.0)
            if coverage_run is None and newest > measured.measured_at:
                warnings.append(f"{measured.source} is older than the code it measures: re-run the tests or use --run-coverage")
            inputs.update(
                source=measured.source,
                covered_lines=measured.covered_lines,
                total_lines=measured.total_lines,
                measured_at=measured.measured_at,
            )
            score = round(measured.percent, 1)
            if coverage_run is not None and coverage_run.exit_code != 0:  # coverage of a failing suite is no pass
                return CategoryScore("Testing", score, threshold, FAIL, f"the tests failed (exit {coverage_run.exit_code}) under coverage", inputs)
            return CategoryScore("Testing", score, threshold, _status(score, threshold), f"line coverage from {measured.source}", inputs)
        imports = {m.rel: m.imports for m in by_rel.values()}
        candidates = testable(sources, by_rel)
        if not candidates:
            return CategoryScore("Testing", None, threshold, NOT_ANALYSED, "no Python modules to test")
        tested = tested_modules(imports, sources.python)
        covered = [s for s in candidates if s.module in tested]
        score = round(_share(len(covered), len(candidates)), 1)
        notes.append("Testing is the tested-module ratio: no coverage data found (coverage.json, coverage.xml or .coverage); use --run-coverage to measure lines")
        return CategoryScore(
            "Testing",
            score,
            threshold,
            _status(score, threshold),
            "tested-module ratio (no coverage data)",
            {
                "modules": len(candidates),
                "modules_imported_by_tests": len(covered),
                "untested": sorted(s.rel for s in candidates if s.module not in tested),
            },
        )

    def _documentation(self, root: Path, code: list[FileMetrics]) -> CategoryScore:
        threshold = self.settings.thresholds.documentation
        if not code:
            return CategoryScore("Documentation", None, threshold, NOT_ANALYSED, "no Python code")
        items = documented = 0
        undocumented: list[str] = []
        for m in code:
            if not m.empty:
                items += 1
                documented += m.has_module_docstring
                if not m.has_module_docstring:
                    undocumented.append(f"{m.rel}:1 module")
            for item in m.public:
                items += 1
                documented += item.has_docstring
                if not item.has_docstring:
                    undocumented.append(f"{m.rel}:{item.line} {item.name}")
        docstring_pct = _share(documented, items)
        readme = next((p for p in sorted(root.iterdir()) if p.is_file() and p.name.lower().startswith("readme")), None)
        text = readme.read_text(encoding="utf-8", errors="replace") if readme else ""
        has_install = bool(README_INSTALL.search(text))
        has_usage = bool(README_USAGE.search(text))
        readme_points = (10 if readme else 0) + 5 * has_install + 5 * has_usage
        score = round(0.8 * docstring_pct + readme_points, 1)
        return CategoryScore(
            "Documentation",
            score,
            threshold,
            _status(score, threshold),
            f"{documented}/{items} public items documented, README {'present' if readme else 'missing'}",
            {
                "public_items": items,
                "documented": documented,
                "docstring_coverage": round(docstring_pct, 1),
                "readme": readme.name if readme else None,
                "readme_covers_install": has_install,
                "readme_covers_usage": has_usage,
                "undocumented": undocumented,
            },
        )

    def _structure(
        self,
        sources: SourceSet,
        by_rel: dict[str, FileMetrics],
        code: list[FileMetrics],
        warnings: list[str],
    ) -> CategoryScore:
        threshold = self.settings.thresholds.structure
        if not code:
            return CategoryScore("Structure", None, threshold, NOT_ANALYSED, "no Python code")
        s = self.settings
        functions = [(m.rel, f) for m in code for f in m.functions]
        complex_ = [(rel, f) for rel, f in functions if f.complexity > s.max_complexity]
        long_ = [(rel, f) for rel, f in functions if f.lines > s.max_function_lines]
        big_modules = [m for m in code if m.loc > s.max_module_lines]
        measured = [(m, m.maintainability) for m in code if m.maintainability is not None and m.sloc]
        total_sloc = sum(m.sloc for m, _ in measured)
        rank_a_sloc = sum(m.sloc for m, mi in measured if mi_rank(mi) == "A")
        cycles = find_cycles({m.rel: m.imports for m in by_rel.values()}, sources.python)
        for cycle in cycles:
            warnings.append(f"{cycle.path}:{cycle.line}: import cycle {describe_cycle(cycle)}")
        parts = {
            "complexity": _share(len(functions) - len(complex_), len(functions)),
            "maintainability": _share(rank_a_sloc, total_sloc),
            "function_size": _share(len(functions) - len(long_), len(functions)),
            "module_size": _share(len(code) - len(big_modules), len(code)),
        }
        penalty = min(MAX_CYCLE_PENALTY, CYCLE_PENALTY * len(cycles))
        score = round(max(0.0, sum(parts.values()) / len(parts) - penalty), 1)
        mean_cc = sum(f.complexity for _, f in functions) / len(functions) if functions else 0.0
        mean_mi = sum(mi * m.sloc for m, mi in measured) / total_sloc if total_sloc else None
        return CategoryScore(
            "Structure",
            score,
            threshold,
            _status(score, threshold),
            f"{plural(len(functions), 'function')}, {plural(len(code), 'module')}, {plural(len(cycles), 'import cycle')}",
            {
                "components": {k: round(v, 1) for k, v in parts.items()},
                "cycle_penalty": penalty,
                "mean_cyclomatic_complexity": round(mean_cc, 2),
                "mean_maintainability_index": round(mean_mi, 1) if mean_mi is not None else None,
                "limits": {
                    "max_complexity": s.max_complexity,
                    "max_function_lines": s.max_function_lines,
                    "max_module_lines": s.max_module_lines,
                },
                "too_complex": [f"{rel}:{f.line} {f.name} (cc {f.complexity})" for rel, f in complex_],
                "too_long_functions": [f"{rel}:{f.line} {f.name} ({f.lines} lines)" for rel, f in long_],
                "too_long_modules": [f"{m.rel} ({m.loc} lines)" for m in big_modules],
                "low_maintainability": [f"{m.rel} (MI {mi})" for m, mi in measured if mi_rank(mi) != "A"],
                "import_cycles": [describe_cycle(c) for c in cycles],
            },
        )
