"""How far the code a task names reaches into the project: a change to what many files use ripples further.

A description that names the project's own code (`QuerySet.filter`, `parse_config`, `RetryPolicy`) is
looked up in the project: a name the project defines is counted in every source file that uses it,
and the widest-used one gives the factor (diminishing: each doubling of the files adds the same points).
Measured on SWE-bench Verified with each issue's repository (bench/routing_accuracy.py --code): the issues
that name widely used code took longer within every large repository, and the factor carries held out.

Tests are left out (a test file using a name is not a caller to keep working), and so are names the
project defines more than `MAX_DEFINITIONS` times (`save`, `get_value`: a method of every class, not one
piece of code). Only the prose is read: names inside pasted code and tracebacks are the reporter's, not
the task's target. A definition is found where a keyword introduces it at the start of a line (`def`,
`class`, `func`, `fn`, `struct`, `interface`, `const x =` in JavaScript, ...), or in C, C++, Java and C#
where a return type, the name and its parameters stand on a line that does not end a statement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import re2

from buildrunner.quality.sources import OTHER_LANGUAGES, is_test_path, iter_files
from buildrunner.security.files import read_text_file

# Points per doubling of the files that use a named piece of code, and the most it adds. Fitted on
# SWE-bench Verified beside the shipped score: 4.2 on half A, 1.9 on half B, 2.9 on all (bench, RESULTS.md).
POINTS_PER_DOUBLING = 3.0
MAX_POINTS = 18.0
MAX_DEFINITIONS = 10
MAX_NAMES = 40
MIN_NAME_LENGTH = 4
MAX_NAME_LENGTH = 80  # longer "names" are pasted tokens and hashes
MAX_FILE_BYTES = 1_000_000
MAX_FILES_WALKED = 100_000  # of any kind: a tree past it is counted on what was walked
MAX_TOTAL_BYTES = 64_000_000  # about a second of reading: a monorepo past it is counted on the files read so far

PYTHON_SUFFIXES = frozenset({".py", ".pyi"})
JS_SUFFIXES = frozenset({".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".vue", ".svelte"})
C_FAMILY_SUFFIXES = frozenset({".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".java"})
SOURCE_SUFFIXES = frozenset({*PYTHON_SUFFIXES, *JS_SUFFIXES, *OTHER_LANGUAGES})

# How a definition starts a line, by language family: modifiers, a keyword that introduces a definition, the
# name. Python has two keywords and its name is followed by "(" or ":" (a docstring line may start "class X
# and ..."). In C, C++, Java and C# the line must not end the statement (`struct point *p = q;` is a use,
# `struct point;` a declaration); their functions and methods are a return type, the name and the parameters (on
# one line, or over several) ending a line but for qualifiers and "{" (or the name at the line's start, GNU style;
# a comment's "* name() does ..." is not one), and a macro is `#define NAME`. JavaScript also defines with
# `const/let/var name =`, `obj.name = function`, and methods (`name(args) {` alone on a line: a call has no body,
# a call with a callback has parentheses inside).
MODIFIERS = (
    "export", "default", "public", "private", "protected", "internal", "static", "async", "pub", r"pub\([^)]*\)",
    "abstract", "final", "sealed", "open", "data", "inline", "extern", "const", "unsafe", "partial", "case",
    "suspend", "override", "declare", "virtual", "readonly", r"@\w+",
)
KEYWORDS = (
    "def", "class", "function", "func", "fn", "interface", "struct", "enum", "trait", "type", "module",
    "object", "record", "fun", "protocol", "union", "typedef", "impl",
)
_PREFIX = rf"(?m)^[ \t]*(?:(?:{'|'.join(MODIFIERS)})[ \t]+)*"
_NAME_AFTER_KEYWORD = r"[ \t*]+(?:\([^)\n]*\)[ \t]*)?(?:self\.)?\*?({names})\b"
DEFINITIONS = {
    "python": r"(?m)^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+({names})[ \t]*[(:]",
    "c": _PREFIX + rf"(?:(?:{'|'.join(KEYWORDS)})" + _NAME_AFTER_KEYWORD + r"[^;\n]*$"
    # a function or method: return type, name, parameters (over several lines when they hold no parentheses), and no
    # ";" after them (that would be a call or a prototype)
    + r"|(?:\w[\w<>\[\],.?*&:]*[ \t]+)*[*&]*(?:\w+::)*({names})[ \t]*\((?:[^;{}\n]*|[^;{}()]*)\)"
    + r"(?:[ \t]*(?:const|override|noexcept|final|throws[ \t]+[\w., \t]+|\{))*[ \t]*$"
    + r"|#[ \t]*define[ \t]+({names})\b)",
    "js": _PREFIX + rf"(?:(?:{'|'.join(KEYWORDS)})" + _NAME_AFTER_KEYWORD
    + r"|(?:let|var|const)[ \t]+({names})[ \t]*(?::[^=\n]*)?="  # const parseToken = ...
    + r"|[\w$.]+\.({names})[ \t]*=[ \t]*(?:async[ \t]+)?function\b"  # res.sendFile = function ...
    + r"|(?:(?:get|set)[ \t]+)?({names})[ \t]*\([^()\n]*\)[ \t]*(?::[^{;\n]*)?\{[ \t]*$)",  # a class or object method: name(args) {
    "other": _PREFIX + rf"(?:{'|'.join(KEYWORDS)})" + _NAME_AFTER_KEYWORD,
}

_IDENTIFIER = re.compile(r"(?<!\w)[^\W\d]\w*(?:\.[^\W\d]\w*)*")  # whole words: never the tail of "0A00_"
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_ONE_IDENTIFIER = re.compile(r"(?<!\w)[^\W\d]\w*")


@dataclass(frozen=True)
class NameReach:
    """One name the description gave that the project defines: where, and how many source files use it."""

    name: str
    files_using: int
    defined_in: str
    definitions: int


@dataclass(frozen=True)
class CodeReach:
    """The project's code the description named, widest-used first; how many source files were read, and
    whether that was all of them (a tree past the walking or reading limits is counted on what was read)."""

    names: tuple[NameReach, ...]
    files_read: int
    complete: bool = True

    @property
    def points(self) -> float:
        if not self.names:
            return 0.0
        return min(MAX_POINTS, POINTS_PER_DOUBLING * math.log2(1 + self.names[0].files_using))

    def detail(self) -> str:
        top = self.names[0]
        more = f"; {len(self.names) - 1} more named" if len(self.names) > 1 else ""
        read = f"{self.files_read} source files" + ("" if self.complete else " read (the rest not: the project is past the reading limits)")
        return f"{top.name} (defined in {top.defined_in}) is used in {top.files_using} of {read}{more}"


def _code_shaped(word: str) -> bool:
    """snake_case, _private, __dunder__, CamelCase or mixedCase: a name somebody gave to code, not an English word
    or an acronym (README, HTTP)."""
    return "_" in word or (any(c.isupper() for c in word[1:]) and any(c.islower() for c in word))


def names_in(prose: str) -> list[str]:
    """The code-shaped names in the prose and every name inside `backticks`, in order of first mention.

    In backticks every part counts (`QuerySet.filter` names filter too: measured, the wider reading ranks
    SWE-bench better than code-shaped parts alone); names are ASCII (the search's word boundaries are) and
    4-80 characters."""
    found: dict[str, None] = {}
    for match in _IDENTIFIER.finditer(prose):
        for part in match.group(0).split("."):
            if _code_shaped(part):
                found.setdefault(part)
    for match in _BACKTICKED.finditer(prose):
        for word in _ONE_IDENTIFIER.findall(match.group(1)):
            found.setdefault(word)
    return [n for n in found if n.isascii() and MIN_NAME_LENGTH <= len(n) <= MAX_NAME_LENGTH][:MAX_NAMES]


def _family(suffix: str) -> str:
    if suffix in PYTHON_SUFFIXES:
        return "python"
    if suffix in JS_SUFFIXES:
        return "js"
    return "c" if suffix in C_FAMILY_SUFFIXES else "other"


def _is_no_project(root: Path) -> bool:
    """A home folder or a file system's root: what lies below is many projects or none."""
    resolved = root.resolve()
    return resolved == resolved.parent or resolved == Path.home().resolve()


def code_reach(root: Path, prose: str, exclude: Iterable[str] = ()) -> CodeReach | None:
    """The reach of the project code `prose` names, or None when it names none of it."""
    names = names_in(prose)
    if not names or _is_no_project(root):
        return None
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    uses = re2.compile(rf"\b(?:{alternation})\b")
    defines = {family: re2.compile(pattern.replace("{names}", alternation)) for family, pattern in DEFINITIONS.items()}
    using: dict[str, int] = {}
    definitions: dict[str, list[str]] = {}
    walked = read = total = 0
    complete = True
    for path, rel in iter_files(root, exclude):
        walked += 1
        if walked > MAX_FILES_WALKED or total >= MAX_TOTAL_BYTES:
            complete = False
            break
        suffix = path.suffix.lower()
        if suffix not in SOURCE_SUFFIXES or is_test_path(rel):
            continue
        data = read_text_file(str(path), MAX_FILE_BYTES)  # regular files only: a FIFO named x.py is never opened
        if not isinstance(data, bytes):
            continue
        read += 1
        total += len(data)
        text = data.decode("utf-8", errors="replace")
        for name in set(uses.findall(text)):
            using[name] = using.get(name, 0) + 1
        for match in defines[_family(suffix)].findall(text):
            for name in [match] if isinstance(match, str) else match:
                if name:
                    definitions.setdefault(name, []).append(rel)
    reach = [
        NameReach(name, using.get(name, 0), min(definitions[name], key=lambda rel: (rel.count("/"), rel)), len(definitions[name]))
        for name in names
        if 0 < len(definitions.get(name, ())) <= MAX_DEFINITIONS
    ]
    if not reach:
        return None
    return CodeReach(tuple(sorted(reach, key=lambda r: (-r.files_using, r.name))), read, complete)
