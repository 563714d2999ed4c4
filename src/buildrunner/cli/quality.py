"""`br quality`: the quality gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from buildrunner.cli.common import FormatOption, ProjectOption
from buildrunner.cli.groups import group_example, group_help
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.quality.gate import QualityReport

app = typer.Typer(help=group_help("quality"), epilog=group_example("quality"), no_args_is_help=True)

T = TypeVar("T")


def with_progress(label: str, work: Callable[[Callable[[int, int], None] | None], T]) -> T:
    """Run `work(progress)` with a Rich progress bar on stderr when a person is watching."""
    from buildrunner.cli.common import show_progress, stderr

    if not show_progress():
        return work(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr(), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return work(update)


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


STATUS_MARK = {"pass": "✅", "fail": "❌", "not analysed": "not analysed"}


def _render_text(report: QualityReport) -> None:
    from rich import box

    from buildrunner.cli.common import stdout
    from buildrunner.cli.tables import print_table

    out = stdout()
    out.print("Quality Gate Results\n")
    mark = "✅" if report.passed else "❌"
    out.print(f"Overall Score: {_score(report.overall)}/100 {mark}\n")
    rows = [[cat.name, _score(cat.score), f"{cat.threshold:g}", STATUS_MARK[cat.status], cat.basis] for cat in report.categories]
    print_table(out, ["Category", "Score", "Threshold", "Status", "Based on"], rows, box=box.SQUARE, show_lines=False)
    for warning in report.warnings:
        out.print(f"warning: {warning}", markup=False)
    for note in report.notes:
        out.print(f"note: {note}", markup=False)


@app.command()
def check(
    fmt: FormatOption = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Also fail (exit 4) when there are warnings.")] = False,
    run_coverage: Annotated[
        bool,
        typer.Option("--run-coverage", help="Run the test suite under coverage.py (quality.test_command) and score Testing from it."),
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Score Security, Testing, Documentation and Structure (0-100) against quality.thresholds.

    Security: secret scanner and SQL-injection findings, weighted high 15 / medium 5 / low 1
    per 1000 lines. Testing: line coverage from coverage.json, coverage.xml or .coverage
    (or --run-coverage), else the share of modules some test imports (labelled so).
    Documentation: docstring coverage of the public API (80) plus a README covering install
    and usage (20). Structure: radon complexity and maintainability, function and module
    sizes, minus 5 per import cycle. Python is analysed; other languages are listed as not
    analysed and never scored. --format json lists every input behind every score.

    Exit 0 when every category meets its threshold, 4 when one does not (with --strict,
    also when there are warnings).

    Example: br quality check --format json --strict
    """
    from buildrunner.cli.common import emit_json, project_for
    from buildrunner.errors import QualityGateError
    from buildrunner.quality.gate import QualityGate

    gate = QualityGate(project_for(project))
    report = with_progress("Measuring code", lambda progress: gate.check(run_coverage=run_coverage, progress=progress, strict=strict))
    if fmt == "json":
        emit_json(report)
    else:
        _render_text(report)
    if report.failed:
        below = ", ".join(f"{c.name} {_score(c.score)} < {c.threshold:g}" for c in report.failed)
        raise QualityGateError(f"quality gate failed: {below}", hint="see the inputs with --format json")
    if not report.passed:
        raise QualityGateError(
            f"quality gate failed in strict mode: {plural(len(report.warnings), 'warning')}",
            hint="fix the warnings listed above or run without --strict",
        )
