"""`br gaps`: what is missing or unfinished."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer

from buildrunner.cli.common import FormatOption, ProjectOption
from buildrunner.cli.groups import group_example, group_help

if TYPE_CHECKING:
    from buildrunner.gaps.analyzer import GapReport

app = typer.Typer(help=group_help("gaps"), epilog=group_example("gaps"), no_args_is_help=True)

Severity = Literal["high", "medium", "low"]


def _render_text(report: GapReport) -> None:
    """Findings grouped by severity; each group ends with why its categories matter."""
    import sys

    from buildrunner.cli.common import printable, printable_path
    from buildrunner.gaps.findings import SEVERITIES

    lines = ["Gap Analysis Results", ""]
    for severity in SEVERITIES:
        group = [g for g in report.gaps if g.severity == severity]
        if not group:
            continue
        lines.append(f"{severity.upper()} SEVERITY ({len(group)}):")
        lines.extend(f"  • {printable_path(g.location)}: {printable(g.message)} [{g.category}]" for g in group)
        reasons = {g.category: g.why for g in group}
        lines.extend(f"    why {name}: {reason}" for name, reason in sorted(reasons.items()))
        lines.append("")
    if not report.gaps:
        lines += ["No gaps found.", ""]
    lines.extend(f"note: {note}" for note in report.notes)
    sys.stdout.write("\n".join(lines).rstrip("\n") + "\n")


@app.command()
def analyze(
    fmt: FormatOption = "text",
    severity: Annotated[
        Severity | None,
        typer.Option("--severity", "-s", help="Show only findings of this severity.", show_default=False, case_sensitive=False),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """List unfinished or risky code, each finding with file:line, severity, category and why it matters.

    Severity rules:

    hardcoded-credential: the secret rule's severity (from BuildRunner's secret scanner)

    sql-injection: the detector's severity (from BuildRunner's SQL-injection detector)

    not-scanned: medium, a file the secret scanner could not read (over security.max_file_size_mb, unreadable, a link leaving the project); these three are the findings `br quality check` counts

    stub: high for `raise NotImplementedError`, medium for bodies of only pass/... (abstract methods, protocols, overloads, empty dunder methods, a class's NotImplementedError that says why, as a base class's hook does, and a method a subclass in the project overrides, excepted)

    swallowed-error: high for a bare/broad except whose body is only pass/continue, medium for one that drops the error otherwise

    network-timeout: high (requests, urllib, http.client, socket without a timeout; httpx only with timeout=None, since it defaults to 5 s)

    undeclared-dependency: high in shipped code, medium in tests, behind `except ImportError`, or when no environment knows which distribution provides the import (BuildRunner's, the project's .venv/venv, a table of common aliases such as PIL -> Pillow)

    syntax-error: high in shipped code, low in tests (a file that cannot be decoded included)

    not-analysed: low (a file nested too deeply for the parser, generated code in practice, or written for a newer Python than BuildRunner runs on, as the project's requires-python says; a folder that cannot be read)

    import-cycle: medium (import-time imports only; function-level, TYPE_CHECKING and `if __name__ == "__main__":` imports excluded)

    untested-module: medium (no test file imports the module or is named for it, test_<module>.py; scripts, examples and docs need none)

    missing-type-hints: medium (public functions and methods)

    todo: medium for FIXME/XXX/HACK, low for TODO

    dead-code: medium when vulture is certain (100%), low otherwise

    missing-docstring, duplicate-code, outdated-dependency: low

    Outdated dependencies are looked up on quality.index_url; when it is unreachable the check
    is skipped with a note. Findings are sorted (severity, file, line), so the same code gives
    the same report. Exit 0 whatever is found.

    Example: br gaps analyze --severity high --format json
    """
    from buildrunner.cli.common import emit_json, project_for
    from buildrunner.cli.quality import with_progress
    from buildrunner.gaps.analyzer import GapAnalyzer

    analyzer = GapAnalyzer(project_for(project))
    report = with_progress("Analysing code", lambda progress: analyzer.analyze(progress=progress))
    if severity:
        report = report.only(severity)
    if fmt == "json":
        from buildrunner.cli.common import jsonable

        data = jsonable(report)
        for gap in data["gaps"]:
            gap.pop("severity_rank", None)
            gap["location"] = f"{gap['path']}:{gap['line']}"
        data["counts"] = report.counts
        emit_json(data)
    else:
        _render_text(report)
