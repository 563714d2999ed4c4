"""Who imports whom inside a project: import cycles and which modules the tests import.

A cycle is "real" only through imports that run when the module is first imported:
imports inside functions, under `if TYPE_CHECKING:` and under `if __name__ == "__main__":` are lazy and cannot fail
with a partially initialised module, so they are left out of the cycle graph.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from buildrunner.quality.python_api import BLOCK_FIELDS
from buildrunner.quality.sources import SourceFile


@dataclass(frozen=True)
class ImportRecord:
    """One import statement, with relative imports made absolute."""

    base: str
    names: tuple[str, ...]
    line: int
    eager: bool  # runs at import time (module level, not under TYPE_CHECKING)
    level: int = 0
    guarded: bool = False  # inside `try: ... except ImportError` (an optional dependency)
    type_only: bool = False  # under `if TYPE_CHECKING:` (needed by type checkers only)


@dataclass(frozen=True)
class ImportCycle:
    """Modules that import each other at import time: one cycle (first module repeated last) and its whole group.

    `members` is the strongly connected group the cycle belongs to: every module in it
    is on some cycle, even when `modules` (the shortest cycle through the first one) skips it.
    """

    modules: tuple[str, ...]
    members: tuple[str, ...]
    path: str
    line: int


def describe_cycle(cycle: ImportCycle) -> str:
    """`a -> b -> a`, plus the rest of the group when it is larger than this one cycle."""
    text = " -> ".join(cycle.modules)
    others = [m for m in cycle.members if m not in cycle.modules]
    return f"{text} (same group: {', '.join(others)})" if others else text


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_main_guard(test: ast.expr) -> bool:
    """`if __name__ == "__main__":` (either way round): its body runs when the file is run, never when it is imported."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
    )


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for kind in kinds:
            name = kind.id if isinstance(kind, ast.Name) else getattr(kind, "attr", None)
            if name in {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"} or kind is None:
                return True
    return False


def _package_of(src: SourceFile) -> list[str]:
    parts = src.module.split(".")
    return parts if src.is_package else parts[:-1]


def extract_imports(tree: ast.Module, src: SourceFile) -> list[ImportRecord]:
    """Every import in the module, marking which ones run at import time.

    Only statement blocks are walked: an import is a statement, never inside an expression.
    """
    records: list[ImportRecord] = []
    package = _package_of(src)

    def visit(statements: list[ast.stmt], eager: bool, guarded: bool = False, type_only: bool = False) -> None:
        for child in statements:
            if isinstance(child, ast.Import):
                for alias in child.names:
                    records.append(ImportRecord(alias.name, (), child.lineno, eager, 0, guarded, type_only))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    keep = len(package) - (child.level - 1)
                    if keep < 0:
                        continue
                    base = ".".join(package[:keep] + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                names = tuple(a.name for a in child.names if a.name != "*")
                records.append(ImportRecord(base, names, child.lineno, eager, child.level, guarded, type_only))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child.body, False, guarded, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                visit(child.body, False, guarded, True)
                visit(child.orelse, eager, guarded, type_only)
            elif isinstance(child, ast.If) and _is_main_guard(child.test):  # not at import time: no cycle through it
                visit(child.body, False, guarded, type_only)
                visit(child.orelse, eager, guarded, type_only)
            elif isinstance(child, ast.Try) and _catches_import_error(child):
                visit(child.body, eager, True, type_only)
                visit(child.orelse, eager, True, type_only)  # `else:` runs only when the guarded imports worked
                for name in ("handlers", "finalbody"):
                    visit(getattr(child, name), eager, guarded, type_only)
            else:
                for name in BLOCK_FIELDS:
                    block = getattr(child, name, None)
                    if block:
                        visit(block, eager, guarded, type_only)

    visit(tree.body, True)
    return records


def _deepest(name: str, modules: dict[str, SourceFile] | set[str]) -> str | None:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def resolve(record: ImportRecord, modules: dict[str, SourceFile] | set[str]) -> set[str]:
    """The project modules an import statement loads (submodules named in `from x import y` included)."""
    found: set[str] = set()
    if record.names:
        for name in record.names:
            sub = f"{record.base}.{name}" if record.base else name
            if sub in modules:
                found.add(sub)
            else:
                target = _deepest(record.base, modules) if record.base else None
                if target:
                    found.add(target)
    else:
        target = _deepest(record.base, modules)
        if target:
            found.add(target)
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (deep package trees would overflow recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def _cycle_through(first: str, members: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path first -> ... -> first inside one strongly connected component."""
    previous: dict[str, str] = {}
    queue = deque([first])
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, ())):
            if child not in members:
                continue
            if child == first:
                path = [node]
                while path[-1] != first:
                    path.append(previous[path[-1]])
                return [*reversed(path), first]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return [first, first]


def find_cycles(imports: dict[str, list[ImportRecord]], sources: Iterable[SourceFile]) -> list[ImportCycle]:
    """Import cycles among project modules through import-time imports, one per strongly connected group."""
    modules = {src.module: src for src in sources if not src.is_test}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    lines: dict[tuple[str, str], int] = {}
    for name, src in modules.items():
        for record in imports.get(src.rel, ()):
            if not record.eager:
                continue
            for target in resolve(record, modules):
                if target != name:
                    graph[name].add(target)
                    lines.setdefault((name, target), record.line)
    cycles = []
    for component in _strongly_connected(graph):
        order = _cycle_through(component[0], set(component), graph)
        first_src = modules[order[0]]
        cycles.append(ImportCycle(tuple(order), tuple(component), first_src.rel, lines.get((order[0], order[1]), 1)))
    return sorted(cycles, key=lambda c: (c.path, c.line, c.modules))


def tested_modules(imports: dict[str, list[ImportRecord]], sources: list[SourceFile]) -> set[str]:
    """Project modules that at least one test file imports (anywhere in the test), or that a test file is named for
    (`tests/test_termui.py` tests `click.termui` through `import click`; `tests/test_client.py` tests httpx's private
    `_client.py`; `tests/test_app.py` counts for flask's `app.py` and `sansio/app.py` alike, as it cannot say which)."""
    modules = {src.module: src for src in sources if not src.is_test}
    tested: set[str] = set()
    by_leaf: dict[str, set[str]] = {}
    for name in modules:
        leaf = name.rsplit(".", 1)[-1]
        for key in {leaf, leaf.lstrip("_") or leaf}:
            by_leaf.setdefault(key, set()).add(name)
    for src in sources:
        if src.is_test:
            for record in imports.get(src.rel, ()):
                tested |= resolve(record, modules)
            stem = src.rel.rsplit("/", 1)[-1].removesuffix(".py")
            if stem.startswith("test_") or stem.endswith("_test"):  # not a helper or fixture beside the tests
                tested |= by_leaf.get(stem.removeprefix("test_").removesuffix("_test"), set())
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
    parents = {".".join(name.split(".")[:i]) for name in tested for i in range(1, name.count(".") + 1)}
    return tested | (parents & modules.keys())


DOC_DIRS = frozenset({"doc", "docs", "documentation"})
SCRIPT_DIRS = frozenset({"bench", "benchmarks", "examples", "example", "demo", "demos", "samples", "scripts", "tools", *DOC_DIRS})
ENTRY_POINTS = frozenset({"__main__.py", "setup.py", "conftest.py", "noxfile.py"})


def is_sphinx_conf(rel: str) -> bool:
    """Sphinx's `docs/conf.py` (or `doc/source/conf.py`): settings Sphinx reads by name, not a library module."""
    parts = rel.split("/")
    return parts[-1] == "conf.py" and any(part in DOC_DIRS for part in parts[:-1])


def is_script(rel: str) -> bool:
    """A file of the project's scripts, examples, benchmarks or docs: beside the package, never shipped in it."""
    top = rel.split("/", 1)[0] if "/" in rel else ""
    return top in SCRIPT_DIRS or top.endswith(("-examples", "_examples"))


def needs_test(src: SourceFile, tree_is_empty: bool) -> bool:
    """Modules that should have a test: library code with statements, not scripts, examples or entry shims."""
    name = src.rel.rsplit("/", 1)[-1]
    return not (src.is_test or tree_is_empty or name in ENTRY_POINTS or is_script(src.rel))
