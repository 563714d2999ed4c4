"""One security check over a target: secrets and/or SQL injection, as one report.

`br security scan`, `check`, `check --staged` and the pre-commit hook are all
thin wrappers over these functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from buildrunner.errors import SecurityError
from buildrunner.security.files import SkippedFile, is_binary
from buildrunner.security.git import changed_files, staged_blobs
from buildrunner.security.scanner import ScanReport, SecretMatch, SecretScanner
from buildrunner.security.sql_detector import SQLFinding, SQLInjectionDetector

if TYPE_CHECKING:
    from buildrunner.project import Project


@dataclass
class SecurityReport:
    """Everything one check found; `clean` decides the exit code (0 or 3)."""

    target: str
    secrets: list[SecretMatch] = field(default_factory=list)
    sql_injection: list[SQLFinding] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    seconds: float = 0.0
    checked_secrets: bool = True
    checked_sql: bool = True
    whitelist_file: str = ""  # where false positives are allowlisted (`security.whitelist_file`), for advice

    @property
    def clean(self) -> bool:
        return not self.secrets and not self.sql_injection

    def raise_for_findings(self, prefix: str = "") -> None:
        """SecurityError (exit 3) when anything was found, e.g. `2 secrets and 1 SQL injection risk found`."""
        if self.clean:
            return
        counts = [(len(self.secrets), "secret", "secrets"), (len(self.sql_injection), "SQL injection risk", "SQL injection risks")]
        found = " and ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)
        raise SecurityError(
            f"{prefix}{found} found",
            hint=f"remove them, or allowlist a false positive with `# br:allow` or in {self.whitelist_file or 'the whitelist file'}",
        )

    def add(self, report: ScanReport, kind: str) -> None:
        if kind == "secrets":
            self.secrets.extend(report.matches)
        else:
            self.sql_injection.extend(report.matches)
        known = {(s.path, s.reason) for s in self.skipped}
        self.skipped.extend(s for s in report.skipped if (s.path, s.reason) not in known)
        self.files_scanned = max(self.files_scanned, report.files_scanned)
        self.bytes_scanned = max(self.bytes_scanned, report.bytes_scanned)


def scan_paths(project: "Project", paths: Iterable[str | Path], *, recursive: bool = True, secrets: bool = True, sql: bool = True, target: str = "") -> SecurityReport:
    """Scan files and folders for secrets and/or SQL injection."""
    paths = list(paths)
    started = time.perf_counter()
    report = SecurityReport(
        target or ", ".join(str(p) for p in paths), checked_secrets=secrets, checked_sql=sql,
        whitelist_file=project.config.security.whitelist_file,
    )
    if secrets:
        report.add(SecretScanner(project).scan(paths, recursive=recursive), "secrets")
    if sql:
        report.add(SQLInjectionDetector(project).scan(paths, recursive=recursive), "sql")
    report.seconds = time.perf_counter() - started
    return report


def check_changed(project: "Project", *, secrets: bool = True, sql: bool = True) -> SecurityReport:
    """Files that differ from HEAD in the working tree, plus untracked ones."""
    files = changed_files(project.paths.root)
    return scan_paths(project, files, secrets=secrets, sql=sql, target="changed files")


def check_staged(project: "Project", *, secrets: bool = True, sql: bool = True) -> SecurityReport:
    """The staged blobs in the git index: exactly what the next commit would contain."""
    from buildrunner.security.git import repo_root

    started = time.perf_counter()
    report = SecurityReport("staged changes", checked_secrets=secrets, checked_sql=sql, whitelist_file=project.config.security.whitelist_file)
    scanner, detector = SecretScanner(project), SQLInjectionDetector(project)
    max_bytes = scanner.engine.max_bytes
    top = repo_root(project.paths.root)
    for blob in staged_blobs(project.paths.root, max_bytes):
        full = str(top / blob.path)
        if blob.data is None:
            report.skipped.append(SkippedFile(blob.path, f"larger than {max_bytes / 1e6:g} MB (raise security.max_file_size_mb to scan it)"))
            continue
        if is_binary(blob.data):
            report.skipped.append(SkippedFile(blob.path, "binary"))
            continue
        report.files_scanned += 1
        report.bytes_scanned += len(blob.data)
        if secrets:
            report.secrets.extend(scanner.scan_bytes(blob.data, full))
        if sql:
            report.sql_injection.extend(detector.check_bytes(blob.data, full))
    report.seconds = time.perf_counter() - started
    return report
