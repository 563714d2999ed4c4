"""Spreading a file scan over one process per core (used only for big trees).

Any engine with `scan_paths(list[str]) -> ScanReport` and picklable state works:
each worker receives the engine once, then batches of paths of similar total size.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from buildrunner.security.files import FileEntry
    from buildrunner.security.report import ScanReport


class PathScanner(Protocol):
    def scan_paths(self, paths: list[str]) -> "ScanReport": ...


_ENGINE: list[Any] = []


def _init(engine: PathScanner) -> None:
    _ENGINE[:] = [engine]


def _run(paths: list[str]) -> "ScanReport":
    return _ENGINE[0].scan_paths(paths)


def batches(files: list["FileEntry"], count: int) -> list[list[str]]:
    """Split files into `count` batches of similar total size (largest first, greedy)."""
    loads = [0] * count
    out: list[list[str]] = [[] for _ in range(count)]
    for entry in sorted(files, key=lambda f: -f.size):
        i = loads.index(min(loads))
        out[i].append(entry.path)
        loads[i] += entry.size + 4096  # opening a file costs about as much as reading 4 KB
    return [b for b in out if b]


def scan_in_processes(engine: PathScanner, files: list["FileEntry"], workers: int) -> list["ScanReport"]:
    """Run `engine.scan_paths` over `files` in `workers` processes; one report per batch."""
    # fork starts in milliseconds; spawn where fork is unsafe (other threads running) or missing.
    method = "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_init, initargs=(engine,)) as pool:
        return list(pool.map(_run, batches(files, workers * 4)))


def worker_count(files: list["FileEntry"], configured: int | None, min_bytes: float) -> int:
    """1 for small scans (in-process starts fastest) and inside daemon processes (they may
    not have children), else one process per core."""
    cores = configured or os.cpu_count() or 1
    if multiprocessing.current_process().daemon:
        return 1
    if cores < 2 or len(files) < 2 or sum(f.size for f in files) < min_bytes:
        return 1
    return min(cores, len(files))
