"""Duplicated blocks: the same run of significant lines in two places.

Lines are compared with whitespace collapsed; blank lines, comments and imports are
skipped (import blocks repeat by nature). Each file yields hashed windows of
`min_lines` consecutive significant lines; windows seen in two places, extended to
the longest run, are the duplicates.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

# A window whose lines add up to less than this many characters is boilerplate
# (closing brackets, `else:`, `return`), not a block worth reporting.
MIN_WINDOW_CHARS = 80


@dataclass(frozen=True)
class Window:
    """`min_lines` significant lines starting at `first` and ending at `last`, by content hash."""

    digest: int
    first: int
    last: int


@dataclass(frozen=True)
class Duplicate:
    """A block in `path` (lines first-last, `lines` long) that also appears at `other_path:other_line`."""

    path: str
    first: int
    last: int
    lines: int
    other_path: str
    other_line: int


def _significant(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = " ".join(line.split())
        if not stripped or stripped.startswith("#") or stripped.startswith(("import ", "from ")):
            continue
        found.append((number, stripped))
    return found


def windows(text: str, min_lines: int) -> list[Window]:
    """Hashed windows of `min_lines` significant lines.

    Each line is hashed once with blake2b; a window's digest is Python's hash of the tuple
    of its line hashes, which (unlike hash() of a str) is the same in every process.
    """
    lines = _significant(text)
    hashes = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big") for _, t in lines]
    lengths = [0]
    for _, t in lines:
        lengths.append(lengths[-1] + len(t))
    found = []
    for start in range(len(lines) - min_lines + 1):
        end = start + min_lines
        if lengths[end] - lengths[start] < MIN_WINDOW_CHARS:
            continue
        found.append(Window(hash(tuple(hashes[start:end])), lines[start][0], lines[end - 1][0]))
    return found


def find_duplicates(per_file: dict[str, list[Window]]) -> list[Duplicate]:
    """Runs of windows that also occur elsewhere (another file, or a non-overlapping place in the same file)."""
    places: dict[int, list[tuple[str, Window]]] = defaultdict(list)
    for path in sorted(per_file):
        for placed in per_file[path]:
            places[placed.digest].append((path, placed))

    def partner(path: str, window: Window) -> tuple[str, Window] | None:
        for other_path, other in places[window.digest]:
            if other_path != path or other.first > window.last or other.last < window.first:
                return other_path, other
        return None

    found: list[Duplicate] = []
    for path in sorted(per_file):
        run: list[tuple[Window, tuple[str, Window]]] = []
        for window in [*per_file[path], None]:
            match = partner(path, window) if window is not None else None
            if window is not None and match is not None and (not run or window.first <= run[-1][0].last):
                run.append((window, match))
                continue
            if run:
                first, (other_path, other) = run[0]
                last = run[-1][0].last
                found.append(Duplicate(path, first.first, last, last - first.first + 1, other_path, other.first))
            run = [(window, match)] if window is not None and match is not None else []
    return found
