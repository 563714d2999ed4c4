"""SQL injection in Python: a taint analysis over the `ast`, inside functions and across the module's functions.

Values flow through every statement kind (assignments, augmented and unpacking;
`if`, `match`, loops, `with`, `try`; comprehensions; f-strings, `%`, `.format`, `+`,
`join`). Branches are analysed separately and joined; a guard that ends its branch
(`if col not in ALLOWED: raise`) makes the value safe after it. Sources, sinks and
sanitisers come from `sql_rules.toml`.

Across functions, each function gets a summary, computed callees first: which of its
parameters reach a sink (so `run(cur, request.GET["q"])` is a finding where `run`
executes its argument), and what its return value is made of (so a helper returning a
built query carries its caller's arguments into the caller's sink).

Every value is a bounded summary (`sql_taint.Val`) and every node is evaluated once,
so the work is linear in the file. Anything the analysis gives up on is a note.
"""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass, replace
from typing import Iterator

from buildrunner.security.sql_rules import IGNORE, LanguageRules, Sink, sql_rules
from buildrunner.security.sql_shape import RawSQLFinding
from buildrunner.security.sql_taint import (
    CLEAN,
    MAX_DEPTH,
    MAX_ITEMS,
    NUMERIC_CONVERSIONS,
    UNKNOWN,
    Collector,
    Env,
    Summary,
    TooDeep,
    Val,
    Walk,
    bottom_up,
    concat,
    const,
    container,
    container_of,
    derived,
    element,
    flatten,
    join,
    join_all,
    join_text,
    merge,
    numeric_spec,
    param,
    percent_fields,
    reach_sink,
    through,
    untrusted,
)

STRING_METHODS = frozenset({"strip", "lstrip", "rstrip", "lower", "upper", "casefold", "title", "capitalize", "encode", "decode", "expandtabs", "removeprefix", "removesuffix", "zfill", "ljust", "rjust", "center", "swapcase"})


@dataclass
class Function:
    """One `def` of the module and what the analysis needs to know about it."""

    key: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | None  # None: the module's top level
    cls: str | None
    params: list[str]
    summary: Summary | None = None


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attributes on a name (iteratively: chains may be long)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Module:
    """Everything one file's analysis shares: imports, constants, functions, findings."""

    def __init__(self, tree: ast.Module, rules: LanguageRules) -> None:
        self.tree = tree
        self.rules = rules
        self.out = Collector()
        self.imports: dict[str, str] = {}
        self.constants: dict[str, Val] = {}
        self.class_constants: dict[str, dict[str, Val]] = {}
        self.functions: dict[str, Function] = {}
        self.calls: dict[str, list[ast.Call]] = {}  # function key -> the calls in its own body
        self._scan_module()

    # --- the module's shape --------------------------------------------------
    def _scan_module(self) -> None:
        """One pass over the whole tree (iteratively): imports, class constants, every function
        (methods keyed Class.name, nested ones outer.<locals>.name) and the calls each one makes."""
        stack: list[tuple[ast.AST, str | None, str, str]] = [(self.tree, None, "", "<module>")]
        while stack:
            node, cls, prefix, owner = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        self.imports[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
                elif isinstance(child, ast.ImportFrom) and child.module:
                    for alias in child.names:
                        self.imports[alias.asname or alias.name] = f"{child.module}.{alias.name}"
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    key = f"{prefix}{child.name}"
                    args = child.args
                    params = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
                    self.functions[key] = Function(key, child, cls, params)
                    stack.append((child, None, f"{key}.<locals>.", key))
                    continue
                elif isinstance(child, ast.ClassDef):
                    self.class_constants[child.name] = self._constants_of(child.body)
                    stack.append((child, child.name, f"{prefix}{child.name}.", owner))
                    continue
                elif isinstance(child, ast.Call):
                    self.calls.setdefault(owner, []).append(child)
                stack.append((child, cls, prefix, owner))
        self.constants = self._constants_of(self.tree.body)

    def _constants_of(self, body: list[ast.stmt]) -> dict[str, Val]:
        """Names assigned only constants at this level (TABLE = "users", ALLOWED = {"a", "b"})."""
        values: dict[str, Val] = {}
        spoiled: set[str] = set()
        for stmt in body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            elif isinstance(stmt, ast.AugAssign):
                targets = [stmt.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                folded = _fold_constant(value, values) if value is not None else None
                if folded is None or target.id in values:
                    spoiled.add(target.id)
                else:
                    values[target.id] = folded
        return {k: v for k, v in values.items() if k not in spoiled}

    def qualified(self, func: ast.expr, dotted: str | None = None) -> tuple[str, bool]:
        """(qualified name of a called function through the imports, whether it came from an import)."""
        dotted = dotted if dotted is not None else _dotted(func)
        if dotted is None:
            return "", False
        head, _, rest = dotted.partition(".")
        if head in self.imports:
            return self.imports[head] + (f".{rest}" if rest else ""), True
        return dotted, False

    def imports_any(self, modules: tuple[str, ...]) -> bool:
        return any(q == m or q.startswith(m + ".") for q in self.imports.values() for m in modules)

    def sink_of(self, call: ast.Call, qualified: str, imported: bool) -> tuple[Sink, bool, str] | None:
        """(sink, certain, shown name) when `call` runs SQL text."""
        func = call.func
        last = qualified.rpartition(".")[2] if qualified else ""
        name = func.attr if isinstance(func, ast.Attribute) else last
        for sink in self.rules.sinks_named(name):
            if isinstance(func, ast.Attribute) and func.attr in sink.methods and not (imported and qualified.startswith(("os.", "subprocess."))):
                certain = not sink.modules or self.imports_any(sink.modules)
            elif last in sink.functions:
                from_module = any(qualified == m or qualified.startswith(m + ".") for m in sink.modules)
                if isinstance(func, ast.Name) and not imported:
                    certain = not sink.modules  # a bare name of unknown origin
                elif from_module or (imported and not sink.modules):
                    certain = True  # sa.text(...), sqlalchemy.text(...), text imported from sqlalchemy
                else:
                    continue  # a function of that name from another library, or a method
            else:
                continue
            if not certain and sink.elsewhere == IGNORE:
                continue
            shown = f".{func.attr}()" if isinstance(func, ast.Attribute) else f"{last}()"
            return sink, certain, shown
        return None

    def resolve(self, call: ast.Call, current: Function | None, receiver: Val = CLEAN) -> Function | None:
        """The module's own function a call reaches: `f(...)`, `self.m(...)`, `cls.m(...)`, `Class.m(...)`, `obj.m(...)`."""
        func = call.func
        if isinstance(func, ast.Attribute) and receiver.instance:
            return self.functions.get(f"{receiver.instance}.{func.attr}")
        if isinstance(func, ast.Name):
            if current is not None:
                nested = self.functions.get(f"{current.key}.<locals>.{func.id}")
                if nested is not None:
                    return nested
            found = self.functions.get(func.id)
            return found if found is not None and found.cls is None else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner in ("self", "cls") and current is not None and current.cls is not None:
                return self.functions.get(f"{current.cls}.{func.attr}")
            if owner in self.class_constants:
                return self.functions.get(f"{owner}.{func.attr}")
        return None

    # --- running ------------------------------------------------------------------
    def run(self) -> list[RawSQLFinding]:
        for function in self._bottom_up():
            self.summarise(function)
        _Analysis(self, Function("<module>", None, None, [])).run_body(self.tree.body)
        return self.out.result()

    def summarise(self, function: Function) -> Summary:
        if function.summary is None:
            function.summary = Summary()  # a recursive call sees an empty summary
            function.summary = _Analysis(self, function).run_function()
        return function.summary

    def _bottom_up(self) -> Iterator[Function]:
        return bottom_up(self.functions.values(), self._callees)

    def _callees(self, function: Function) -> Iterator[Function]:
        seen: set[str] = set()
        for node in self.calls.get(function.key, ()):
            callee = self.resolve(node, function)
            if callee is not None and callee.key != function.key and callee.key not in seen:
                seen.add(callee.key)
                yield callee


def _fold_constant(node: ast.expr, known: dict[str, Val]) -> Val | None:
    """The value of a constant expression (strings, numbers, containers of them, names of constants), else None."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return const(value)
        return const("" if value is None or isinstance(value, bytes) else str(value)) if not isinstance(value, bytes) else const(value.decode("latin-1"))
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = [_fold_constant(e, known) for e in node.elts[:MAX_ITEMS * 64]]
        if any(i is None for i in items):
            return None
        return Val(allow=True, items=tuple(items[:MAX_ITEMS]))  # type: ignore[arg-type]
    if isinstance(node, ast.Dict):
        values = [_fold_constant(v, known) if v is not None else None for v in node.values]
        keys_ok = all(k is None or isinstance(k, ast.Constant) for k in node.keys)
        return Val(allow=True) if keys_ok and all(v is not None for v in values) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"frozenset", "set", "tuple", "list", "dict"} and len(node.args) <= 1 and not node.keywords:
        inner = _fold_constant(node.args[0], known) if node.args else Val(allow=True)
        return Val(allow=True, items=inner.items) if inner is not None and (inner.allow or inner.items is not None) else None
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords and (_dotted(node.func) or "").rpartition(".")[2] in {"Template", "dedent", "cleandoc", "str"}:
        return _fold_constant(node.args[0], known)  # Template("SELECT ... $x"), dedent("""...""")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _fold_constant(node.left, known), _fold_constant(node.right, known)
        if left is None or right is None:
            return None
        return const(left.text + right.text)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
                continue
            inner = _fold_constant(part.value, known) if isinstance(part, ast.FormattedValue) else None
            if inner is None:
                return None
            parts.append(inner.text)
        return const("".join(parts))
    return None


class _Analysis(Walk):
    """One function (or the module's top level): its statements in order, values in an `Env`."""

    def __init__(self, module: _Module, function: Function) -> None:
        super().__init__(module.rules, module.out)
        self.m = module
        self.function = function

    # --- entry points ------------------------------------------------------------
    def run_function(self) -> Summary:
        node = self.function.node
        assert node is not None
        sources = self._handler_parameters(node)
        for index, name in enumerate(self.function.params):
            annotation = self._annotation_of(node, name)
            if annotation in self.rules.request_types:
                self.requests.add(name)
                self.env.vars[name] = UNKNOWN
            elif index in sources:
                self.env.vars[name] = CLEAN if annotation in self.rules.safe_annotations or name in sources[index] else untrusted(f"parameter {name} of a web handler")
            else:
                self.env.vars[name] = param(index, name)
        for arg in (node.args.vararg, node.args.kwarg):
            if arg is not None:
                self.env.vars[arg.arg] = untrusted(f"parameter {arg.arg} of a web handler") if sources else UNKNOWN
        self.run_body(node.body)
        self.summary.returns = join_all(self.returns)
        return self.summary

    def run_body(self, body: list[ast.stmt]) -> None:
        self.run(lambda: self.block(body), "the module" if self.function.key == "<module>" else f"{self.function.key}()")

    def _handler_parameters(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[int, set[str]]:
        """Parameter index -> (names that are safe) for a web handler's request-data parameters; {} for other functions."""
        params = self.function.params
        route = None
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
            if name in self.rules.route_decorators and (isinstance(target, ast.Attribute) or name in {"api_view", "action"}):
                route = deco
                break
        first = next((p for p in params if p not in ("self", "cls")), None)
        is_view = route is not None or (first is not None and first in self.rules.view_first_parameters)
        if not is_view:
            return {}
        safe = _typed_path_parameters(route)
        defaults = self._defaults(node)
        out: dict[int, set[str]] = {}
        for index, name in enumerate(params):
            if name == first and name in self.rules.view_first_parameters:
                self.requests.add(name)
                continue
            if name in self.rules.not_request_parameters or name in self.requests:
                continue
            default = defaults.get(name)
            if isinstance(default, ast.Call) and isinstance(default.func, (ast.Name, ast.Attribute)):
                callee = default.func.id if isinstance(default.func, ast.Name) else default.func.attr
                if callee in {"Depends", "Security"}:
                    continue
            out[index] = safe
        return out

    @staticmethod
    def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        out = {a.arg: d for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults)}
        out.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
        return out

    @staticmethod
    def _annotation_of(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> str:
        args = node.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if a.arg == name and a.annotation is not None:
                ann = a.annotation
                # Annotated[int, Query()], Optional[int]: the type inside
                while isinstance(ann, ast.Subscript) and (_dotted(ann.value) or "").rpartition(".")[2] in {"Annotated", "Optional"}:
                    ann = ann.slice.elts[0] if isinstance(ann.slice, ast.Tuple) and ann.slice.elts else ann.slice
                return _dotted(ann) or ""
        return ""

    # --- statements ----------------------------------------------------------------
    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if self.env.dead:
                return
            self.stmt(stmt)

    def _merge(self, branches: list[Env], fallthrough: bool) -> None:
        merge(self.env, branches, fallthrough)

    def _stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in node.decorator_list:
                self.expr(deco)
            return  # functions are analysed on their own; classes hold methods and constants
        if isinstance(node, ast.Assign):
            value = self.expr(node.value)
            for target in node.targets:
                self.assign(target, value, node.lineno)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value), node.lineno)
        elif isinstance(node, ast.AugAssign):
            current = self.expr(node.target)
            value = self.expr(node.value)
            if isinstance(node.op, ast.Add):
                combined = concat([current, value], "+= concatenation", node.lineno)
            elif isinstance(node.op, ast.Mod):
                combined = self._percent(current, node.value, value, node.lineno)
            else:
                combined = Val(current.labels | value.labels) if not isinstance(node.op, (ast.Sub, ast.Div, ast.FloorDiv, ast.Pow)) else CLEAN
            self.assign(node.target, combined, node.lineno)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                self.returns.append(self.escape(self.expr(node.value), node.lineno))
            self.env.dead = True
        elif isinstance(node, (ast.Raise, ast.Break, ast.Continue)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                self.expr(node.exc)
            self.env.dead = True
        elif isinstance(node, ast.Expr):
            self.escape(self.expr(node.value), node.lineno)
            if isinstance(node.value, ast.Call) and self._never_returns(node.value):
                self.env.dead = True  # abort(400), sys.exit(): what follows runs only when the call was not made
        elif isinstance(node, ast.If):
            then_safe, else_safe = self.narrowing(node.test)
            self.expr(node.test)
            then = self.run_branch(node.body, then_safe)
            other = self.run_branch(node.orelse, else_safe)
            self._merge([then, other], fallthrough=False)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            items = self.expr(node.iter)
            body = Env(self.env)
            parent, self.env = self.env, body
            try:
                self.assign(node.target, element(items), node.lineno, escape=False)
                self.block(node.body)
            finally:
                self.env = parent
            body.dead = False  # break / continue end an iteration, not the code after the loop
            self._merge([body], fallthrough=True)
            if node.orelse:
                self.block(node.orelse)
        elif isinstance(node, ast.While):
            then_safe, _ = self.narrowing(node.test)
            self.expr(node.test)
            body = self.run_branch(node.body, then_safe)
            body.dead = False
            self._merge([body], fallthrough=True)
            if node.orelse:
                self.block(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                value = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, derived(value) if not value.clean else UNKNOWN, node.lineno, escape=False)
            self.block(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._try(node)  # type: ignore[arg-type]
        elif isinstance(node, ast.Match):
            self._match(node)
        elif isinstance(node, ast.Assert):
            then_safe, _ = self.narrowing(node.test)
            self.expr(node.test)
            self.env.vars.update(then_safe)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.env.vars[target.id] = UNKNOWN
        else:  # Global, Nonlocal, Pass, Import: nothing flows
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def _try(self, node: ast.Try) -> None:
        body = self.run_branch(node.body)
        after_body = Env(body)
        after_body.dead = body.dead
        branches = []
        parent = self.env
        self.env = after_body
        try:
            self.block(node.orelse)
        finally:
            self.env = parent
        branches.append(flatten(after_body, parent))
        for handler in node.handlers:
            handler_env = Env(flatten(body, parent, keep_dead=False))
            self.env = handler_env
            try:
                if handler.type is not None:
                    self.expr(handler.type)
                if handler.name:
                    self.env.vars[handler.name] = UNKNOWN
                self.block(handler.body)
            finally:
                self.env = parent
            branches.append(flatten(handler_env, parent))
        self._merge(branches, fallthrough=False)
        if node.finalbody:
            was_dead, self.env.dead = self.env.dead, False
            self.block(node.finalbody)
            self.env.dead = self.env.dead or was_dead

    def _match(self, node: ast.Match) -> None:
        subject = self.expr(node.subject)
        subject_name = _dotted(node.subject)
        branches = []
        exhaustive = False
        for case in node.cases:
            bound: dict[str, Val] = {}
            self._bind_pattern(case.pattern, subject, bound)
            if subject_name and _literal_pattern(case.pattern):
                bound[subject_name] = CLEAN  # `case "asc" | "desc":` : the subject is one of the literals
            if case.guard is not None:
                safe, _ = self.narrowing(case.guard)
                bound.update(safe)
            branch = Env(self.env)
            branch.vars.update(bound)
            parent, self.env = self.env, branch
            try:
                if case.guard is not None:
                    self.expr(case.guard)
                self.block(case.body)
            finally:
                self.env = parent
            branches.append(branch)
            if case.guard is None and isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None:
                exhaustive = True  # `case _:` / `case x:`
        self._merge(branches, fallthrough=not exhaustive)

    def _bind_pattern(self, pattern: ast.pattern, subject: Val, bound: dict[str, Val]) -> None:
        """Names captured by a pattern take the subject's inputs (iteratively over nested patterns)."""
        item = element(subject)
        stack = [pattern]
        while stack:
            p = stack.pop()
            if isinstance(p, ast.MatchAs):
                if p.name:
                    bound[p.name] = subject if p is pattern and p.pattern is None else item
                if p.pattern is not None:
                    stack.append(p.pattern)
            elif isinstance(p, ast.MatchStar) and p.name:
                bound[p.name] = item
            elif isinstance(p, ast.MatchMapping) and p.rest:
                bound[p.rest] = item
            for child in ast.iter_child_nodes(p):
                if isinstance(child, ast.pattern):
                    stack.append(child)

    def assign(self, target: ast.expr, value: Val, line: int, escape: bool = True) -> None:
        if escape:
            value = self.escape(value, line)
        if isinstance(target, ast.Name):
            self.env.vars[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = value.items
            if items is not None and len(items) == len(target.elts) and not any(isinstance(e, ast.Starred) for e in target.elts):
                for elt, item in zip(target.elts, items):
                    self.assign(elt, item, line, escape=False)
            else:
                for elt in target.elts:
                    self.assign(elt.value if isinstance(elt, ast.Starred) else elt, element(value), line, escape=False)
        elif isinstance(target, ast.Attribute):
            dotted = _dotted(target)
            self.expr(target.value)
            if dotted is not None:
                self.env.vars[dotted] = value
        elif isinstance(target, ast.Subscript):
            self.expr(target.slice)
            base = _dotted(target.value)
            if base is not None and not value.clean:
                current = self.env.get(base) or UNKNOWN
                self.env.vars[base] = join(current, container_of(value))
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, line, escape=False)

    # --- narrowing (guards) --------------------------------------------------------------
    def narrowing(self, test: ast.expr) -> tuple[dict[str, Val], dict[str, Val]]:
        """(names safe where `test` holds, names safe where it does not)."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            then, other = self.narrowing(test.operand)
            return other, then
        if isinstance(test, ast.BoolOp):
            parts = [self.narrowing(v) for v in test.values]
            if isinstance(test.op, ast.And):
                return {k: v for p in parts for k, v in p[0].items()}, {}
            return {}, {k: v for p in parts for k, v in p[1].items()}
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            name = _dotted(test.left)
            op, right = test.ops[0], test.comparators[0]
            if name is not None:
                if isinstance(op, (ast.In, ast.NotIn)) and self._is_allow_list(right):
                    safe = {name: CLEAN}
                    return (safe, {}) if isinstance(op, ast.In) else ({}, safe)
                if isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(right, ast.Constant):
                    safe = {name: const(str(right.value))}
                    return (safe, {}) if isinstance(op, ast.Eq) else ({}, safe)
        if isinstance(test, ast.Call):
            func = test.func
            if isinstance(func, ast.Attribute) and func.attr in self.rules.guard_methods:
                name = _dotted(func.value)
                return ({name: CLEAN} if name else {}), {}
            qualified, _ = self.m.qualified(func)
            if qualified in self.rules.guard_functions and len(test.args) >= 2:
                name = _dotted(test.args[1])
                return ({name: CLEAN} if name else {}), {}
            if isinstance(func, ast.Name) and func.id == "isinstance" and len(test.args) == 2:
                name, kinds = _dotted(test.args[0]), _dotted(test.args[1]) if not isinstance(test.args[1], ast.Tuple) else None
                if name and kinds in {"int", "float", "bool", "Decimal", "UUID"}:
                    return {name: CLEAN}, {}
        return {}, {}

    def _is_allow_list(self, node: ast.expr) -> bool:
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            return _fold_constant(node, self.m.constants) is not None
        value = self._lookup(node)
        return value is not None and value.allow

    def _lookup(self, node: ast.expr) -> Val | None:
        dotted = _dotted(node)
        if dotted is None:
            return None
        found = self.env.get(dotted)
        if found is not None:
            return found
        if "." not in dotted:
            return self.m.constants.get(dotted)
        owner, _, attr = dotted.partition(".")
        if owner in ("self", "cls") and self.function.cls is not None:
            return self.m.class_constants.get(self.function.cls, {}).get(attr)
        if owner in self.m.class_constants:
            return self.m.class_constants[owner].get(attr)
        return None

    # --- expressions ------------------------------------------------------------------
    def _expr(self, node: ast.expr) -> Val:
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                return const(value, line)
            if isinstance(value, bytes):
                return const(value.decode("latin-1"), line)
            return const("" if value is None else str(value)[:32], line)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._name(node)
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value)
            self.expr(node.slice)
            if base.allow:
                return CLEAN
            if base.items is not None and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int) and -len(base.items) <= node.slice.value < len(base.items):
                return base.items[node.slice.value]
            if isinstance(node.slice, ast.Slice) and not base.clean:
                return replace(base, items=None)
            return element(base)
        if isinstance(node, ast.IfExp):
            then_safe, else_safe = self.narrowing(node.test)
            self.expr(node.test)
            return join(self.narrowed(node.body, then_safe), self.narrowed(node.orelse, else_safe))
        if isinstance(node, ast.BoolOp):
            values = [self.expr(v) for v in node.values]
            return join_all(values)
        if isinstance(node, (ast.Compare, ast.UnaryOp)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
                return CLEAN  # a number
            return CLEAN
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return container([self.escape(self.expr(e.value if isinstance(e, ast.Starred) else e), line) for e in node.elts])
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:
                    self.expr(key)
            return container([self.escape(self.expr(v), line) for v in node.values])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self._comprehension(node)
        if isinstance(node, ast.NamedExpr):
            assigned = self.expr(node.value)
            self.assign(node.target, assigned, line)
            return assigned
        if isinstance(node, (ast.Await, ast.Starred)):
            return self.expr(node.value)
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            if node.value is not None:
                self.returns.append(self.escape(self.expr(node.value), line))
            return UNKNOWN
        if isinstance(node, ast.FormattedValue):
            return self.expr(node.value)
        if isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None:
                    self.expr(part)
            return CLEAN
        return UNKNOWN  # lambda and anything else: not followed

    def _name(self, node: ast.Name | ast.Attribute) -> Val:
        dotted = _dotted(node)
        if dotted is None:  # an attribute of a call's result, a subscript, ...
            base = self.expr(node.value)  # type: ignore[union-attr]
            return derived(base)
        found = self._lookup(node)
        if found is not None:
            return found
        if self._is_source(dotted) or self._is_source(self.m.qualified(node)[0]):
            return untrusted(dotted)
        if isinstance(node, ast.Name):
            return UNKNOWN
        parts = dotted.split(".")
        if len(parts) > MAX_DEPTH:
            raise TooDeep
        value = self._lookup_dotted(parts[0]) or UNKNOWN  # walk the chain from its root: a.b, a.b.c, ...
        prefix = parts[0]
        for part in parts[1:]:
            prefix = f"{prefix}.{part}"
            found = self.env.get(prefix)
            value = found if found is not None else untrusted(prefix) if self._is_source(prefix) else derived(value)
        return value

    def _lookup_dotted(self, name: str) -> Val | None:
        return self.env.get(name) or self.m.constants.get(name)

    def _is_source(self, dotted: str) -> bool:
        return bool(dotted) and (self.rules.is_source_chain(dotted) or self._request_attribute(dotted))

    def _request_attribute(self, dotted: str) -> bool:
        head, _, attr = dotted.rpartition(".")
        return head in self.requests and attr in self.rules.request_attributes

    def _fstring(self, node: ast.JoinedStr) -> Val:
        parts: list[Val] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(const(str(part.value)))
            elif isinstance(part, ast.FormattedValue):
                value = self.expr(part.value)
                spec = part.format_spec
                if spec is not None:
                    self.expr(spec)
                spec_text = "".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant)) if isinstance(spec, ast.JoinedStr) else ""
                parts.append(const("0") if numeric_spec(spec_text) and part.conversion == -1 else value)
        return concat(parts, "an f-string", node.lineno)

    def _binop(self, node: ast.BinOp) -> Val:
        if isinstance(node.op, ast.Add):
            operands: list[ast.expr] = []
            cur: ast.expr = node
            while isinstance(cur, ast.BinOp) and isinstance(cur.op, ast.Add):  # a + b + c ...: left-deep, flattened
                operands.append(cur.right)
                cur = cur.left
            operands.append(cur)
            values = [self.expr(o) for o in reversed(operands)]
            if not any(v.text for v in values) and not any(v.items is not None for v in values):
                return Val(frozenset().union(*(v.labels for v in values)), source=next((v.source for v in values if v.source), ""))
            if all(v.items is not None for v in values):  # list + list
                return container([i for v in values for i in (v.items or ())])
            return concat(values, "+ concatenation", node.lineno)
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.op, ast.Mod) and left.text:
            return self._percent(left, node.right, right, node.lineno)
        if isinstance(node.op, ast.Mult):
            if left.text or left.items is not None:
                return left  # "?, " * n: the text repeated, whatever the count
            if right.text or right.items is not None:
                return right
            return Val(left.labels | right.labels)
        if isinstance(node.op, (ast.Sub, ast.Div, ast.FloorDiv, ast.Pow, ast.MatMult, ast.LShift, ast.RShift)):
            return CLEAN  # numbers (a string would fail)
        return Val(left.labels | right.labels, source=left.source or right.source)

    def _percent(self, fmt: Val, right_node: ast.expr, right: Val, line: int) -> Val:
        """`"... %s ... %d" % args`: only arguments rendered as text count (numbers cannot inject)."""
        if not fmt.clean:
            return concat([fmt, right], "% formatting", line) if not right.clean else replace(fmt, line=line)
        fields = percent_fields(fmt.text)
        values: list[Val]
        if isinstance(right_node, ast.Tuple) and right.items is not None:
            values = list(right.items)
        elif isinstance(right_node, ast.Dict):
            values = [right]
        else:
            values = [right] * max(1, len(fields))
        pieces: list[Val] = []
        pos, arg = 0, 0
        for key, conversion, start, end in fields:
            pieces.append(const(fmt.text[pos:start]))
            pos = end
            if conversion == "%":
                pieces.append(const("%"))
                continue
            value = right if key is not None else (values[arg] if arg < len(values) else right)
            arg += key is None
            pieces.append(const("0") if conversion in NUMERIC_CONVERSIONS else value)
        pieces.append(const(fmt.text[pos:]))
        if not fields:
            return fmt
        return concat(pieces, "% formatting", line)

    def _format(self, fmt: Val, node: ast.Call, args: list[Val], kwargs: dict[str, Val]) -> Val:
        """`"... {} {name:d}".format(...)`: fields filled by their arguments; numeric specs are safe."""
        if not fmt.clean:
            return concat([fmt, *args, *kwargs.values()], ".format()", node.lineno)
        try:
            fields = list(string.Formatter().parse(fmt.text))
        except ValueError:
            fields = [(fmt.text, None, None, None)]
        pieces: list[Val] = []
        auto = 0
        starred = any(isinstance(a, ast.Starred) for a in node.args) or "**" in kwargs
        for literal, name, spec, conversion in fields:
            pieces.append(const(literal))
            if name is None:
                continue
            head = re.split(r"[.\[]", name, maxsplit=1)[0]
            if head == "":
                value = args[auto] if auto < len(args) else UNKNOWN
                auto += 1
            elif head.isdigit():
                value = args[int(head)] if int(head) < len(args) else UNKNOWN
            else:
                value = kwargs.get(head, UNKNOWN)
            if starred:
                value = join_all([*args, *kwargs.values()], UNKNOWN)
            pieces.append(const("0") if spec and numeric_spec(spec) and not conversion else value)
        return concat(pieces, ".format()", node.lineno)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> Val:
        parent = self.env
        self.env = Env(parent)
        try:
            for gen in node.generators:
                items = self.expr(gen.iter)
                self.assign(gen.target, element(items), node.lineno, escape=False)
                for cond in gen.ifs:
                    safe, _ = self.narrowing(cond)
                    self.expr(cond)
                    self.env.vars.update(safe)
            if isinstance(node, ast.DictComp):
                self.expr(node.key)
                value = self.expr(node.value)
            else:
                value = self.expr(node.elt)
        finally:
            self.env = parent
        if value.clean:
            return Val(allow=bool(value.text))
        return replace(value, items=None, allow=False)

    # --- calls ---------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> Val:
        func = node.func
        line = node.lineno
        receiver = self.expr(func.value) if isinstance(func, ast.Attribute) else CLEAN
        args = [self.expr(a) for a in node.args]
        kwargs = {k.arg: self.expr(k.value) for k in node.keywords if k.arg is not None}
        spread = [self.expr(k.value) for k in node.keywords if k.arg is None]
        if spread:
            kwargs["**"] = join_all(spread)  # f(**mapping): any of its values
        dotted = _dotted(func) or ""
        qualified, imported = self.m.qualified(func, dotted)
        callee = self.m.resolve(node, self.function, receiver)
        consumed: set[int] = set()
        if callee is not None and callee.key != self.function.key:
            result = self._through(callee, node, args, kwargs, consumed)
        else:
            sink = self.m.sink_of(node, qualified, imported)
            if sink is not None:
                self._sink(node, sink, args, kwargs, consumed)
            result = self._value_of_call(node, func, receiver, args, kwargs, dotted, qualified, imported)
        for index, value in enumerate(args):
            if index not in consumed and not self._builds(func, dotted):
                self.escape(value, line)
        if isinstance(func, ast.Attribute) and func.attr in self.rules.mutators:
            target = _dotted(func.value)
            merged = join_all([*args, *kwargs.values()])
            if target is not None and not merged.clean:
                self.env.vars[target] = join(receiver, container_of(merged))
        return result

    def _never_returns(self, call: ast.Call) -> bool:
        """A call of one of the rules' `terminating_calls` (by its name as written or through the imports)."""
        dotted = _dotted(call.func)
        if dotted is None or dotted in self.m.functions:  # the module's own abort() may well return
            return False
        return bool({dotted, self.m.qualified(call.func, dotted)[0]} & self.rules.terminating_calls)

    def _builds(self, func: ast.expr, dotted: str) -> bool:
        """String-building calls: their arguments are parts of a string, not values leaving it."""
        if isinstance(func, ast.Attribute) and (func.attr in {"format", "format_map", "join", "replace"} or func.attr in self.rules.mutators):
            return True
        return dotted in self.rules.propagators or dotted in self.rules.sanitiser_functions

    def _value_of_call(self, node: ast.Call, func: ast.expr, receiver: Val, args: list[Val], kwargs: dict[str, Val], dotted: str, qualified: str, imported: bool) -> Val:
        line = node.lineno
        names = {dotted, qualified}
        if names & self.rules.sanitiser_functions:
            return const("0", line)
        if names & self.rules.calls or (isinstance(func, ast.Attribute) and f".{func.attr}" in self.rules.calls):
            return untrusted(f"{dotted or (func.attr if isinstance(func, ast.Attribute) else '')}()")
        if any(k.arg == "type" and _dotted(k.value) in {"int", "float", "bool"} for k in node.keywords):
            return CLEAN  # Flask's request.args.get("n", type=int)
        if isinstance(func, ast.Attribute):
            attr = func.attr
            if attr in self.rules.sanitiser_methods:
                return CLEAN
            if self._request_attribute(dotted) or self.rules.is_source_chain(dotted):
                return untrusted(f"{dotted}()")
            if attr == "format":
                return self._format(receiver, node, args, kwargs)
            if attr == "format_map":
                return self._format(receiver, node, [], {"**": join_all(args)})
            if attr in ("substitute", "safe_substitute") and receiver.text:  # string.Template
                return concat([receiver, join_all([*args, *kwargs.values()])], "Template.substitute()", line) if args or kwargs else receiver
            if attr == "join" and len(args) == 1:
                return join_text(args[0], receiver, "str.join()", line)
            if attr == "replace" and receiver.text:
                return concat([receiver, *args[1:2]], ".replace()", line) if not all(a.clean for a in args[1:2]) else receiver
            if attr in STRING_METHODS or attr in {"split", "rsplit", "splitlines", "partition", "rpartition"}:
                return receiver if attr in STRING_METHODS else derived(receiver)
            if attr == "get" and receiver.allow:
                return CLEAN  # a lookup in a constant mapping: the allow-list idiom
            if attr in self.rules.mutators:
                return CLEAN
            if not receiver.clean:
                return derived(receiver)  # request.args.get("id"), value.strip()
            return UNKNOWN
        if names & self.rules.propagators:
            return join_all(args, CLEAN) if args else CLEAN
        if isinstance(func, ast.Name) and func.id in self.m.class_constants:
            return Val(UNKNOWN.labels, instance=func.id)  # an object of the module's class: its methods resolve
        return UNKNOWN

    # --- sinks ------------------------------------------------------------------------
    def _sql_args(self, node: ast.Call, sink: Sink, args: list[Val], kwargs: dict[str, Val]) -> list[tuple[int, Val]]:
        """(argument position or -1, value) of the arguments that carry SQL text."""
        out: list[tuple[int, Val]] = []
        if any(isinstance(a, ast.Starred) for a in node.args):
            return out
        for index in sink.args:
            if index < len(args):
                out.append((index, args[index]))
        for key, value in kwargs.items():
            if key in sink.keywords:
                if sink.elements and value.items is not None:
                    out.extend((-1, item) for item in value.items)
                else:
                    out.append((-1, element(value) if sink.elements else value))
        return out

    def _sink(self, node: ast.Call, found: tuple[Sink, bool, str], args: list[Val], kwargs: dict[str, Val], consumed: set[int]) -> None:
        sink, certain, shown = found
        for index, value in self._sql_args(node, sink, args, kwargs):
            if index >= 0:
                consumed.add(index)
            arguments = [node.args[index]] if 0 <= index < len(node.args) else [k.value for k in node.keywords if k.arg in sink.keywords]
            lines = {n for a in arguments for n in range(a.lineno, (a.end_lineno or a.lineno) + 1)} | {node.end_lineno or node.lineno}
            reach_sink(self.out, self.summary, value, shown, certain, node.lineno, self.rules.fix(sink.fix), tuple(sorted(lines)))

    def _through(self, callee: Function, node: ast.Call, args: list[Val], kwargs: dict[str, Val], consumed: set[int]) -> Val:
        """A call of the module's own function: its summary says where the arguments go."""
        summary = self.m.summarise(callee)
        offset = 1 if callee.cls is not None and isinstance(node.func, ast.Attribute) and callee.params[:1] in (["self"], ["cls"]) else 0
        by_param = {i + offset: value for i, value in enumerate(args)}
        by_param.update({callee.params.index(key): value for key, value in kwargs.items() if key in callee.params})
        used, result = through(self.out, self.summary, summary, by_param, f"{callee.key.replace('.<locals>', '')}()", node.lineno)
        consumed.update(p - offset for p in used)
        return result


def _literal_pattern(pattern: ast.pattern) -> bool:
    if isinstance(pattern, ast.MatchValue):
        return isinstance(pattern.value, ast.Constant)
    if isinstance(pattern, ast.MatchOr):
        return all(_literal_pattern(p) for p in pattern.patterns)
    if isinstance(pattern, ast.MatchSingleton):
        return True
    return False


_FLASK_TYPED = re.compile(r"<(?:int|float|uuid):(\w+)>")
_FASTAPI_PATH = re.compile(r"\{(\w+)(?::(?:int|float))\}")


def _typed_path_parameters(route: ast.expr | None) -> set[str]:
    """Path parameters a route converts to numbers (`<int:id>`, `{id:int}`): safe in SQL."""
    if not isinstance(route, ast.Call) or not route.args or not isinstance(route.args[0], ast.Constant) or not isinstance(route.args[0].value, str):
        return set()
    path = route.args[0].value
    return set(_FLASK_TYPED.findall(path)) | set(_FASTAPI_PATH.findall(path))


@dataclass
class PythonAnalysis:
    findings: list[RawSQLFinding]
    notes: list[str]


def analyse_python(source: str | bytes) -> PythonAnalysis:
    """SQL-injection findings in Python source, and notes on what was not analysed.

    Raises SyntaxError / ValueError for source that does not parse; RecursionError or
    MemoryError when the parser itself gives up on nesting.
    """
    tree = ast.parse(source)
    module = _Module(tree, sql_rules()["python"])
    findings = module.run()
    return PythonAnalysis(findings, module.out.notes)
