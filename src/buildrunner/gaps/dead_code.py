"""Dead code with vulture, scanned file by file on every core and judged once over the whole program.

vulture is whole-program (a name used anywhere keeps a definition alive), and its own
`scavenge()` runs on one core. A vulture scan of one file only records what the file
defines and which names it uses, so each worker scans its files, the main process
merges the definitions and the used names, and vulture decides what is unused.
"""

from __future__ import annotations

import ast
import contextlib
import io
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vulture
from vulture import noqa

from buildrunner.quality.imports import is_sphinx_conf
from buildrunner.quality.python_api import decorator_names

# vulture's per-kind definition lists (vulture.Vulture attributes).
DEFINITION_LISTS = (
    "defined_attrs", "defined_classes", "defined_funcs", "defined_imports",
    "defined_methods", "defined_props", "defined_vars", "unreachable_code",
)

# Decorators that register a function with a framework, so vulture's "unused" is wrong.
FRAMEWORK_DECORATORS = [
    "@*.command", "@*.callback", "@*.group", "@*.fixture", "@*.route", "@*.get", "@*.post", "@*.put",
    "@*.delete", "@*.patch", "@*.websocket", "@*.task", "@*.hookimpl", "@*.validator", "@*.field_validator",
    "@*.model_validator", "@*.setter", "@*.register",
]
# Module-level names Python itself calls (PEP 562), never "unused".
MODULE_HOOKS = ["__getattr__", "__dir__"]


@dataclass
class FileUsage:
    """What one file defines (vulture items, by kind) and which names it uses."""

    defined: dict[str, list[Any]]
    used: set[str]


@dataclass(frozen=True)
class DeadCode:
    """One unused definition or unreachable statement."""

    filename: str
    line: int
    message: str
    confidence: int


def _finder() -> Any:
    return vulture.Vulture(ignore_names=MODULE_HOOKS, ignore_decorators=FRAMEWORK_DECORATORS)


def scan_file(text: str, filename: str, tree: ast.Module) -> FileUsage:
    """vulture's scan of one file, on the tree the other checks already parsed (with type comments).

    This is `Vulture.scan()` without its own `ast.parse`: the file is parsed once for all checks.
    """
    finder = _finder()
    finder.code = text.splitlines()
    finder.noqa_lines = noqa.parse_noqa(finder.code)
    finder.filename = Path(filename)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            finder.visit(tree)
        except SyntaxError:  # a malformed type comment: vulture gives up on the file too
            pass
    defined = {name: list(getattr(finder, name)) for name in DEFINITION_LISTS}
    signatures = _overload_lines(tree)  # an @overload's parameters only describe a signature
    if is_sphinx_conf(Path(filename).as_posix()):  # Sphinx reads its settings by name
        defined["defined_vars"] = []
    elif signatures:
        defined["defined_vars"] = [item for item in defined["defined_vars"] if item.first_lineno not in signatures]
    return FileUsage(defined, set(finder.used_names))


def _overload_lines(tree: ast.Module) -> set[int]:
    """The lines of every `@overload`-decorated function (`typing.overload`, `t.overload`, `overload`)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "overload" in decorator_names(node):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def find_dead_code(usages: list[FileUsage], min_confidence: int) -> list[DeadCode]:
    """Merge the per-file scans, add vulture's whitelists for the modules imported, list what is unused."""
    finder = _finder()
    for usage in usages:
        for name, items in usage.defined.items():
            getattr(finder, name).extend(items)
        finder.used_names.update(usage.used)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        for module in sorted({item.name for item in finder.defined_imports}):
            try:
                data = pkgutil.get_data("vulture", f"whitelists/{module}_whitelist.py")
            except OSError:
                continue
            if data:
                finder.scan(data.decode("utf-8"), filename=f"whitelists/{module}_whitelist.py")
    return [
        DeadCode(str(item.filename), int(item.first_lineno), str(item.message), int(item.confidence))
        for item in finder.get_unused_code(min_confidence=min_confidence)
    ]
