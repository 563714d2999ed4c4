"""Text rendering of a security report (the spec's layout)."""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from rich.console import Console

    from buildrunner.security.checks import SecurityReport

SECRET_ADVICE = (
    "Move secrets to .env file (add to .gitignore)",
    "Use environment variables",
    "Never commit API keys to git",
    "Not a secret? Add `br:allow` to the line, or its fingerprint (--format json) to {whitelist}",
)
MAX_SKIPPED_SHOWN = 10


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _grouped(items: list[Any], single_file: bool) -> list[tuple[str | None, list[Any]]]:
    if single_file:
        return [(None, items)]
    return [(path, list(group)) for path, group in groupby(items, key=lambda m: m.file_path)]


def render(report: "SecurityReport", out: "Console", err: "Console") -> None:
    """Findings to `out`, skip notes to `err`; printed without markup so `[rule]` stays literal."""

    def say(text: str) -> None:
        out.print(text, markup=False)

    files = {m.file_path for m in report.secrets} | {f.file_path for f in report.sql_injection}
    single = len(files) <= 1 and report.files_scanned <= 1
    say(f"Scanning: {report.target}")
    def section(title: str, items: list[Any]) -> Iterator[tuple[str, Any]]:
        """Print the title and file headings; yield (indent, finding) for the finding lines."""
        say(f"\n{title}")
        for path, group in _grouped(items, single):
            if path is not None:
                say(f"  {path}")
            for item in group:
                yield ("  " if path is None else "    "), item

    if report.secrets:
        for indent, m in section("❌ SECRETS DETECTED:", report.secrets):
            say(f"{indent}Line {m.line_number}: [{m.secret_type}] {m.masked_value}")
        say("\n💡 Recommendation:")
        for advice in SECRET_ADVICE:
            say(f"  • {advice.format(whitelist=report.whitelist_file or 'the whitelist file')}")
    if report.sql_injection:
        for indent, f in section("❌ SQL INJECTION RISKS:", report.sql_injection):
            say(f"{indent}Line {f.line_number}: [{f.severity}] {f.description}")
            if f.code:
                say(f"{indent}  {f.code}")
            say(f"{indent}  Fix: {f.recommendation}")
    for note in report.skipped[:MAX_SKIPPED_SHOWN]:
        err.print(f"note: skipped {note.path}: {note.reason}", markup=False)
    if len(report.skipped) > MAX_SKIPPED_SHOWN:
        err.print(f"note: {len(report.skipped) - MAX_SKIPPED_SHOWN} more files skipped (see --format json)", markup=False)
    size = f"{report.bytes_scanned / 1e6:.1f} MB" if report.bytes_scanned >= 100_000 else f"{report.bytes_scanned / 1e3:.1f} KB"
    summary = f"{_plural(report.files_scanned, 'file')}, {size} in {report.seconds:.2f}s"
    if report.clean:
        checked = " or ".join(k for k, on in (("secrets", report.checked_secrets), ("SQL injection", report.checked_sql)) if on)
        say(f"\n✅ No {checked} found ({summary})")
    else:
        say(f"\n{_plural(len(report.secrets), 'secret')}, {_plural(len(report.sql_injection), 'SQL injection risk')} ({summary})")
