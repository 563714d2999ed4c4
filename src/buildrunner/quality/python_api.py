"""The public API of a Python module, read from its AST.

Public means reachable by users: module-level functions and classes, and methods of
public classes, whose names do not start with an underscore. Nested functions,
`@overload` signatures and private names are implementation details.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class PublicItem:
    """A public class or function, and whether it documents itself."""

    kind: str  # "class" | "function" | "method"
    name: str
    line: int
    has_docstring: bool
    missing_hints: tuple[str, ...] = ()


def decorator_names(node: FunctionNode | ast.ClassDef) -> set[str]:
    """Decorators by their last name (`abc.abstractmethod` -> `abstractmethod`)."""
    names = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute):
            names.add(target.attr)
        elif isinstance(target, ast.Name):
            names.add(target.id)
    return names


def missing_hints(node: FunctionNode, is_method: bool) -> tuple[str, ...]:
    """Parameters (and `return`) without an annotation; `self`/`cls` need none."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    is_static = "staticmethod" in decorator_names(node)
    if is_method and positional and not is_static:
        positional = positional[1:]
    params = [*positional, *args.kwonlyargs]
    if args.vararg:
        params.append(args.vararg)
    if args.kwarg:
        params.append(args.kwarg)
    missing = [p.arg for p in params if p.annotation is None]
    if node.returns is None and node.name != "__init__":
        missing.append("return")
    return tuple(missing)


def _function_item(node: FunctionNode, kind: str, prefix: str) -> PublicItem:
    return PublicItem(
        kind=kind,
        name=prefix + node.name,
        line=node.lineno,
        has_docstring=ast.get_docstring(node, clean=False) is not None,
        missing_hints=missing_hints(node, kind == "method"),
    )


def declared_all(tree: ast.Module) -> set[str] | None:
    """The names `__all__` lists, when it is one non-empty literal list or tuple of strings that nothing changes later
    (`__all__ += [...]`, `.extend`, an export decorator filling it); else None: every public name counts."""
    found: set[str] | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "__all__":
            return None  # __all__.append / .extend
        if isinstance(node, ast.Assign):
            targets: list[ast.expr] = node.targets
            value: ast.expr | None = node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            if found is not None:  # assigned twice
                return None
            if not isinstance(value, (ast.List, ast.Tuple)):
                return None
            names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if not names or len(names) != len(value.elts):
                return None
            found = set(names)
    return found


def public_items(tree: ast.Module) -> Iterator[PublicItem]:
    """The module's public classes, functions and methods, in source order; only the names `__all__` lists when
    it says them plainly."""
    listed = declared_all(tree)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and listed is not None and node.name not in listed:
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not node.name.startswith("_") and "overload" not in decorator_names(node):
                yield _function_item(node, "function", "")
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield PublicItem("class", node.name, node.lineno, ast.get_docstring(node, clean=False) is not None)
            for member in node.body:
                if (
                    isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and not member.name.startswith("_")
                    and "overload" not in decorator_names(member)
                ):
                    yield _function_item(member, "method", node.name + ".")


def is_empty_module(tree: ast.Module) -> bool:
    """Nothing but a docstring (or nothing at all): an empty `__init__.py`."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return not body


BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
