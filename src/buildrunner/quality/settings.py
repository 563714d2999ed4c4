"""The `quality` section of the config (also read by the gap analysis)."""

from __future__ import annotations

from pydantic import Field

from buildrunner.settings_base import Section


class QualityThresholds(Section):
    """Minimum score per category; below it `br quality check` exits 4."""

    security: float = Field(90, ge=0, le=100)
    testing: float = Field(80, ge=0, le=100)
    documentation: float = Field(70, ge=0, le=100)
    structure: float = Field(75, ge=0, le=100)


class QualitySettings(Section):
    """How `br quality check` and `br gaps analyze` measure and judge the code."""

    thresholds: QualityThresholds = Field(default_factory=QualityThresholds)
    # Extra paths to leave out, in .gitignore syntax (on top of .gitignore itself).
    exclude: list[str] = Field(default_factory=list)
    # A function above this cyclomatic complexity counts as too complex.
    max_complexity: int = Field(10, ge=1)
    # Size limits, in lines, for one function and one module.
    max_function_lines: int = Field(80, ge=5)
    max_module_lines: int = Field(1000, ge=50)
    # Smallest duplicated block reported, in non-blank, non-comment lines.
    duplicate_min_lines: int = Field(6, ge=3)
    # vulture's confidence (60-100) below which possibly-dead code is not reported.
    dead_code_min_confidence: int = Field(60, ge=0, le=100)
    # Package index asked for the latest versions (PEP 691 JSON simple API); "" turns the check off.
    index_url: str = "https://pypi.org/simple"
    # Seconds to wait for the index; an unreachable index skips the check with a note.
    index_timeout: float = Field(3.0, gt=0, le=60)
    # `--run-coverage`: the command that runs the test suite under coverage.py.
    test_command: list[str] = Field(default_factory=lambda: ["-m", "pytest", "-q", "-p", "no:cacheprovider"])
    # `--run-coverage`: seconds before the test run is stopped.
    coverage_timeout: float = Field(1800, gt=0)
