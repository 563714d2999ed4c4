"""Where every export writes: the one helper for `br telemetry export`, `report` and `CostTracker.export_csv`.

A file is written as a user expects of `> PATH` in a shell, with one safety net added:
- `-` is standard output; `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` are
  that open descriptor of this process (so a shell's `>>` keeps appending);
- a device, FIFO or socket is written through and keeps its type (`/dev/null` stays a device);
- a regular file, or a new one, is written to a temporary sibling and renamed over the target,
  so a failed export never leaves half a file (and a Prometheus textfile collector never reads
  one); a symlink is followed and its target replaced, so the link stays a link; an existing
  file keeps its permission bits.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from buildrunner.errors import BuildRunnerError, ConfigError, NotFoundError

STDOUT = "-"
_FD_ALIASES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd)/(\d+)$")


def is_stdout(target: str | Path) -> bool:
    """True for `-`, the conventional name of standard output."""
    return str(target) == STDOUT


def _own_descriptor(target: str) -> int | None:
    """The descriptor `target` names when it is one of this process's own (`/dev/stdout`, `/dev/fd/3`, ...)."""
    if target in _FD_ALIASES:
        fd = _FD_ALIASES[target]
    else:
        found = _FD_PATH.match(target)
        if not found:
            return None
        fd = int(found.group(1))
    try:
        os.fstat(fd)
    except OSError:
        return None
    return fd


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _failed(path: str | Path, exc: OSError) -> BuildRunnerError:
    return BuildRunnerError(f"{path}: cannot write here ({exc.strerror}); nothing was written", hint="choose a writable location or check free space")


@contextmanager
def _descriptor(fd: int) -> Iterator[IO[str]]:
    """Write to a duplicate of `fd` (standard output for `-`), flushed when done, never closing `fd` itself."""
    sys.stdout.flush()
    sys.stderr.flush()
    handle = os.fdopen(os.dup(fd), "w", encoding="utf-8", newline="")
    try:
        yield handle
    finally:
        try:
            handle.close()
        except BrokenPipeError:
            pass


@contextmanager
def _write_through(path: str) -> Iterator[IO[str]]:
    """A device, FIFO or socket: open it for writing as it is (no temporary file, no truncation)."""
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _failed(path, exc) from None
    try:
        with handle:
            yield handle
    except OSError as exc:  # a full disk or device shows when the buffer is flushed
        raise BuildRunnerError(f"{path}: writing failed ({exc.strerror}); the output is incomplete", hint="check free space on it, or write elsewhere") from None


@contextmanager
def _atomic(path: Path) -> Iterator[IO[str]]:
    """A regular file: a temporary sibling renamed over `path` once everything is written."""
    if not path.parent.is_dir():  # a typo in a folder name must not create folders (`/nonexistent/dir/x.csv` made /nonexistent)
        raise NotFoundError(f"{path.parent}: no such folder to write {path.name} in", hint="create the folder first, or give another path")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    except OSError as exc:
        raise _failed(path, exc) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _failed(path, exc) from None
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _failed(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def open_output(target: str | Path) -> Iterator[IO[str]]:
    """A text handle on `target` (see the module doc); an exception inside leaves a regular file untouched."""
    name = str(target)
    if not name:
        raise ConfigError("empty output path", hint="give a file name, or - for standard output")
    fd = 1 if is_stdout(name) else _own_descriptor(name)
    if fd is not None:
        with _descriptor(fd) as handle:
            yield handle
        return
    path = Path(name).expanduser()
    try:
        info = path.stat()  # follows symlinks: what matters is what the data ends up in
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _failed(path, exc) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path}: is a folder", hint="give a file name inside it, e.g. metrics.csv")
    if info is not None and not stat.S_ISREG(info.st_mode):
        with _write_through(str(path)) as handle:
            yield handle
        return
    with _atomic(Path(os.path.realpath(path))) as handle:
        yield handle


def write_output(target: str | Path, chunks: Iterable[str]) -> None:
    """Write `chunks` to `target` with `open_output`'s rules."""
    with open_output(target) as handle:
        for chunk in chunks:
            handle.write(chunk)


def describe(target: str | Path) -> str:
    """How to name `target` in a message: "standard output" for `-`, else the path."""
    return "standard output" if is_stdout(target) else str(target)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection): an event's message or
# an agent's output could carry `=HYPERLINK(...)` into a report someone opens.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A value for a CSV cell: text that a spreadsheet would run as a formula gets a leading `'`; numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
