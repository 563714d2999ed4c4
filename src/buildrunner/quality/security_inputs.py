"""Security findings for the gate and the gap analysis, from BuildRunner's own scanners.

Secrets come from `security.scanner.SecretScanner` (already masked: full values never
leave it), SQL injection risks from `security.sql_detector.SQLInjectionDetector`. The gate
counts and the gap analysis lists this one list, so their numbers always agree (`summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from buildrunner.project import Project
from buildrunner.quality.sources import skipped_dir
from buildrunner.security.files import IgnoreRules
from buildrunner.words import plural

NOT_SCANNED = "not-scanned"
# A file the scanners could not read may hold what they look for: it weighs as a medium finding, never as clean.
NOT_SCANNED_SEVERITY = "medium"


class ScannerUnavailable(Exception):
    """The security scanners are not installed in this build."""


@dataclass(frozen=True)
class SecurityFinding:
    """One finding, reduced to what the gate and the gap report need."""

    path: str
    line: int
    kind: str  # "secret" | "sql-injection" | "not-scanned" (too big, unreadable, a link leaving the project)
    severity: str  # "high" | "medium" | "low"
    title: str
    detail: str
    column: int = 1


def summary(findings: list[SecurityFinding]) -> str:
    """`6 security findings (4 secrets, 2 SQL injection risks)`: how the gate names what `br gaps analyze` lists."""
    secrets = sum(1 for f in findings if f.kind == "secret")
    unscanned = sum(1 for f in findings if f.kind == NOT_SCANNED)
    sql = len(findings) - secrets - unscanned
    parts = [plural(secrets, "secret"), plural(sql, "SQL injection risk")] + ([f"{plural(unscanned, 'file')} not scanned"] if unscanned else [])
    return f"{plural(len(findings), 'security finding')} ({', '.join(parts)})"


def _relative(root: Path, path: object) -> str:
    p = Path(str(path))
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def _severity(value: object, default: str) -> str:
    text = str(getattr(value, "value", value) or default).lower()
    return text if text in {"high", "medium", "low"} else default


def scan_targets(base: Path) -> list[Path]:
    """The project's top-level files and folders the gate reads: no virtualenvs, build output or ignored files.

    The scanners honour `.gitignore` inside folders; the same skip list as the code
    analysis keeps an un-ignored `.venv` (thousands of third-party files) out of the score.
    """
    rules = IgnoreRules(base)
    targets = []
    for entry in sorted(base.iterdir()):
        is_dir = entry.is_dir() and not entry.is_symlink()
        if is_dir and skipped_dir(entry):
            continue
        if (is_dir or entry.is_file()) and not rules.ignored(entry.name, is_dir):
            targets.append(entry)
    return targets


def scan_security(root: str) -> list[SecurityFinding]:
    """Secrets and SQL injection risks anywhere in the project (both scanners honour .gitignore).

    Runs in a worker process, so it takes plain paths and builds its own Project.
    """
    try:  # a build without the scanners is a category not analysed, not a crash
        from buildrunner.security.scanner import SecretScanner
        from buildrunner.security.sql_detector import SQLInjectionDetector
    except ImportError as exc:
        raise ScannerUnavailable(str(exc)) from None

    base = Path(root)
    targets = scan_targets(base)
    findings: list[SecurityFinding] = []
    if not targets:
        return findings
    with Project(base) as project:
        report = SecretScanner(project).scan(targets, recursive=True)
        for skipped in report.skipped:
            if skipped.not_scanned:  # "nothing is skipped silently": a 7 MB settings.py may hold the key
                findings.append(
                    SecurityFinding(_relative(base, skipped.path), 1, NOT_SCANNED, NOT_SCANNED_SEVERITY, f"not scanned for secrets: {skipped.reason}", "")
                )
        for match in report.matches:
            findings.append(
                SecurityFinding(
                    path=_relative(base, match.file_path),
                    line=int(match.line_number),
                    kind="secret",
                    severity=_severity(getattr(match, "severity", None), "high"),
                    title=f"hardcoded {match.secret_type}",
                    detail=str(match.masked_value),
                    column=int(getattr(match, "column", 1) or 1),
                )
            )
        for issue in SQLInjectionDetector(project).scan(targets, recursive=True).matches:
            findings.append(
                SecurityFinding(
                    path=_relative(base, issue.file_path),
                    line=int(issue.line_number),
                    kind="sql-injection",
                    severity=_severity(issue.severity, "medium"),
                    title=str(issue.description),
                    detail=str(getattr(issue, "recommendation", "") or ""),
                )
            )
    return sorted(findings, key=lambda f: (f.path, f.line, f.column, f.kind, f.title))


def security_or_none(root: str) -> list[SecurityFinding] | None:
    """The scanners' findings, or None when they are not installed (then reported as not analysed)."""
    try:
        return scan_security(root)
    except ScannerUnavailable:
        return None
