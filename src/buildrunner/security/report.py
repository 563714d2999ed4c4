"""What one pass over files returns: the findings, and every file it did not read, with why.

Its own module so that `engine`, `pool`, `scanner` and `sql_detector` all import it
and none of them imports another one back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Why a file was not read. Each is a `SkippedFile.kind`; the reason text says it for people.
BINARY = "binary"  # read, found to be binary: deliberately not scanned (as git and gitleaks do)
TOO_BIG = "too_big"  # over security.max_file_size_mb
UNREADABLE = "unreadable"  # permissions, I/O errors, dangling links, link loops
VANISHED = "vanished"  # listed, then gone before it could be read
TOO_DEEP = "too_deep"  # the path is longer than the system allows (PATH_MAX)
NOT_REGULAR = "not_regular"  # a FIFO, socket or device inside a walked folder
OUTSIDE_LINK = "outside_link"  # a symlink whose target leaves the project: never followed
FOLDER_LINK = "folder_link"  # a symlink to a folder inside the project: its files are scanned by their own path
MISSING = "missing"  # git names the content but its object is not in the repository (a partial or damaged clone)
NOT_ANALYSED = "not_analysed"  # read and scanned for secrets, but the SQL analysis gave up on (part of) it

# What a user can do about a file not scanned, by its kind (the allowlist is always a way out).
NOT_SCANNED_ADVICE = {
    TOO_BIG: "raise security.max_file_size_mb",
    UNREADABLE: "fix the file's permissions or the broken link",
    VANISHED: "run the scan again",
    TOO_DEEP: "shorten the path",
    NOT_REGULAR: "name regular files only",
    OUTSIDE_LINK: "scan the link's target where it lies (links leaving the project are not followed)",
    MISSING: "fetch the missing objects (git fetch, or git fetch --unshallow) or repair the repository (git fsck)",
}

# Kinds that mean "content that should have been scanned was not": a staged file of one of
# these kinds blocks the commit, and a file named with `scan --file` makes the scan exit 1.
NOT_SCANNED_KINDS = frozenset({TOO_BIG, UNREADABLE, VANISHED, TOO_DEEP, NOT_REGULAR, OUTSIDE_LINK, MISSING})


@dataclass(frozen=True)
class SkippedFile:
    """A file (or part of one) a scan did not read or analyse, and why (shown as a note)."""

    path: str
    reason: str
    kind: str = UNREADABLE

    @property
    def not_scanned(self) -> bool:
        """Content that should have been scanned and was not (as opposed to binaries and notes)."""
        return self.kind in NOT_SCANNED_KINDS


def too_big(path: str, max_bytes: int) -> SkippedFile:
    return SkippedFile(path, f"larger than {max_bytes / 1e6:g} MB (raise security.max_file_size_mb to scan it)", TOO_BIG)


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
