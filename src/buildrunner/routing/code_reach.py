"""How far the code a task names reaches into the project: a change to what many files use ripples further.

A description that names the project's own code (`QuerySet.filter`, `parse_config`, `RetryPolicy`) is
looked up in the project: a name the project defines is counted in every source file that uses it,
and the widest-used one gives the factor (diminishing: each doubling of the files adds the same points).
Measured on SWE-bench Verified with each issue's repository (bench/routing_accuracy.py --code): the issues
that name widely used code took longer within every large repository, and the factor carries held out.

Tests are left out (a test file using a name is not a caller to keep working), and so are names the
project defines more than `MAX_DEFINITIONS` times (`save`, `get_value`: a method of every class, not one
piece of code). Only the prose is read: names inside pasted code and tracebacks are the reporter's, not
the task's target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import re2  # type: ignore[import-untyped]

from buildrunner.quality.sources import OTHER_LANGUAGES, is_test_path, iter_files

# Points per doubling of the files that use a named piece of code, and the most it adds. Fitted on
# SWE-bench Verified beside the shipped score: 4.2 on half A, 1.9 on half B, 2.9 on all (bench, RESULTS.md).
POINTS_PER_DOUBLING = 3.0
MAX_POINTS = 18.0
MAX_DEFINITIONS = 10
MAX_NAMES = 40
MAX_FILE_BYTES = 1_000_000
MAX_FILES = 20_000
MAX_TOTAL_BYTES = 64_000_000  # about a second of reading: a monorepo past it is counted on the files read so far
MIN_NAME_LENGTH = 4

PYTHON_SUFFIXES = frozenset({".py", ".pyi"})
SOURCE_SUFFIXES = frozenset({*PYTHON_SUFFIXES, *OTHER_LANGUAGES})
# A definition starts a line: modifiers, then a keyword that introduces one, then the name (Go's method
# receiver allowed after `func`). Python has two such keywords; the other languages' list would also read
# "type X" and "object X" in Python's docstrings. Starting the line keeps comments and prose out.
PYTHON_DEFINING = ("def", "class")
OTHER_DEFINING = (
    "def", "class", "function", "func", "fn", "interface", "struct", "enum", "trait", "type", "module",
    "object", "record", "fun", "protocol", "union", "typedef",
)
MODIFIERS = (
    "export", "default", "public", "private", "protected", "internal", "static", "async", "pub", "abstract",
    "final", "sealed", "open", "data", "inline", "extern", "const", "unsafe", "partial", "case",
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class NameReach:
    """One name the description gave that the project defines: where, and how many source files use it."""

    name: str
    files_using: int
    defined_in: str
    definitions: int


@dataclass(frozen=True)
class CodeReach:
    """The project's code the description named, widest-used first, and how many source files were read."""

    names: tuple[NameReach, ...]
    files_read: int

    @property
    def points(self) -> float:
        if not self.names:
            return 0.0
        return min(MAX_POINTS, POINTS_PER_DOUBLING * math.log2(1 + self.names[0].files_using))

    def detail(self) -> str:
        top = self.names[0]
        more = f"; {len(self.names) - 1} more named" if len(self.names) > 1 else ""
        return f"{top.name} (defined in {top.defined_in}) is used in {top.files_using} of {self.files_read} source files{more}"


def _code_shaped(word: str) -> bool:
    """snake_case, _private, __dunder__, CamelCase or mixedCase: a name somebody gave to code, not an English word
    or an acronym (README, HTTP)."""
    return len(word) >= MIN_NAME_LENGTH and ("_" in word or (any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)))


def names_in(prose: str) -> list[str]:
    """The code-shaped names in the prose and every name in `backticks`, in order of first mention."""
    found: dict[str, None] = {}
    for match in _IDENTIFIER.finditer(prose):
        for part in match.group(0).split("."):
            if _code_shaped(part):
                found.setdefault(part)
    for match in _BACKTICKED.finditer(prose):
        for word in _WORD.findall(match.group(1)):
            if len(word) >= MIN_NAME_LENGTH:
                found.setdefault(word)
    return list(found)[:MAX_NAMES]


def _source_files(root: Path, exclude: Iterable[str]) -> list[tuple[Path, str]]:
    files = []
    for path, rel in iter_files(root, exclude):
        if path.suffix.lower() in SOURCE_SUFFIXES and not is_test_path(rel):
            files.append((path, rel))
            if len(files) >= MAX_FILES:
                break
    return files


def code_reach(root: Path, prose: str, exclude: Iterable[str] = ()) -> CodeReach | None:
    """The reach of the project code `prose` names, or None when it names none of it."""
    names = names_in(prose)
    if not names:
        return None
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    uses = re2.compile(rf"\b(?:{alternation})\b")
    defines = {
        python: re2.compile(
            rf"(?m)^[ \t]*(?:(?:{'|'.join(MODIFIERS)})[ \t]+)*(?:{'|'.join(keywords)})[ \t]+(?:\([^)\n]*\)[ \t]*)?\*?({alternation})\b"
        )
        for python, keywords in ((True, PYTHON_DEFINING), (False, OTHER_DEFINING))
    }
    using: dict[str, int] = {}
    definitions: dict[str, list[str]] = {}
    files = _source_files(root, exclude)
    read = total = 0
    for path, rel in files:
        if total >= MAX_TOTAL_BYTES:
            break
        read += 1
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            continue
        total += len(data)
        if len(data) > MAX_FILE_BYTES or b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", errors="replace")
        for name in set(uses.findall(text)):
            using[name] = using.get(name, 0) + 1
        for name in defines[path.suffix.lower() in PYTHON_SUFFIXES].findall(text):
            definitions.setdefault(name, []).append(rel)
    reach = [
        NameReach(name, using.get(name, 0), min(definitions[name], key=lambda rel: (rel.count("/"), rel)), len(definitions[name]))
        for name in names
        if 0 < len(definitions.get(name, ())) <= MAX_DEFINITIONS
    ]
    if not reach:
        return None
    return CodeReach(tuple(sorted(reach, key=lambda r: (-r.files_using, r.name))), read)
