"""Which files a scan reads: `.gitignore`-aware walking, and safe reading of one file.

Symlinked folders are not followed (no loops), symlinks whose target leaves the
project are never read, special files (FIFOs, sockets) are never opened, and
binary, oversized, unreadable, vanished or too deeply nested files are reported
as skipped (with a kind and a reason) instead of failing the scan or passing
silently.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from buildrunner.errors import ConfigError, NotFoundError
from buildrunner.paths import state_ignore_patterns
from buildrunner.security.git import tracked_files
from buildrunner.security.report import (
    BINARY,
    FOLDER_LINK,
    NOT_REGULAR,
    OUTSIDE_LINK,
    TOO_DEEP,
    UNREADABLE,
    VANISHED,
    SkippedFile,
    too_big,
)

__all__ = ["FileEntry", "IgnoreRules", "SkippedFile", "collect", "is_binary", "read_text_file", "walk"]

BINARY_SNIFF_BYTES = 8192
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn"})
OUTSIDE_REASON = "symlink leaving the project (not followed)"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int


class IgnoreSpec:
    """Gitignore patterns (pathspec), matched against any file name: also one that is not valid UTF-8.

    Python gives such a name's bytes as surrogates, which pathspec's RE2 backend cannot encode;
    they are matched as U+FFFD instead (a pattern naming those bytes is rare; `*.py` still matches).
    """

    def __init__(self, lines: Iterable[str]) -> None:
        import pathspec  # the scanner's hot path imports it only when a .gitignore is there

        self._spec = pathspec.GitIgnoreSpec.from_lines(list(lines))

    def match_file(self, rel: str) -> bool:
        try:
            return bool(self._spec.match_file(rel))
        except UnicodeEncodeError:
            return bool(self._spec.match_file(rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")))


def _read_ignore(path: Path | str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()
    except OSError:
        return []


def os_skip(path: str, exc: OSError, what: str = "") -> SkippedFile:
    """The SkippedFile an OSError means: vanished, too deep or unreadable."""
    if exc.errno == errno.ENOENT:
        return SkippedFile(path, f"vanished before it was read{what}", VANISHED)
    if exc.errno == errno.ENAMETOOLONG:
        return SkippedFile(path, f"too deep: the path is longer than the system allows{what}", TOO_DEEP)
    if exc.errno == errno.ELOOP:
        return SkippedFile(path, f"unreadable (a symbolic link loop){what}", UNREADABLE)
    return SkippedFile(path, f"unreadable{what} ({exc.strerror or exc})", UNREADABLE)


# One .gitignore in force: (length of its folder's relative path plus the slash, its spec).
Chain = tuple[tuple[int, Any], ...]


class IgnoreRules:
    """The `.gitignore` files (and `.git/info/exclude`) from `base` down to each folder walked.

    `walk` passes each folder the chain of specs in force there, so checking an entry
    costs one match per `.gitignore` above it, however deep the tree is.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self._specs: dict[str, Any] = {}
        # BuildRunner's own state (the open database above all) is never read, whether or not `br init` ignored it.
        self._state = IgnoreSpec(state_ignore_patterns())
        root_lines = _read_ignore(base / ".git" / "info" / "exclude") + _read_ignore(base / ".gitignore")
        self._specs[""] = IgnoreSpec(root_lines) if root_lines else None
        self._tracked: frozenset[str] | None = None  # files git tracks, and their folders: read at the first ignored match

    def enter(self, rel_dir: str, abs_dir: Path) -> None:
        """Load `abs_dir/.gitignore` (relative path `rel_dir`) when walking into it."""
        if rel_dir and rel_dir not in self._specs:
            lines = _read_ignore(abs_dir / ".gitignore")
            self._specs[rel_dir] = IgnoreSpec(lines) if lines else None

    def chain(self, rel_dir: str, parent: Chain | None = None) -> Chain:
        """The specs in force in folder `rel_dir`: the parent folder's plus its own, if it has one."""
        if parent is None:  # the walk's first folder: every ancestor from the base down
            parent = ((0, self._specs[""]),) if self._specs[""] is not None else ()
            acc = ""
            for part in rel_dir.split("/") if rel_dir else ():
                acc = f"{acc}/{part}" if acc else part
                if acc != rel_dir:
                    self.enter(acc, self.base / acc)
                    if self._specs[acc] is not None:
                        parent += ((len(acc) + 1, self._specs[acc]),)
        if not rel_dir:
            return parent
        self.enter(rel_dir, self.base / rel_dir)
        own = self._specs[rel_dir]
        return parent + ((len(rel_dir) + 1, own),) if own is not None else parent

    def skipped_in(self, chain: Chain, rel: str, is_dir: bool) -> bool:
        """Whether the walk leaves `rel` out: BuildRunner's state always; what the `.gitignore` files in `chain`
        ignore unless git tracks it (git ignores `.gitignore` for tracked files, and so must a secret scan)."""
        return self._state.match_file(rel + ("/" if is_dir else "")) or (self.matched_in(chain, rel, is_dir) and not self.is_tracked(rel, is_dir))

    def matched_in(self, chain: Chain, rel: str, is_dir: bool) -> bool:
        """Whether the `.gitignore` files in `chain` name `rel` (whatever git tracks inside it)."""
        suffix = "/" if is_dir else ""
        return any(spec.match_file(rel[start:] + suffix) for start, spec in chain)

    def is_tracked(self, rel: str, is_dir: bool) -> bool:
        """Whether git tracks `rel` (a folder: tracks a file in it); git ignores `.gitignore` for those."""
        if self._tracked is None:
            files = tracked_files(self.base)
            self._tracked = files | {parent for f in files for parent in _parents(f)}
        return rel in self._tracked

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether `rel` is BuildRunner's state or ignored by any `.gitignore` loaded so far above it."""
        suffix = "/" if is_dir else ""
        if self._state.match_file(rel + suffix):
            return True
        root = self._specs.get("")
        if root is not None and root.match_file(rel + suffix):
            return True
        for folder in _parents(rel):  # only the folders above it: a check costs its depth, not the tree's size
            spec = self._specs.get(folder) if folder else None
            if spec is not None and spec.match_file(rel[len(folder) + 1 :] + suffix):
                return True
        return False


def _parents(rel: str) -> Iterator[str]:
    """The folders above a relative posix path: a/b/c.py -> a/b, a."""
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        yield rel


def inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies below it (both already resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def walk(start: Path, base: Path, recursive: bool = True, boundary: str | None = None) -> Iterator[FileEntry | SkippedFile]:
    """Every regular file under `start` not ignored by git rules rooted at `base` (an ancestor of `start`).

    A folder named to scan that the rules above it ignore (`build/`, `vendor/`) is scanned, as ripgrep
    searches an ignored folder it is given: only its own `.gitignore` files apply inside it.
    A symlink is read only when its target lies inside `boundary` (a resolved folder;
    default: `base`); links to folders are never followed.
    """
    rules = IgnoreRules(base)
    fence = boundary or os.path.realpath(base)
    try:
        rel_start = start.relative_to(base).as_posix()
    except ValueError:
        rel_start = ""
    rel_start = "" if rel_start == "." else rel_start
    above = next(_parents(rel_start), "")
    named_though_ignored = bool(rel_start) and rules.matched_in(rules.chain(above), rel_start, True)  # even with a tracked .gitkeep in it
    first: Chain | None = () if named_though_ignored else None  # () : the rules above it do not apply
    stack: list[tuple[str, str, Chain | None]] = [(str(start), rel_start, first)]
    while stack:
        folder, rel_folder, parent_chain = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield os_skip(folder, exc, " (folder)")
            continue
        chain = rules.chain(rel_folder, parent_chain)
        subdirs = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError as exc:
                yield os_skip(entry.path, exc)
                continue
            if is_dir:
                if entry.name in ALWAYS_SKIPPED_DIRS or not recursive or rules.skipped_in(chain, rel, True):
                    continue
                subdirs.append((entry.path, rel))
                continue
            if rules.skipped_in(chain, rel, False):
                continue
            try:
                st = os.stat(entry.path)
            except OSError as exc:
                dangling = is_link and exc.errno == errno.ENOENT
                yield SkippedFile(entry.path, "unreadable (a symbolic link to nothing)", UNREADABLE) if dangling else os_skip(entry.path, exc)
                continue
            if is_link and not inside(os.path.realpath(entry.path), fence):
                yield SkippedFile(entry.path, OUTSIDE_REASON, OUTSIDE_LINK)
                continue
            if stat.S_ISDIR(st.st_mode):
                if is_link:
                    yield SkippedFile(entry.path, "symlink to a folder (not followed)", FOLDER_LINK)
                continue
            if not stat.S_ISREG(st.st_mode):
                yield SkippedFile(entry.path, "not a regular file", NOT_REGULAR)
                continue
            yield FileEntry(entry.path, st.st_size)
        for path, rel in reversed(subdirs):
            stack.append((path, rel, chain))


def read_text_file(path: str, max_bytes: int) -> bytes | SkippedFile:
    """The bytes of a regular text file, or why it is skipped."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return SkippedFile(path, "not a regular file", NOT_REGULAR)
        if st.st_size > max_bytes:
            return too_big(path, max_bytes)
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return os_skip(path, exc)
    if len(data) > max_bytes:
        return too_big(path, max_bytes)
    if is_binary(data):
        return SkippedFile(path, "binary", BINARY)
    return data


def is_binary(data: bytes) -> bool:
    """A NUL byte near the start means binary (the heuristic git and grep use)."""
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def _named(raw: str | Path) -> Path:
    """A path the user named: it must be a folder or a regular file (a scan that read nothing must not say "clean")."""
    if not str(raw).strip():
        raise ConfigError("an empty path was given to scan", hint="name a file or folder, or leave the option out to scan the project")
    path = Path(raw)
    try:
        exists = path.exists()
    except OSError as exc:  # e.g. a name longer than the system allows
        raise NotFoundError(f"{raw}: {exc.strerror or exc}", hint="check the path") from None
    if not exists:
        if path.is_symlink():
            try:
                os.stat(path)
            except OSError as exc:
                reason = "a symbolic link loop" if exc.errno == errno.ELOOP else f"a symbolic link to {os.readlink(path)}, which does not exist"
                raise NotFoundError(f"{raw}: {reason}", hint="fix or remove the link") from None
        raise NotFoundError(f"{raw}: no such file or folder", hint=f"check the path (looked for at {path.absolute()})")
    return path


def boundary_for(path: Path, root: Path) -> tuple[Path, str]:
    """(the folder whose `.gitignore` rules apply, the resolved folder symlinks may not leave) for a named path.

    Inside the project both are the project root; outside it, the named folder itself
    (or a named file's folder).
    """
    absolute = Path(os.path.abspath(path))
    if absolute == root or root in absolute.parents:
        return root, os.path.realpath(root)
    folder = absolute if path.is_dir() else absolute.parent
    return folder, os.path.realpath(folder)


def collect(paths: Iterable[str | Path], root: Path, recursive: bool = True) -> tuple[list[FileEntry], list[SkippedFile]]:
    """The files to scan for `paths` (files as given, folders walked), and the ones skipped while walking.

    `.gitignore` rules are read from `root` down when a folder lies inside the
    project, else from the folder itself. A named file or folder reached through a
    symlink that leaves the project is skipped, not read.
    """
    files: list[FileEntry] = []
    skipped: list[SkippedFile] = []
    for raw in paths:
        path = _named(raw)
        base, fence = boundary_for(path, root)
        if not inside(os.path.realpath(path), fence):
            skipped.append(SkippedFile(str(path), OUTSIDE_REASON, OUTSIDE_LINK))
            continue
        if not path.is_dir():
            if path.is_file():
                files.append(FileEntry(str(path), 0))
            else:  # a pipe, socket or device named on the command line: not read (a FIFO would block), and said
                skipped.append(SkippedFile(str(path), "not a regular file (a pipe, socket or device)", NOT_REGULAR))
            continue
        for item in walk(Path(os.path.abspath(path)), base, recursive, fence):
            (skipped if isinstance(item, SkippedFile) else files).append(item)  # type: ignore[arg-type]
    return _once(files, same_file=_identity), _once(skipped)


_Entry = TypeVar("_Entry", FileEntry, SkippedFile)


@lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    return os.path.realpath(folder)


def _identity(path: str) -> tuple[str, bool]:
    """(the file a path reaches, whether the path is a symbolic link): a link and its target are one file."""
    folder, name = os.path.split(os.path.abspath(path))
    if os.path.islink(path):
        return os.path.realpath(path), True
    return os.path.join(_real_folder(folder), name), False


def _by_path(path: str) -> tuple[str, bool]:
    return os.path.abspath(path), False


def _once(items: list[_Entry], same_file: Callable[[str], tuple[str, bool]] = _by_path) -> list[_Entry]:
    """Each entry once, however many of the named paths reach it (`scan src src/config.py`); with `same_file=_identity`,
    a file linked to from inside the scan once too, by its own path (its findings were reported twice, with two
    fingerprints). Skipped links are each named: each is a path the user may want to fix."""
    chosen: dict[str, tuple[int, bool]] = {}
    for index, item in enumerate(items):
        key, is_link = same_file(item.path)
        if key not in chosen or (chosen[key][1] and not is_link):
            chosen[key] = (index, is_link)
    keep = sorted(index for index, _ in chosen.values())
    return [items[index] for index in keep]
