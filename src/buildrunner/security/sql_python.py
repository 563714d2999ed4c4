"""SQL injection in Python: `ast` data flow inside each function.

Every string expression is evaluated to one of three kinds: CONST (only
literals), DYNAMIC (text built from non-constant values) or UNKNOWN (a value we
cannot see, e.g. a parameter). A DYNAMIC string that reaches a SQL sink, directly
or through variables assigned earlier in the same function, is a finding; a
DYNAMIC string shaped like a SQL statement is one even without a visible sink.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Iterator

from buildrunner.security.sql_shape import HOLE, RawSQLFinding, looks_like_sql

CONST, DYNAMIC, UNKNOWN = "const", "dynamic", "unknown"

EXECUTE_SINKS = frozenset({"execute", "executemany", "executescript", "mogrify", "exec_driver_sql"})
DJANGO_SINKS = frozenset({"raw", "extra", "RawSQL"})
PANDAS_SINKS = frozenset({"read_sql", "read_sql_query"})
TEXT_MODULES = frozenset({"sqlalchemy", "sa", "sql", "expression"})
QUERY_KEYWORDS = ("sql", "query", "statement", "stmt", "operation", "raw_query")
SAFE_CASTS = frozenset({"int", "float", "len", "bool", "abs", "round", "Decimal", "UUID"})
# psycopg's sql.SQL/Identifier/Literal compose queries safely.
SAFE_COMPOSERS = frozenset({"SQL", "Identifier", "Literal", "Placeholder", "Composed"})
PASS_THROUGH_METHODS = frozenset({"strip", "lstrip", "rstrip", "lower", "upper", "casefold", "encode", "decode", "expandtabs"})

RECOMMENDATIONS = {
    "execute": 'Pass values as parameters: cursor.execute("SELECT ... WHERE id = %s", (value,)) (sqlite3 uses ?); take table and column names from a fixed allowlist.',
    "django": 'Pass values as params: Model.objects.raw("SELECT ... WHERE id = %s", [value]) / RawSQL("... = %s", (value,)).',
    "text": 'Use bound parameters: conn.execute(text("SELECT ... WHERE id = :id"), {"id": value}).',
    "pandas": 'Pass values as params: pd.read_sql("SELECT ... WHERE id = %s", con, params=(value,)).',
    "none": "Keep the SQL text constant with placeholders and pass the values separately to execute(); never format values into SQL.",
}


@dataclass(frozen=True)
class Val:
    """What we know about a string expression."""

    kind: str
    text: str = ""
    how: str = ""
    line: int = 0
    origin: int | None = None  # id of the pending construction finding it came from


UNKNOWN_VAL = Val(UNKNOWN)


@dataclass(frozen=True)
class Sink:
    """A call that runs SQL text. `ambiguous`: the name is common outside databases
    (`text()`, `.raw()`, `.extra()`), so only SQL-shaped text counts there."""

    shown: str
    recommendation: str
    ambiguous: bool = False


def _sink(call: ast.Call) -> Sink | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        name = func.attr
        if name in EXECUTE_SINKS:
            return Sink(f".{name}()", "execute")
        if name in DJANGO_SINKS:
            return Sink(f".{name}()", "django", ambiguous=True)
        if name in PANDAS_SINKS:
            return Sink(f"{name}()", "pandas")
        if name == "text" and isinstance(func.value, ast.Name) and func.value.id in TEXT_MODULES:
            return Sink("text()", "text")
    elif isinstance(func, ast.Name):
        if func.id == "RawSQL":
            return Sink("RawSQL()", "django")
        if func.id == "text":
            return Sink("text()", "text", ambiguous=True)
        if func.id in PANDAS_SINKS:
            return Sink(f"{func.id}()", "pandas")
    return None


def _query_args(call: ast.Call, recommendation: str) -> list[ast.expr]:
    if recommendation == "django" and isinstance(call.func, ast.Attribute) and call.func.attr == "extra":
        out: list[ast.expr] = []
        for kw in call.keywords:
            if kw.arg in {"where", "select", "tables", "order_by"}:
                value = kw.value
                if isinstance(value, (ast.List, ast.Tuple)):
                    out.extend(value.elts)
                elif isinstance(value, ast.Dict):
                    out.extend(v for v in value.values if v is not None)
        return out
    if call.args and not isinstance(call.args[0], ast.Starred):
        return [call.args[0]]
    return [kw.value for kw in call.keywords if kw.arg in QUERY_KEYWORDS]


class _FunctionAnalysis:
    """Walks one scope's statements in order, tracking string variables."""

    def __init__(self, out: "_Collector") -> None:
        self.env: dict[str, Val] = {}
        self.out = out

    # --- evaluation -------------------------------------------------------
    def eval(self, node: ast.expr | None) -> Val:
        if node is None:
            return UNKNOWN_VAL
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return Val(CONST, node.value, line=line)
            if isinstance(node.value, bytes):
                return Val(CONST, node.value.decode("latin-1"), line=line)
            return Val(CONST, "", line=line)
        if isinstance(node, ast.Name):
            return self.env.get(node.id, UNKNOWN_VAL)
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.IfExp):
            a, b = self.eval(node.body), self.eval(node.orelse)
            if DYNAMIC in (a.kind, b.kind):
                return a if a.kind == DYNAMIC else b
            if a.kind == b.kind == CONST:
                return Val(CONST, a.text, line=line)
            return UNKNOWN_VAL
        if isinstance(node, (ast.Tuple, ast.List)):
            vals = [self.eval(e) for e in node.elts]
            return Val(CONST, line=line) if all(v.kind == CONST for v in vals) else UNKNOWN_VAL
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value)
            self.env[node.target.id] = value
            return value
        return UNKNOWN_VAL

    def _fstring(self, node: ast.JoinedStr) -> Val:
        text, dynamic = [], False
        for part in node.values:
            if isinstance(part, ast.Constant):
                text.append(str(part.value))
                continue
            if isinstance(part, ast.FormattedValue):
                spec = ast.unparse(part.format_spec) if part.format_spec is not None else ""
                inner = self.eval(part.value)
                if inner.kind == CONST:
                    text.append(inner.text)
                    continue
                if spec and spec.strip("'\"f").rstrip().endswith(("d", "f", "e", "x", "%")):
                    text.append("0")  # a numeric format spec renders only digits
                    continue
            dynamic = True
            text.append(HOLE)
        joined = "".join(text)
        return Val(DYNAMIC, joined, "an f-string", node.lineno) if dynamic else Val(CONST, joined, line=node.lineno)

    def _binop(self, node: ast.BinOp) -> Val:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.Add):
            if left.kind == right.kind == CONST:
                return Val(CONST, left.text + right.text, line=node.lineno)
            if UNKNOWN in (left.kind, right.kind) and not (left.text or right.text):
                return UNKNOWN_VAL
            how = left.how if left.kind == DYNAMIC else right.how if right.kind == DYNAMIC else "+ concatenation"
            lt = left.text if left.kind != UNKNOWN else HOLE
            rt = right.text if right.kind != UNKNOWN else HOLE
            return Val(DYNAMIC, lt + rt, how, node.lineno, left.origin or right.origin)
        if isinstance(node.op, ast.Mod):
            if left.kind == UNKNOWN or not left.text:
                return UNKNOWN_VAL
            if left.kind == CONST and right.kind == CONST:
                return Val(CONST, left.text, line=node.lineno)
            return Val(DYNAMIC, left.text, left.how if left.kind == DYNAMIC else "% formatting", node.lineno, left.origin)
        if isinstance(node.op, ast.Mult):
            if left.kind == CONST and (right.kind != DYNAMIC):
                return Val(CONST, left.text, line=node.lineno)  # "?, " * n: placeholders
            if right.kind == CONST and left.kind != DYNAMIC:
                return Val(CONST, right.text, line=node.lineno)
        return UNKNOWN_VAL

    def _call(self, node: ast.Call) -> Val:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in SAFE_CASTS:
                return Val(CONST, "0", line=node.lineno)
            if func.id in SAFE_COMPOSERS:
                return Val(CONST, line=node.lineno)
            return UNKNOWN_VAL
        if not isinstance(func, ast.Attribute):
            return UNKNOWN_VAL
        if func.attr in SAFE_COMPOSERS:
            return Val(CONST, line=node.lineno)
        base = self.eval(func.value)
        args = [self.eval(a) for a in node.args] + [self.eval(k.value) for k in node.keywords]
        if func.attr == "join":
            return self._join(base, node)
        if base.kind == UNKNOWN or not base.text:
            return UNKNOWN_VAL
        if func.attr in PASS_THROUGH_METHODS:
            return base
        if func.attr in {"format", "replace", "format_map"}:
            if base.kind == CONST and all(a.kind == CONST for a in args):
                return Val(CONST, base.text, line=node.lineno)
            how = base.how if base.kind == DYNAMIC else f".{func.attr}()"
            return Val(DYNAMIC, base.text, how, node.lineno, base.origin)
        return UNKNOWN_VAL

    def _join(self, sep: Val, node: ast.Call) -> Val:
        if sep.kind != CONST or len(node.args) != 1:
            return UNKNOWN_VAL
        arg = node.args[0]
        if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
            vals = [self.eval(e) for e in arg.elts]
            text = sep.text.join(v.text if v.kind != UNKNOWN else HOLE for v in vals)
            if all(v.kind == CONST for v in vals):
                return Val(CONST, text, line=node.lineno)
            return Val(DYNAMIC, text, "str.join()", node.lineno)
        items = self.eval(arg.elt) if isinstance(arg, (ast.GeneratorExp, ast.ListComp)) else self.eval(arg)
        if items.kind == CONST:
            return Val(CONST, items.text, line=node.lineno)
        return Val(DYNAMIC, HOLE, "str.join()", node.lineno)

    # --- statements -------------------------------------------------------
    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for deco in node.decorator_list:
                self.expr(deco)
            if self.out.relevant(node.lineno, node.end_lineno or node.lineno):
                self.out.scope(node.body)
            return
        if isinstance(node, ast.Assign):
            value = self.expr(node.value, assigned=True)
            for target in node.targets:
                self.assign(target, value, node.value)
            return
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.expr(node.value, assigned=True), node.value)
            return
        if isinstance(node, ast.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, ast.Name):
                combined = ast.BinOp(left=ast.Name(node.target.id, ast.Load()), op=node.op, right=node.value)
                ast.copy_location(combined, node)
                value = self._binop(combined)
                self.env[node.target.id] = self.out.construction(value, node.lineno) if value.kind == DYNAMIC else value
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.assign(node.target, UNKNOWN_VAL, node.target)  # the loop variable is not its old value
        for _, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                self.expr(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.stmt):
                        self.stmt(item)
                    elif isinstance(item, ast.expr):
                        self.expr(item)
                    elif isinstance(item, (ast.ExceptHandler, ast.match_case)):
                        self.run(item.body)
                    elif isinstance(item, ast.withitem):
                        self.expr(item.context_expr)
                        if item.optional_vars is not None:
                            self.assign(item.optional_vars, UNKNOWN_VAL, item.optional_vars)

    def assign(self, target: ast.expr, value: Val, node: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if value.kind == DYNAMIC and value.origin is None:
                value = self.out.construction(value, node.lineno)
            self.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                if isinstance(elt, ast.Name):
                    self.env.pop(elt.id, None)

    def expr(self, node: ast.expr, assigned: bool = False) -> Val:
        """Evaluate a top-level expression: report sinks and SQL built inside it.

        When `node` is assigned, its own construction is recorded by `assign` so a
        later sink can claim it.
        """
        for call in _calls(node):
            sink = _sink(call)
            if sink is None:
                continue
            for arg in _query_args(call, sink.recommendation):
                value = self.eval(arg)
                if value.kind == DYNAMIC:
                    self.out.sink(value, call, sink, arg)
        for built in _string_builders(node):
            value = self.eval(built)
            if assigned and built is node:
                continue
            if value.kind == DYNAMIC and value.origin is None and not self.out.is_sink_arg(built):
                self.out.construction(value, built.lineno, standalone=True)
        return self.eval(node)


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            yield child


def _string_builders(node: ast.AST) -> Iterator[ast.expr]:
    """The outermost string-building expressions (f-strings, +, %, .format/.replace/.join) in `node`."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(cur, ast.JoinedStr) or (isinstance(cur, ast.BinOp) and isinstance(cur.op, (ast.Add, ast.Mod))) or (
            isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute) and cur.func.attr in {"format", "replace", "join", "format_map"}
        ):
            yield cur
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(cur))))


class _Collector:
    """Findings of one module: constructions wait to see whether a sink consumes them."""

    def __init__(self, relevant: Callable[[int, int], bool] | None) -> None:
        self.findings: list[RawSQLFinding] = []
        self.pending: dict[int, RawSQLFinding | None] = {}
        self.sink_args: set[int] = set()
        self._relevant = relevant

    def relevant(self, first_line: int, last_line: int) -> bool:
        """Whether a function's lines can hold a finding (data flow never leaves a function)."""
        return self._relevant is None or self._relevant(first_line, last_line)

    def scope(self, body: list[ast.stmt]) -> None:
        _FunctionAnalysis(self).run(body)

    def is_sink_arg(self, node: ast.expr) -> bool:
        return id(node) in self.sink_args

    def construction(self, value: Val, line: int, standalone: bool = False) -> Val:
        """Record SQL built from values; it is reported unless a sink reports it first."""
        key = len(self.pending)
        finding = None
        if looks_like_sql(value.text):
            finding = RawSQLFinding(line, "medium", f"SQL statement built with {value.how} from non-constant values", RECOMMENDATIONS["none"])
        self.pending[key] = finding
        return Val(value.kind, value.text, value.how, line, None if standalone else key)

    def sink(self, value: Val, call: ast.Call, sink: Sink, arg: ast.expr) -> None:
        self.sink_args.add(id(arg))
        sql = looks_like_sql(value.text)
        if sink.ambiguous and not sql:
            return
        built_at = ""
        if value.origin is not None:
            self.pending[value.origin] = None
            if value.line and value.line != call.lineno:
                built_at = f" (built at line {value.line})"
        severity = "high" if sql else "medium"
        self.findings.append(
            RawSQLFinding(call.lineno, severity, f"SQL built with {value.how or 'string operations'} from non-constant values reaches {sink.shown}{built_at}", RECOMMENDATIONS[sink.recommendation])
        )

    def result(self) -> list[RawSQLFinding]:
        out = self.findings + [f for f in self.pending.values() if f is not None]
        return sorted(set(out), key=lambda f: f.line)


def analyse_python(source: str | bytes, relevant: Callable[[int, int], bool] | None = None) -> list[RawSQLFinding]:
    """SQL-injection findings in Python source; raises SyntaxError/ValueError for unparsable code.

    `relevant(first_line, last_line)` lets the caller skip functions whose text
    cannot hold a finding (no sink call, no SQL-looking literal).
    """
    tree = ast.parse(source)
    collector = _Collector(relevant)
    collector.scope(tree.body)
    return collector.result()
