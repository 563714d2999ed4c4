"""What secret scanning and SQL-injection detection share: reading files, whitelists, reports, cores.

A `FileEngine` holds only picklable state, so the same object scans in-process
(small scans start fast) or in one worker process per core (big trees).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from buildrunner.security.files import SkippedFile, collect, read_text_file
from buildrunner.security.pool import scan_in_processes, worker_count
from buildrunner.security.whitelist import Whitelist

if TYPE_CHECKING:
    from buildrunner.project import Project


@dataclass
class ScanReport:
    """What a scan found, what it read and what it skipped (with reasons)."""

    matches: list[Any] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0

    def merge(self, other: "ScanReport") -> None:
        self.matches.extend(other.matches)
        self.skipped.extend(other.skipped)
        self.files_scanned += other.files_scanned
        self.bytes_scanned += other.bytes_scanned


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

    @abstractmethod
    def check(self, data: bytes, display_path: str) -> list[Any] | SkippedFile:
        """Findings in one file's bytes (or a note why it was skipped)."""

    def check_named(self, data: bytes, file_path: str) -> list[Any]:
        """Findings in content named `file_path` (a staged blob, a string), whitelist applied.

        A relative name is taken as relative to the project root, whatever the working folder.
        """
        display = self.rel(file_path) if os.path.isabs(file_path) else Path(file_path).as_posix()
        if not self.wants(file_path) or self.whitelist.path_allowed(display):
            return []
        result = self.check(data, display)
        return [] if isinstance(result, SkippedFile) else result

    def scan_paths(self, paths: Iterable[str]) -> ScanReport:
        report = ScanReport()
        for path in paths:
            display = self.rel(path)
            if self.whitelist.path_allowed(display):
                continue
            data = read_text_file(path, self.max_bytes)
            if isinstance(data, SkippedFile):
                report.skipped.append(SkippedFile(display, data.reason))
                continue
            report.files_scanned += 1
            report.bytes_scanned += len(data)
            result = self.check(data, display)
            if isinstance(result, SkippedFile):
                report.skipped.append(result)
            else:
                report.matches.extend(result)
        return report


def default_project(project: "Project | None") -> "Project":
    if project is not None:
        return project
    from buildrunner.project import Project

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
    files = [f for f in files if engine.wants(f.path)]
    settings = project.config.security
    workers = worker_count(files, settings.workers, settings.parallel_min_mb * 1_000_000)
    report = ScanReport(skipped=[SkippedFile(engine.rel(s.path), s.reason) for s in skipped])
    if workers == 1:
        report.merge(engine.scan_paths([f.path for f in files]))
    else:
        for part in scan_in_processes(engine, files, workers):
            report.merge(part)
    report.matches.sort(key=lambda m: (m.file_path, m.line_number))
    return report
