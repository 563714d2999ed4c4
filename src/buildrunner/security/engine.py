"""What secret scanning and SQL-injection detection share: reading files, whitelists, reports, cores.

A `FileEngine` holds only picklable state, so the same object scans in-process
(small scans start fast) or in one worker process per core (big trees).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable

from buildrunner.project import Project
from buildrunner.security.files import collect, read_text_file
from buildrunner.security.pool import scan_in_processes, worker_count
from buildrunner.security.report import ScanReport, SkippedFile
from buildrunner.security.whitelist import Whitelist


@dataclass
class FileEngine(ABC):
    """Reads files for a check: `check(data, display_path)` is the part each engine supplies."""

    whitelist: Whitelist
    root: str
    max_bytes: int

    def __getstate__(self) -> dict[str, Any]:
        """Only the dataclass fields travel to worker processes; compiled caches are rebuilt there."""
        names = {f.name for f in fields(self)}
        return {k: v for k, v in self.__dict__.items() if k in names}

    def rel(self, path: str) -> str:
        """`path` relative to the project root (posix) when inside it: how results and whitelists name files."""
        if path.startswith("<"):
            return path
        rel = os.path.relpath(os.path.abspath(path), self.root)
        return path if rel.startswith("..") else Path(rel).as_posix()

    def wants(self, path: str) -> bool:
        return True

    def passed_over(self, path: str) -> SkippedFile | None:
        """A note for a file this check does not read but a user would expect it to (its language is not one it
        knows), so that a clean report never hides it; None for files outside the check's scope."""
        return None

    @abstractmethod
    def check(self, data: bytes, display_path: str) -> ScanReport:
        """Findings in one file's bytes, with notes on what was not analysed (`skipped`)."""

    def display(self, file_path: str) -> str:
        """How results and the whitelist name `file_path`: a relative name is relative to the project root."""
        return self.rel(file_path) if os.path.isabs(file_path) else Path(file_path).as_posix()

    def check_named(self, data: bytes, file_path: str) -> list[Any]:
        """Findings in content named `file_path` (a staged blob, a string), whitelist applied."""
        result = self.check_content(data, file_path)
        return result.matches

    def check_content(self, data: bytes, file_path: str) -> ScanReport:
        """`check_named` with what was skipped: findings plus any note (e.g. "not analysed")."""
        display = self.display(file_path)
        if self.whitelist.path_allowed(display):
            return ScanReport()
        if not self.wants(file_path):
            note = self.passed_over(display)
            return ScanReport(skipped=[note] if note else [])
        return self.check(data, display)

    def scan_paths(self, paths: Iterable[str]) -> ScanReport:
        report = ScanReport()
        for path in paths:
            display = self.rel(path)
            if self.whitelist.path_allowed(display):
                continue
            data = read_text_file(path, self.max_bytes)
            if isinstance(data, SkippedFile):
                report.skipped.append(SkippedFile(display, data.reason, data.kind))
                continue
            report.files_scanned += 1
            report.bytes_scanned += len(data)
            report.merge(self.check(data, display))
        return report


def default_project(project: "Project | None") -> "Project":
    if project is not None:
        return project
    return Project()


def engine_fields(project: "Project") -> dict[str, Any]:
    """The FileEngine fields a project's config implies."""
    settings = project.config.security
    root = project.paths.root
    return {
        "whitelist": Whitelist.load(root / settings.whitelist_file),
        "root": str(root),
        "max_bytes": int(settings.max_file_size_mb * 1_000_000),
    }


def run_scan(engine: FileEngine, project: "Project", paths: Iterable[str | Path], recursive: bool) -> ScanReport:
    """Collect the files under `paths`, check them in-process or on every core, and sort the findings."""
    files, skipped = collect(paths, project.paths.root, recursive)
    passed_over = [note for f in files if not engine.wants(f.path) and (note := engine.passed_over(engine.rel(f.path))) is not None]
    files = [f for f in files if engine.wants(f.path)]
    settings = project.config.security
    workers = worker_count(files, settings.workers, settings.parallel_min_mb * 1_000_000)
    shown = [SkippedFile(engine.rel(s.path), s.reason, s.kind) for s in skipped if engine.wants(s.path)]
    report = ScanReport(skipped=[s for s in shown + passed_over if not engine.whitelist.path_allowed(s.path)])
    if workers == 1:
        report.merge(engine.scan_paths([f.path for f in files]))
    else:
        for part in scan_in_processes(engine, files, workers):
            report.merge(part)
    report.matches.sort(key=lambda m: (m.file_path, m.line_number))
    return report
