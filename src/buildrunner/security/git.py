"""The little git the security checks need: hooks folder, staged blobs, changed files.

Staged content comes from the index (`git cat-file --batch`), never the working
tree, so what is checked is exactly what would be committed.

"Not a git repository" is one rule, here: `NotARepository`, exit 1 for every
command that needs a repository (the spec gives 1 to `hooks install` failing, and
`hooks status`, `check` and `precommit` follow it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from buildrunner.errors import BuildRunnerError, NotFoundError

SUBMODULE_MODE = "160000"
SYMLINK_MODE = "120000"


class NotARepository(BuildRunnerError):
    """The command needs a git repository and the project is not inside one (exit 1)."""


def git(cwd: Path, *args: str, input: bytes | None = None) -> bytes:
    """Run git in `cwd`; a failure becomes one clear error."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise NotFoundError("git is not installed", hint="install git and retry") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        message = detail[-1] if detail else f"exit {proc.returncode}"
        if "not a git repository" in message:
            raise NotARepository(f"{cwd}: not inside a git repository", hint="run `git init` first or pass --project") from None
        raise BuildRunnerError(f"git {args[0]} failed in {cwd}: {message}")
    return proc.stdout


def tracked_files(cwd: Path) -> frozenset[str]:
    """The files git tracks under `cwd`, relative to it (posix; names that are not UTF-8 as os.scandir gives
    them); empty outside a repository or without git."""
    try:
        out = git(cwd, "ls-files", "-z", "--cached")
    except (BuildRunnerError, OSError):
        return frozenset()
    return frozenset(os.fsdecode(p) for p in out.split(b"\0") if p)


def repo_root(cwd: Path) -> Path:
    return Path(git(cwd, "rev-parse", "--show-toplevel").decode().strip())


def hooks_dir(cwd: Path) -> Path:
    """The folder git runs hooks from: honours core.hooksPath and linked worktrees."""
    out = git(cwd, "rev-parse", "--path-format=absolute", "--git-path", "hooks").decode().strip()
    return Path(out)


@dataclass(frozen=True)
class Blob:
    """One file's content as git holds it (staged, or at a commit)."""

    path: str  # relative to the repository root, posix
    data: bytes | None  # None when too big to read, or missing
    size: int
    missing: bool = False  # git names it, but the object is not in the repository (a partial or damaged clone)


def _diff_blobs(top: Path, revisions: list[str], max_bytes: int) -> Iterator[Blob]:
    """The new side of every added, copied or modified file of a `git diff --raw` (submodules and symlinks left out).

    One `git diff --raw -z` names every blob (no path list on a command line, so any
    number of files works); `git cat-file --batch` reads them.
    """
    raw = git(top, "diff", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=ACM", *revisions, "--").split(b"\0")
    entries = []
    for meta, path in zip(raw[0::2], raw[1::2]):
        fields = meta.decode("ascii", "replace").lstrip(":").split()
        if len(fields) < 4:
            continue
        new_mode, new_sha = fields[1], fields[3]
        if new_mode in (SUBMODULE_MODE, SYMLINK_MODE):
            continue
        entries.append((new_sha, path.decode("utf-8", "replace")))
    yield from _read_blobs(top, entries, max_bytes)


HISTORY_CHUNK = 256  # blobs read from git at once when walking a history


def history_blobs(cwd: Path, revisions: list[str], max_bytes: int) -> Iterator[tuple[str, Blob]]:
    """Every file content the commits of `revisions` (default: every branch and tag) added, oldest first, each blob
    once, with the commit that first added it: what `git log` holds, a secret removed later included.

    One `git log --raw -z` names them all (merge commits add nothing of their own to it); `git cat-file` reads them.
    """
    top = repo_root(cwd)
    raw = git(top, "log", "-z", "--raw", "--no-abbrev", "--no-renames", "--diff-filter=AM", "--format=%H", "--reverse", *(revisions or ["--all"]), "--")
    commit_of: dict[str, str] = {}
    entries: list[tuple[str, str]] = []
    tokens = raw.split(b"\0")
    commit, i = "", 0
    while i < len(tokens):
        token = tokens[i].lstrip(b"\n")
        if token.startswith(b":") and i + 1 < len(tokens):  # ":old-mode new-mode old-sha new-sha status", then its path
            fields = token.decode("ascii", "replace").lstrip(":").split()
            if len(fields) >= 4 and fields[1] not in (SUBMODULE_MODE, SYMLINK_MODE) and fields[3] not in commit_of:
                commit_of[fields[3]] = commit
                entries.append((fields[3], tokens[i + 1].decode("utf-8", "replace")))
            i += 2
            continue
        if token:
            commit = token.decode("ascii", "replace")
        i += 1
    for start in range(0, len(entries), HISTORY_CHUNK):  # read a chunk at a time: a long history is not held whole
        chunk = entries[start : start + HISTORY_CHUNK]
        for blob, (sha, _) in zip(_read_blobs(top, chunk, max_bytes, keep_order=True), chunk):
            yield commit_of[sha], blob


def _read_blobs(top: Path, entries: list[tuple[str, str]], max_bytes: int, *, keep_order: bool = False) -> Iterator[Blob]:
    """The (sha, path) blobs' contents; one too big to read comes with `data` None, one whose object the repository
    lacks (a partial or damaged clone) with `missing`. `keep_order`: in `entries`' order (else those first)."""
    if not entries:
        return
    checked = git(top, "cat-file", "--batch-check=%(objectname) %(objectsize)", input="".join(f"{sha}\n" for sha, _ in entries).encode())
    sizes: dict[str, int] = {}  # one line per object asked: "<sha> <size>", or "<sha> missing"
    for line in checked.decode("ascii", "replace").splitlines():
        sha, _, size = line.partition(" ")
        if size.isdigit():
            sizes[sha] = int(size)
    small = list(dict.fromkeys(sha for sha, _ in entries if sizes.get(sha, max_bytes + 1) <= max_bytes))
    if not keep_order:
        for sha, path in entries:
            if sha not in sizes:
                yield Blob(path, None, 0, missing=True)
            elif sizes[sha] > max_bytes:
                yield Blob(path, None, sizes[sha])
    read: dict[str, bytes] = {}
    if small:
        out = git(top, "cat-file", "--batch", input="".join(f"{sha}\n" for sha in small).encode())
        pos = 0
        for sha in small:
            header_end = out.index(b"\n", pos)
            length = int(out[pos:header_end].split()[2])
            start = header_end + 1
            read[sha] = out[start : start + length]
            pos = start + length + 1
    for sha, path in entries:
        if sha in read:
            yield Blob(path, read[sha], sizes[sha])
        elif keep_order:
            yield Blob(path, None, sizes.get(sha, 0), missing=sha not in sizes)


def staged_blobs(cwd: Path, max_bytes: int) -> Iterator[Blob]:
    """Added, copied and modified files as staged in the index (what the next commit holds)."""
    return _diff_blobs(repo_root(cwd), ["--cached"], max_bytes)


def committed_blobs(cwd: Path, paths: list[str], max_bytes: int, renamed_from: dict[str, str] | None = None) -> Iterator[Blob]:
    """The HEAD version of each of `paths` (relative to the repository root) that HEAD holds and that is not too big.

    `renamed_from` maps a staged path to the path its file had in HEAD (`staged_renames`): that file's HEAD version is
    read, under the staged path, so that what a moved file already held is known as committed."""
    renamed_from = renamed_from or {}
    names = [(p, renamed_from.get(p, p)) for p in paths if "\n" not in p and "\n" not in renamed_from.get(p, p)]
    if not names:
        return
    top = repo_root(cwd)
    out = git(top, "cat-file", "--batch", input="".join(f"HEAD:{old}\n" for _, old in names).encode())
    pos = 0
    for path, _ in names:
        header_end = out.index(b"\n", pos)
        line = out[pos:header_end]
        if line.endswith((b" missing", b" ambiguous")):  # "HEAD:my file.py missing": a new file, or no commit yet
            pos = header_end + 1
            continue
        header = line.split()
        size, start = int(header[2]), header_end + 1
        if header[1] == b"blob" and size <= max_bytes:
            yield Blob(path, out[start : start + size], size)
        pos = start + size + 1


def staged_renames(cwd: Path) -> dict[str, str]:
    """The files the index renames (`git mv`, or a delete and an add git pairs by similarity): new path -> the path
    in HEAD, both relative to the repository root. Empty before the first commit."""
    top = repo_root(cwd)
    if subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=top, capture_output=True, check=False).returncode != 0:
        return {}
    raw = git(top, "diff", "--cached", "--name-status", "-z", "--find-renames", "--diff-filter=R", "HEAD", "--").split(b"\0")
    renames: dict[str, str] = {}
    i = 0
    while i + 2 < len(raw):  # "R<score>", old path, new path
        if raw[i].startswith(b"R"):
            renames[os.fsdecode(raw[i + 2])] = os.fsdecode(raw[i + 1])
            i += 3
        else:
            i += 1
    return renames


def revision_blobs(cwd: Path, base: str, head: str, max_bytes: int) -> Iterator[Blob]:
    """Added, copied and modified files of `head` against `base` (e.g. a task branch against where it started)."""
    return _diff_blobs(repo_root(cwd), [base, head], max_bytes)


def changed_files(cwd: Path) -> list[Path]:
    """Working-tree files that differ from HEAD plus untracked, not-ignored ones (absolute paths).

    Symlinks are left out, as for staged changes: git records the link, not what it points at.
    """
    top = repo_root(cwd)
    has_head = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=top, capture_output=True).returncode == 0
    names: set[bytes] = set()
    if has_head:
        names.update(git(top, "diff", "HEAD", "--name-only", "-z", "--diff-filter=ACMR", "--no-renames").split(b"\0"))
    else:
        names.update(git(top, "ls-files", "-z", "--cached").split(b"\0"))
    names.update(git(top, "ls-files", "-z", "--others", "--exclude-standard").split(b"\0"))
    paths = [top / os.fsdecode(n) for n in names if n]
    return sorted(p for p in paths if not p.is_symlink() and p.is_file())
