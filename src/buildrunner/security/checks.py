"""One security check over a target: secrets and/or SQL injection, as one report.

`check_contents` is the engine: it checks named contents (staged blobs, a commit's
files, strings) for secrets and SQL injection at or above a severity. `br security
check --staged`, the pre-commit hook and `check_revisions` (a branch against its
base) feed it git blobs; `scan_paths` (`br security scan`, `check`) reads files.

A check never passes silently over what it did not read: files not scanned are
listed in the report, and for staged or changed files (and files named with
`--file`) they fail it (`raise_for_findings`) unless allowlisted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from buildrunner.errors import BuildRunnerError, ConfigError, SecurityError
from buildrunner.security.files import is_binary
from buildrunner.security.git import (
    Blob,
    changed_files,
    committed_blobs,
    history_blobs,
    repo_root,
    revision_blobs,
    staged_blobs,
    staged_renames,
)
from buildrunner.security.report import BINARY, MISSING, NOT_ANALYSED, NOT_SCANNED_ADVICE, ScanReport, SkippedFile, too_big
from buildrunner.security.scanner import SecretMatch, SecretScanner
from buildrunner.security.sql_detector import SQLFinding, SQLInjectionDetector
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.project import Project

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}


@dataclass
class SecurityReport:
    """Everything one check found and everything it could not read; `raise_for_findings` decides the exit code."""

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
    single_file: str | None = None  # the one file the target names: its findings need no file heading
    strict: bool = False  # every file not scanned fails the check (staged or changed files)
    named: set[str] = field(default_factory=set)  # files named explicitly: any of them not scanned fails the scan
    min_severity: str = "low"  # findings below it were dropped (`--min-severity`)...
    below_min_severity: int = 0  # ...and how many: a clean report must not hide that it hid them
    already_committed: int = 0  # findings the committed file (HEAD) already held, not counted (the pre-commit hook)
    introduced_in: dict[str, str] = field(default_factory=dict)  # a history's finding (fingerprint) -> the commit that added it

    @property
    def clean(self) -> bool:
        """No findings (files not scanned are `unscanned`, not findings)."""
        return not self.secrets and not self.sql_injection

    @property
    def not_scanned(self) -> list[SkippedFile]:
        """Files whose content was not read: too big, unreadable, vanished, too deep, links leaving the project."""
        return [s for s in self.skipped if s.not_scanned]

    @property
    def not_analysed(self) -> list[SkippedFile]:
        """Files (or parts) read but not analysed for SQL injection, with why."""
        return [s for s in self.skipped if s.kind == NOT_ANALYSED]

    @property
    def binary(self) -> list[SkippedFile]:
        return [s for s in self.skipped if s.kind == BINARY]

    @property
    def unscanned(self) -> list[SkippedFile]:
        """Files not scanned that fail the check: all of them for staged/changed files, else the named ones."""
        return [s for s in self.not_scanned if self.strict or s.path in self.named]

    @property
    def passed(self) -> bool:
        return self.clean and not self.unscanned

    def counts(self) -> str:
        """`2 secrets, 1 SQL injection risk`: only the checks that ran."""
        parts = []
        if self.checked_secrets:
            parts.append(plural(len(self.secrets), "secret"))
        if self.checked_sql:
            parts.append(plural(len(self.sql_injection), "SQL injection risk"))
        return ", ".join(parts)

    def raise_for_findings(self, prefix: str = "") -> None:
        """SecurityError (exit 3) for findings; else BuildRunnerError (exit 1) for files that had to be scanned and were not."""
        allow = f"`# br:allow` or in {self.whitelist_file or 'the whitelist file'}"
        unscanned = self.unscanned
        missed = ""
        if unscanned:
            first = unscanned[0]
            more = f" and {len(unscanned) - 1} more" if len(unscanned) > 1 else ""
            missed = f"{plural(len(unscanned), 'file')} not scanned ({first.path}: {first.reason}{more})"
        if not self.clean:
            counts = [(len(self.secrets), "secret"), (len(self.sql_injection), "SQL injection risk")]
            found = " and ".join(plural(n, noun) for n, noun in counts if n)
            one = len(self.secrets) + len(self.sql_injection) == 1
            todo = f"rotate {'it' if one else 'them'}: every clone holds the commits" if self.introduced_in else f"remove {'it' if one else 'them'}"
            raise SecurityError(f"{prefix}{found} found" + (f"; {missed}" if missed else ""), hint=f"{todo}, or allowlist a false positive with {allow}")
        if unscanned:
            advice = [NOT_SCANNED_ADVICE[kind] for kind in dict.fromkeys(s.kind for s in unscanned) if kind in NOT_SCANNED_ADVICE]
            raise BuildRunnerError(
                f"{prefix}{missed}",
                hint=f"{'; '.join(advice) or 'check the files'}, or allowlist the path in {self.whitelist_file or 'the whitelist file'}",
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

    def keep_at_least(self, min_severity: str) -> None:
        """Drop findings below `min_severity` (low < medium < high)."""
        if min_severity not in SEVERITY_RANK:
            raise ConfigError(f"severity {min_severity!r}", hint="use low, medium or high")
        floor = SEVERITY_RANK[min_severity]
        before = len(self.secrets) + len(self.sql_injection)
        self.secrets = [m for m in self.secrets if SEVERITY_RANK.get(m.severity, 3) >= floor]
        self.sql_injection = [f for f in self.sql_injection if SEVERITY_RANK.get(f.severity, 3) >= floor]
        self.min_severity = min_severity
        self.below_min_severity += before - len(self.secrets) - len(self.sql_injection)


def _new_report(project: "Project", target: str, secrets: bool, sql: bool, **kw: Any) -> SecurityReport:
    return SecurityReport(target, checked_secrets=secrets, checked_sql=sql, whitelist_file=project.config.security.whitelist_file, **kw)


def scan_paths(
    project: "Project",
    paths: Iterable[str | Path],
    *,
    recursive: bool = True,
    secrets: bool = True,
    sql: bool = True,
    target: str = "",
    min_severity: str = "low",
    strict: bool = False,
) -> SecurityReport:
    """Scan files and folders for secrets and/or SQL injection.

    A file named in `paths` (not found by walking a folder) must be scanned: if it
    is not, `raise_for_findings` fails. With `strict`, every file must be.
    """
    paths = list(paths)
    started = time.perf_counter()
    scanner, detector = SecretScanner(project), SQLInjectionDetector(project)
    named = {scanner.engine.rel(str(p)) for p in paths if not Path(p).is_dir()}
    # the spec's one-file layout (no path line) only when that file is what the user named: `check`'s one changed
    # file is one of "changed files", and its path must be shown
    single = next(iter(named)) if len(paths) == 1 and len(named) == 1 and target in ("", str(paths[0])) else None
    report = _new_report(project, target or ", ".join(str(p) for p in paths), secrets, sql, single_file=single, strict=strict, named=named)
    if secrets:
        report.add(scanner.scan(paths, recursive=recursive), "secrets")
    if sql:
        report.add(detector.scan(paths, recursive=recursive), "sql")
    report.keep_at_least(min_severity)
    report.seconds = time.perf_counter() - started
    return report


def check_changed(project: "Project", *, secrets: bool = True, sql: bool = True, min_severity: str = "low") -> SecurityReport:
    """Files that differ from HEAD in the working tree, plus untracked ones; each must be scanned."""
    files = changed_files(project.paths.root)
    return scan_paths(project, files, secrets=secrets, sql=sql, target="changed files", min_severity=min_severity, strict=True)


def check_contents(
    project: "Project",
    files: Mapping[str, bytes | str] | Iterable[Blob],
    *,
    secrets: bool = True,
    sql: bool = True,
    min_severity: str = "low",
    target: str = "contents",
) -> SecurityReport:
    """Check named contents for secrets and SQL injection at or above `min_severity`: the engine of every check.

    `files` maps a name (relative to the project root, or absolute) to its content,
    or is a sequence of `Blob`s (a blob whose `data` is None was too big to read).
    The name picks the SQL language and is matched against the whitelist. Every
    content that is not scanned (too big) is in `unscanned`, so `raise_for_findings`
    fails on it unless the name is allowlisted.
    """
    started = time.perf_counter()
    report = _new_report(project, target, secrets, sql, strict=True)
    scanner, detector = SecretScanner(project), SQLInjectionDetector(project)
    engine = scanner.engine
    blobs = [Blob(name, content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content, len(content)) for name, content in files.items()] if isinstance(files, Mapping) else files
    for blob in blobs:
        if not _to_read(report, engine, blob, engine.display(blob.path)):
            continue
        assert blob.data is not None
        if secrets:
            report.add(scanner.engine.check_content(blob.data, blob.path), "secrets")
        if sql:
            report.add(detector.engine.check_content(blob.data, blob.path), "sql")
    report.keep_at_least(min_severity)
    report.seconds = time.perf_counter() - started
    return report


def _to_read(report: SecurityReport, engine: Any, blob: Blob, display: str, commit: str | None = None) -> bool:
    """Whether `blob` is checked (and counted): not when its path is allowlisted, it was too big to read (noted) or it
    is binary (noted, except in a history, where every version of a binary file would be listed)."""
    if engine.whitelist.path_allowed(display):
        return False
    if blob.data is None:
        where = display if commit is None else f"{display} (commit {commit[:12]})"
        report.skipped.append(SkippedFile(where, "not in the repository's objects (a partial or damaged clone)", MISSING) if blob.missing else too_big(where, engine.max_bytes))
        return False
    if is_binary(blob.data):
        if commit is None:
            report.skipped.append(SkippedFile(display, "binary", BINARY))
        return False
    report.files_scanned += 1
    report.bytes_scanned += len(blob.data)
    return True


def _absolute(top: Path, blobs: Iterable[Blob]) -> Iterable[Blob]:
    """Blob paths are relative to the repository; the project may be a folder inside it."""
    for blob in blobs:
        yield replace(blob, path=os.path.join(top, blob.path))


def check_staged(
    project: "Project", *, secrets: bool = True, sql: bool = True, min_severity: str = "low", new_only: bool = False,
) -> SecurityReport:
    """The staged blobs in the git index: exactly what the next commit would contain.

    `new_only` (the pre-commit hook): a finding the committed version of its file already held is not counted, as
    gitleaks' hook counts only what the commit adds: a docstring fixed in a legacy file was blocked for an old finding
    elsewhere in it, which teaches `--no-verify`. Findings are matched by fingerprint, so moved lines stay matched; a
    renamed file (`git mv`) is matched against the committed file it was renamed from, so moving it adds nothing.
    """
    root = project.paths.root
    max_bytes = SecretScanner(project).engine.max_bytes
    top = repo_root(root)
    report = check_contents(project, _absolute(top, staged_blobs(root, max_bytes)), secrets=secrets, sql=sql, min_severity=min_severity, target="staged changes")
    if new_only and not report.clean:
        found = {m.file_path for m in report.secrets} | {f.file_path for f in report.sql_injection}
        paths = [Path(os.path.relpath(os.path.join(root, display), top)).as_posix() for display in found if not os.path.isabs(display)]
        committed = committed_blobs(root, paths, max_bytes, renamed_from=staged_renames(root))
        before = check_contents(project, _absolute(top, committed), secrets=secrets, sql=sql, min_severity=min_severity)
        known = {m.fingerprint for m in before.secrets} | {f.fingerprint for f in before.sql_injection}
        kept_secrets = [m for m in report.secrets if m.fingerprint not in known]
        kept_sql = [f for f in report.sql_injection if f.fingerprint not in known]
        report.already_committed = len(report.secrets) + len(report.sql_injection) - len(kept_secrets) - len(kept_sql)
        report.secrets, report.sql_injection = kept_secrets, kept_sql
    return report


def check_history(project: "Project", revisions: list[str] | None = None, *, min_severity: str = "low") -> SecurityReport:
    """Every commit's added content, checked for secrets as gitleaks checks a history: a secret removed since is still
    in every clone and must be rotated. `revisions` as `git log` takes them (default: every branch and tag). Each
    finding names the commit that first added it (`introduced_in`); later versions of its file holding it add nothing."""
    for revision in revisions or ():
        if revision.startswith("-"):  # an option to git log, not a revision
            raise ConfigError(f"revision {revision!r}: not a revision", hint="give branch names, commits or ranges such as main~50..main")
    started = time.perf_counter()
    root = project.paths.root
    top = repo_root(root)
    engine = SecretScanner(project).engine
    report = _new_report(project, f"history of {' '.join(revisions) if revisions else 'every branch and tag'}", True, False)
    for commit, blob in history_blobs(root, list(revisions or ()), engine.max_bytes):
        absolute = os.path.join(top, blob.path)
        if not _to_read(report, engine, blob, engine.display(absolute), commit=commit):
            continue
        assert blob.data is not None
        for match in engine.check_content(blob.data, absolute).matches:
            if match.fingerprint not in report.introduced_in:
                report.introduced_in[match.fingerprint] = commit
                report.secrets.append(match)
    report.keep_at_least(min_severity)
    report.seconds = time.perf_counter() - started
    return report


def check_revisions(project: "Project", base: str, head: str = "HEAD", *, secrets: bool = True, sql: bool = True, min_severity: str = "low") -> SecurityReport:
    """The files `head` adds or changes against `base` (e.g. a task's branch against the commit it started from)."""
    root = project.paths.root
    max_bytes = SecretScanner(project).engine.max_bytes
    blobs = _absolute(repo_root(root), revision_blobs(root, base, head, max_bytes))
    return check_contents(project, blobs, secrets=secrets, sql=sql, min_severity=min_severity, target=f"{base}..{head}")
