"""Text rendering of a security report (the spec's layout)."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from buildrunner.cli.common import printable, printable_path
from buildrunner.words import plural

if TYPE_CHECKING:
    from rich.console import Console

    from buildrunner.security.checks import SecurityReport
    from buildrunner.security.report import SkippedFile

ENV_FILE_ADVICE = "Keep .env files out of git: add them to .gitignore (`git rm --cached FILE` for one already committed)"
SECRET_ADVICE = (
    "Move secrets to .env file (add to .gitignore)",
    "Use environment variables",
    "Never commit API keys to git",
    "Not a secret? Add `br:allow` to the line, or its fingerprint (--format json) to {whitelist}",
)


def _grouped(items: list[Any], single_file: str | None) -> list[tuple[str | None, list[Any]]]:
    """Findings by file; no heading when the target is the one file they are all in (the spec's layout)."""
    if single_file is not None and all(i.file_path == single_file for i in items):
        return [(None, items)]
    return [(path, list(group)) for path, group in groupby(items, key=lambda m: m.file_path)]


def render(report: "SecurityReport", out: "Console", err: "Console") -> None:
    """Findings and the summary to `out`; every file not scanned or not analysed to `err`.

    Printed without markup so `[rule]` stays literal.
    """

    def say(text: str) -> None:
        out.print(text, markup=False)

    say(f"Scanning: {printable_path(report.target)}")

    def section(title: str, items: list[Any]) -> Iterator[tuple[str, Any]]:
        """Print the title and file headings; yield (indent, finding) for the finding lines."""
        say(f"\n{title}")
        for path, group in _grouped(items, report.single_file):
            if path is not None:
                say(f"  {printable_path(path)}")
            for item in group:
                yield ("  " if path is None else "    "), item

    if report.secrets:
        for indent, m in section("❌ SECRETS DETECTED:", report.secrets):
            commit = report.introduced_in.get(m.fingerprint)
            say(f"{indent}Line {m.line_number}: [{m.secret_type}] {m.masked_value}" + (f" (added in commit {commit[:12]})" if commit else ""))
        say("\n💡 Recommendation:")
        in_env_files = all(_dotenv(m.file_path) for m in report.secrets)
        for advice in (ENV_FILE_ADVICE, *SECRET_ADVICE[1:]) if in_env_files else SECRET_ADVICE:  # a secret in .env is where it should be
            say(f"  • {advice.format(whitelist=report.whitelist_file or 'the whitelist file')}")
    if report.sql_injection:
        for indent, f in section("❌ SQL INJECTION RISKS:", report.sql_injection):
            say(f"{indent}Line {f.line_number}: [{f.severity}] {f.description}")
            if f.code:
                say(f"{indent}  {printable(f.code)}")
            say(f"{indent}  Fix: {f.recommendation}")
    for note in report.not_scanned:
        err.print(f"not scanned: {printable_path(note.path)}: {note.reason}", markup=False)
    for line in not_analysed_lines(report.not_analysed):
        err.print(line, markup=False)
    size = f"{report.bytes_scanned / 1e6:.1f} MB" if report.bytes_scanned >= 100_000 else f"{report.bytes_scanned / 1e3:.1f} KB"
    extras = [f"{plural(len(report.binary), 'binary file')} skipped"] if report.binary else []
    if report.not_scanned:
        extras.append(f"{plural(len(report.not_scanned), 'file')} not scanned")
    if report.below_min_severity:
        extras.append(f"{report.below_min_severity} below --min-severity {report.min_severity} not shown")
    if report.already_committed:
        extras.append(already_committed(report.already_committed))
    if report.not_analysed:
        extras.append(f"{plural(len({note.path for note in report.not_analysed}), 'file')} not checked for SQL injection")
    summary = f"{plural(report.files_scanned, 'file')}, {size} in {report.seconds:.2f}s" + "".join(f"; {e}" for e in extras)
    if report.clean:
        checked = " or ".join(k for k, on in (("secrets", report.checked_secrets), ("SQL injection", report.checked_sql)) if on)
        mark = "⚠️" if report.not_scanned else "✅"
        say(f"\n{mark} No {checked} found ({summary})")
    else:
        say(f"\n{report.counts()} ({summary})")


def already_committed(count: int) -> str:
    """What the hook left out: findings the committed files already held."""
    return f"{plural(count, 'finding')} already in the committed files not counted (`br security check --staged` shows them)"


def not_analysed_lines(notes: "Sequence[SkippedFile]") -> list[str]:
    """One note per file the SQL check gave up on; files it does not read at all, one line per reason (a Java
    project would otherwise get a line per file)."""
    by_reason: dict[str, list[str]] = {}
    for note in notes:
        by_reason.setdefault(note.reason, []).append(note.path)
    lines = []
    for reason, paths in by_reason.items():
        if len(paths) == 1:
            lines.append(f"note: {printable_path(paths[0])}: {reason}")
        else:
            lines.append(f"note: {plural(len(paths), 'file')} (first {printable_path(paths[0])}): {reason}")
    return lines


def _dotenv(path: str) -> bool:
    """A local environment file (`.env`, `.env.local`), not a template meant to be committed (`.env.example`)."""
    name = Path(path).name
    return name.startswith(".env") and not any(word in name for word in ("example", "sample", "template", "dist"))
