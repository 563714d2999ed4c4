"""Which files a scan reads: `.gitignore`-aware walking, and safe reading of one file.

Symlinked folders are not followed (no loops), special files (FIFOs, sockets) are
never opened, and binary, oversized or unreadable files are reported as skipped
instead of failing the scan.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from buildrunner.errors import ConfigError, NotFoundError

BINARY_SNIFF_BYTES = 8192
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class SkippedFile:
    """A file the scan did not read, and why (shown as a note)."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int


def _spec(lines: list[str]) -> Any:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _read_ignore(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


class IgnoreRules:
    """The `.gitignore` files (and `.git/info/exclude`) from `base` down to each folder walked."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._specs: dict[str, Any] = {}
        root_lines = _read_ignore(base / ".git" / "info" / "exclude") + _read_ignore(base / ".gitignore")
        self._specs[""] = _spec(root_lines) if root_lines else None

    def enter(self, rel_dir: str, abs_dir: Path) -> None:
        """Load `abs_dir/.gitignore` (relative path `rel_dir`) when walking into it."""
        if rel_dir and rel_dir not in self._specs:
            lines = _read_ignore(abs_dir / ".gitignore")
            self._specs[rel_dir] = _spec(lines) if lines else None

    def ignored(self, rel: str, is_dir: bool) -> bool:
        parts = rel.split("/")
        for depth in range(len(parts)):
            spec = self._specs.get("/".join(parts[:depth]))
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            if spec.match_file(sub):
                return True
        return False


def walk(start: Path, base: Path, recursive: bool = True) -> Iterator[FileEntry | SkippedFile]:
    """Every regular file under `start` not ignored by git rules rooted at `base` (an ancestor of `start`)."""
    rules = IgnoreRules(base)
    try:
        rel_start = start.relative_to(base).as_posix()
    except ValueError:
        rel_start = ""
    rel_start = "" if rel_start == "." else rel_start
    if rel_start:
        acc = ""
        for part in rel_start.split("/"):
            acc = f"{acc}/{part}" if acc else part
            rules.enter(acc, base / acc)
    stack = [(start, rel_start)]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield SkippedFile(str(folder), f"unreadable folder ({exc.strerror or exc})")
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name in ALWAYS_SKIPPED_DIRS or not recursive or rules.ignored(rel, True):
                    continue
                subdirs.append((Path(entry.path), rel))
                continue
            if rules.ignored(rel, False):
                continue
            try:
                st = os.stat(entry.path)
            except OSError as exc:
                yield SkippedFile(entry.path, f"unreadable ({exc.strerror or exc})")
                continue
            if stat.S_ISDIR(st.st_mode):
                if is_link:
                    yield SkippedFile(entry.path, "symlink to a folder (not followed)")
                continue
            if not stat.S_ISREG(st.st_mode):
                yield SkippedFile(entry.path, "not a regular file")
                continue
            yield FileEntry(entry.path, st.st_size)
        for path, rel in reversed(subdirs):
            rules.enter(rel, path)
            stack.append((path, rel))


def read_text_file(path: str, max_bytes: int) -> bytes | SkippedFile:
    """The bytes of a regular text file, or why it is skipped."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return SkippedFile(path, "not a regular file")
        if st.st_size > max_bytes:
            return SkippedFile(path, f"larger than {max_bytes / 1e6:g} MB (raise security.max_file_size_mb to scan it)")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return SkippedFile(path, f"unreadable ({exc.strerror or exc})")
    if len(data) > max_bytes:
        return SkippedFile(path, f"larger than {max_bytes / 1e6:g} MB (raise security.max_file_size_mb to scan it)")
    if is_binary(data):
        return SkippedFile(path, "binary")
    return data


def is_binary(data: bytes) -> bool:
    """A NUL byte near the start means binary (the heuristic git and grep use)."""
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def _named(raw: str | Path) -> Path:
    """A path the user named: it must be a folder or a regular file (a scan that read nothing must not say "clean")."""
    if not str(raw).strip():
        raise ConfigError("an empty path was given to scan", hint="name a file or folder, or leave the option out to scan the project")
    path = Path(raw)
    if not path.exists():
        if path.is_symlink():
            try:
                os.stat(path)
            except OSError as exc:
                reason = "a symbolic link loop" if exc.errno == errno.ELOOP else f"a symbolic link to {os.readlink(path)}, which does not exist"
                raise NotFoundError(f"{raw}: {reason}", hint="fix or remove the link") from None
        raise NotFoundError(f"{raw}: no such file or folder", hint="check the path (relative to the current folder)")
    if not path.is_dir() and not path.is_file():
        raise ConfigError(f"{raw}: not a regular file or folder (a pipe, socket or device)", hint="name a file or folder to scan")
    return path


def collect(paths: Iterable[str | Path], root: Path, recursive: bool = True) -> tuple[list[FileEntry], list[SkippedFile]]:
    """The files to scan for `paths` (files as given, folders walked), and the ones skipped while walking.

    `.gitignore` rules are read from `root` down when a folder lies inside the
    project, else from the folder itself.
    """
    files: list[FileEntry] = []
    skipped: list[SkippedFile] = []
    for raw in paths:
        path = _named(raw)
        if not path.is_dir():
            files.append(FileEntry(str(path), 0))
            continue
        absolute = path.absolute()
        base = root if absolute == root or root in absolute.parents else absolute
        for item in walk(absolute, base, recursive):
            (skipped if isinstance(item, SkippedFile) else files).append(item)  # type: ignore[arg-type]
    return files, skipped
