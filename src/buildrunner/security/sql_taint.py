"""Bounded abstract values for the SQL-injection taint analyses (Python and JavaScript).

A value is summarised, never computed: which inputs it depends on (a small set of
labels: untrusted input, a parameter of the enclosing function, something else
non-constant), whether it is text built by string operations from such inputs, and
the first `TEXT_CAP` characters of that text (non-constant parts as `HOLE`), which is
all `looks_like_sql` needs. Every operation costs at most `TEXT_CAP`, so an analysis
is linear in its input however the strings grow (`q = q + q` a thousand times).

`Collector` holds one file's findings: SQL built from non-constant values waits as a
"construction" until a sink claims it; one no sink claims is reported on its own.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from buildrunner.security.sql_rules import LanguageRules
from buildrunner.security.sql_shape import HOLE, RawSQLFinding, looks_like_sql

SOURCE = -1  # untrusted input: request data, argv, environment, input()
OTHER = -2  # non-constant, origin unknown (an attribute, a call's result, a global)
TEXT_CAP = 256  # characters of text kept per value
MAX_ITEMS = 64  # elements of a literal list/tuple kept (for " ".join([...]))
MAX_PARAMS = 64  # parameters tracked per function
MAX_DEPTH = 120  # nesting of expressions and blocks followed before giving up on a function (with a note)

EMPTY: frozenset[int] = frozenset()
_OTHER = frozenset({OTHER})
_SOURCE = frozenset({SOURCE})


@dataclass(frozen=True, slots=True)
class Val:
    """What the analysis knows about one value."""

    labels: frozenset[int] = EMPTY  # what it depends on: SOURCE, OTHER, parameter indexes (empty: safe)
    built: bool = False  # text built by string operations with a non-constant part
    text: str = ""  # the known beginning of its text (HOLE for non-constant parts), at most TEXT_CAP
    how: str = ""  # how it was built ("an f-string"), for messages
    line: int = 0  # where it was built
    origin: int | None = None  # the pending construction it came from
    source: str = ""  # which untrusted input, for messages ("request.GET")
    allow: bool = False  # a constant collection or mapping: an element or lookup of it is constant
    items: tuple["Val", ...] | None = None  # the elements of a small literal list or tuple
    instance: str = ""  # an object of one of the file's classes: its methods have summaries

    @property
    def clean(self) -> bool:
        return not self.labels

    @property
    def untrusted(self) -> bool:
        return SOURCE in self.labels

    def params(self) -> frozenset[int]:
        return frozenset(label for label in self.labels if label >= 0)


CLEAN = Val()
UNKNOWN = Val(_OTHER)


def const(text: str, line: int = 0) -> Val:
    return Val(text=text[:TEXT_CAP], line=line)


def untrusted(source: str) -> Val:
    return Val(_SOURCE, source=source)


def param(index: int, name: str) -> Val:
    return Val(frozenset({index}) if index < MAX_PARAMS else _OTHER, source=name)


def derived(value: Val) -> Val:
    """A value derived from `value` (an attribute, an element, a method's result): same inputs, text unknown."""
    return Val(value.labels, source=value.source, origin=value.origin) if value.labels else CLEAN


def element(value: Val) -> Val:
    """An element of a collection (a loop variable, an unpacked item, a subscript)."""
    if value.allow or value.clean:
        return CLEAN
    return replace(value, items=None, allow=False)


def container_of(value: Val) -> Val:
    return replace(value, items=None, allow=False)


def container(values: list[Val]) -> Val:
    """A list, tuple, set or object literal: an allow-list when every element is a constant."""
    items = tuple(values) if len(values) <= MAX_ITEMS else None
    if all(v.clean for v in values):
        return Val(allow=all(v.text or v.allow for v in values), items=items)
    return replace(join_all(values), items=items, allow=False)


def join_text(items: Val, sep: Val, how: str, line: int) -> Val:
    """`sep.join(items)` / `items.join(sep)`: the elements with `sep` between them."""
    if not sep.clean:
        return concat([sep, items], how, line)
    if items.items is not None:
        pieces: list[Val] = []
        for i, item in enumerate(items.items):
            if i:
                pieces.append(sep)
            pieces.append(item)
        return concat(pieces, how, line)
    if items.clean:
        return const("", line) if items.allow else CLEAN
    return Val(items.labels, True, items.text if items.built else HOLE, items.how or how, line, items.origin, items.source)


def join(a: Val, b: Val) -> Val:
    """Either value (after an `if`, across loop iterations): what both may hold."""
    if a is b:
        return a
    labels = a.labels | b.labels
    first = a if (a.built, looks_like_sql(a.text)) >= (b.built, looks_like_sql(b.text)) else b
    return Val(
        labels,
        a.built or b.built,
        first.text,
        first.how or a.how or b.how,
        first.line,
        first.origin if first.origin is not None else (a.origin if a.origin is not None else b.origin),
        a.source or b.source,
        a.allow and b.allow and not labels,
        None,
        a.instance if a.instance == b.instance else "",
    )


def join_all(values: Iterable[Val], default: Val = CLEAN) -> Val:
    out: Val | None = None
    for value in values:
        out = value if out is None else join(out, value)
    return default if out is None else out


def concat(parts: list[Val], how: str, line: int) -> Val:
    """Text made of `parts` in order (+, f-strings, formatting, join)."""
    if all(p.clean for p in parts):
        return const("".join(p.text for p in parts), line)
    if not any(p.text or p.clean for p in parts):
        return Val(frozenset().union(*(p.labels for p in parts)), source=_first_source(parts), origin=_first_origin(parts))
    text: list[str] = []
    size = 0
    for p in parts:
        piece = p.text if p.clean or p.built else HOLE
        text.append(piece)
        size += len(piece)
        if size >= TEXT_CAP:
            break
    built_how = next((p.how for p in parts if p.built and p.how), how)
    return Val(
        frozenset().union(*(p.labels for p in parts)),
        True,
        "".join(text)[:TEXT_CAP],
        built_how,
        line,
        _first_origin(parts),
        _first_source(parts),
    )


def _first_origin(parts: list[Val]) -> int | None:
    return next((p.origin for p in parts if p.origin is not None), None)


def _first_source(parts: list[Val]) -> str:
    return next((p.source for p in parts if p.untrusted and p.source), next((p.source for p in parts if p.source), ""))


def substitute(value: Val, args: dict[int, Val]) -> Val:
    """A summary's value with its parameters replaced by the caller's arguments."""
    params = value.params()
    if not params:
        return value
    if not value.built and value.labels == params and len(params) == 1:
        (index,) = params
        return args.get(index, CLEAN)  # the argument itself, handed back (built text, origin and all)
    labels = value.labels - params
    source = value.source if SOURCE in labels else ""
    for index in params:
        arg = args.get(index, CLEAN)
        labels = labels | arg.labels
        if arg.untrusted and not source:
            source = arg.source
    if not labels:
        return const(value.text.replace(HOLE, ""), value.line) if value.built else CLEAN
    origin = value.origin if value.origin is not None else next((args[i].origin for i in sorted(params) if i in args and args[i].origin is not None), None)
    return replace(value, labels=labels, source=source or value.source, origin=origin)


# printf-style conversions: %s, %(name)s, %-10.3f, %%
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")
NUMERIC_CONVERSIONS = frozenset("diouxXeEfFgGc%")


def percent_fields(fmt: str) -> list[tuple[str | None, str, int, int]]:
    """(mapping key, conversion, start, end) of each `%` conversion in a format string."""
    return [(m.group(1), m.group(2), m.start(), m.end()) for m in _PERCENT.finditer(fmt)]


def numeric_spec(spec: str) -> bool:
    """A format spec that renders only digits (`{:d}`, `{:.2f}`, `:x`)."""
    spec = spec.strip()
    return bool(spec) and spec[-1] in "bcdeEfFgGnoxX%"


@dataclass
class Collector:
    """One file's findings; constructions wait for a sink to claim them."""

    findings: list[RawSQLFinding] = field(default_factory=list)
    pending: dict[int, RawSQLFinding | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def construction(self, value: Val, line: int, recommendation: str) -> Val:
        """Record SQL text built from non-constant values; returns it tied to the record."""
        if not value.built or value.clean or value.origin is not None or not looks_like_sql(value.text):
            return value
        key = len(self.pending)
        line = value.line or line  # where the SQL text is written, not where it is passed on
        who = f" (untrusted input: {value.source})" if value.untrusted and value.source else ""
        self.pending[key] = RawSQLFinding(line, "medium", f"SQL statement built with {value.how or 'string operations'} from non-constant values{who}", recommendation)
        return replace(value, origin=key, line=line)

    def claim(self, value: Val) -> str:
        """A sink took `value`: its construction is reported there. Returns "(built at line N)" when elsewhere."""
        if value.origin is not None:
            self.pending[value.origin] = None
        return f" (built at line {value.line})" if value.line else ""

    def add(self, line: int, severity: str, description: str, recommendation: str, allow_lines: tuple[int, ...] = ()) -> None:
        self.findings.append(RawSQLFinding(line, severity, description, recommendation, allow_lines))

    def note(self, reason: str) -> None:
        if reason not in self.notes:
            self.notes.append(reason)

    def result(self) -> list[RawSQLFinding]:
        out = self.findings + [f for f in self.pending.values() if f is not None]
        return sorted(set(out), key=lambda f: (f.line, f.description))


class Env:
    """Variables of one branch: reads fall through to the enclosing branch; writes stay here until merged."""

    __slots__ = ("vars", "parent", "dead")

    def __init__(self, parent: "Env | None" = None) -> None:
        self.vars: dict[str, Val] = {}
        self.parent = parent
        self.dead = False  # the branch ended (return, raise, break, continue)

    def get(self, name: str) -> Val | None:
        env: Env | None = self
        while env is not None:
            value = env.vars.get(name)
            if value is not None:
                return value
            env = env.parent
        return None


def merge(env: Env, branches: list[Env], fallthrough: bool) -> None:
    """Join the live branches (and, when no branch has to run, the state before them) into `env`."""
    live = [b for b in branches if not b.dead]
    if not live and not fallthrough:
        env.dead = True
        return
    names: set[str] = set()
    for b in live:
        names.update(b.vars)
    for name in names:
        values = [b.get(name) or UNKNOWN for b in live]
        if fallthrough:
            values.append(env.get(name) or UNKNOWN)
        env.vars[name] = join_all(values)


def flatten(env: Env, upto: Env, keep_dead: bool = True) -> Env:
    """`env`'s writes and its parents' up to (not including) `upto`, as one branch of `upto`."""
    out = Env(upto)
    chain = []
    cur: Env | None = env
    while cur is not None and cur is not upto:
        chain.append(cur)
        cur = cur.parent
    for e in reversed(chain):
        out.vars.update(e.vars)
    out.dead = env.dead if keep_dead else False
    return out


def describe(value: Val, sink: str, built_at: str) -> tuple[str, str]:
    """(severity, description) of `value` reaching `sink`."""
    if value.built:
        if value.untrusted:
            return "high", f"SQL built with {value.how or 'string operations'} from untrusted input ({value.source or 'request data'}) reaches {sink}{built_at}"
        return "medium", f"SQL built with {value.how or 'string operations'} from non-constant values reaches {sink}{built_at}"
    return "high", f"untrusted input ({value.source or 'request data'}) is used as SQL text by {sink}"


@dataclass(frozen=True)
class SinkUse:
    """A parameter of a function reaches a sink (directly, or through other functions)."""

    sink: str  # shown name, ".execute()"
    line: int  # where the sink is
    certain: bool  # the sink surely runs SQL (else only SQL-shaped text counts)
    built_inside: bool  # the function builds SQL from the parameter itself (a finding there already)
    fix: str
    via: str = ""  # "f() and g()": the functions in between


@dataclass
class Summary:
    """What a function does with its parameters: which reach a sink, what its return value is made of."""

    returns: Val = CLEAN
    sinks: dict[int, SinkUse] = field(default_factory=dict)


def reach_sink(
    out: Collector, own: Summary, value: Val, shown: str, certain: bool, line: int, fix: str, allow_lines: tuple[int, ...] = ()
) -> None:
    """`value` is the SQL text of a sink call at `line`: report it, and note in `own` which parameters reach the sink.

    Built text counts where the sink is certain or the text is shaped like SQL; untrusted input
    used as the whole SQL text counts where the sink is certain. A parameter passed through
    unchanged is not a finding here: the callers that pass request data are.
    """
    if value.clean:
        return
    sql = looks_like_sql(value.text)
    if value.built and (certain or sql):
        claimed = out.claim(value)
        severity, description = describe(value, shown, claimed if value.line != line else "")
        out.add(line, severity, description, fix, allow_lines)
    elif not value.built and value.untrusted and certain:
        severity, description = describe(value, shown, "")
        out.add(line, severity, description, fix, allow_lines)
    for p in value.params():
        if not value.built or certain or sql:
            own.sinks.setdefault(p, SinkUse(shown, line, certain, value.built, fix))


def through(out: Collector, own: Summary, summary: Summary, by_param: dict[int, Val], name: str, line: int) -> tuple[set[int], Val]:
    """A call at `line` of the file's own function `name` (its `summary`) with arguments `by_param`.

    Reports the arguments that reach a sink inside it (high for untrusted input; medium for SQL
    built here from other values and run there unchanged), passes on to `own` the caller's
    parameters that do, and returns (the parameters consumed, the call's value).
    """
    consumed: set[int] = set()
    for p, use in summary.sinks.items():
        value = by_param.get(p)
        if value is None or value.clean:
            continue
        consumed.add(p)
        sql = looks_like_sql(value.text)
        chain = name + (f" and {use.via}" if use.via else "")
        if value.untrusted and (use.certain or sql or use.built_inside):
            claimed = out.claim(value) if value.built else ""
            built_at = claimed if value.line != line else ""
            out.add(line, "high", f"untrusted input ({value.source or 'request data'}) reaches {use.sink} (line {use.line}) through {chain}{built_at}", use.fix)
        elif value.built and not use.built_inside and (use.certain or sql):
            claimed = out.claim(value)
            built_at = claimed if value.line != line else ""
            out.add(line, "medium", f"SQL built with {value.how or 'string operations'} from non-constant values reaches {use.sink} (line {use.line}) through {chain}{built_at}", use.fix)
        for q in value.params():
            own.sinks.setdefault(q, SinkUse(use.sink, use.line, use.certain, use.built_inside or value.built, use.fix, chain))
    consumed |= summary.returns.params()  # arguments the function hands back leave with its result
    result = substitute(summary.returns, by_param)
    return consumed, replace(result, line=result.line or line) if result.built else result


def bottom_up(functions: Iterable[Any], callees: Callable[[Any], Iterator[Any]]) -> Iterator[Any]:
    """Functions (objects with a `key`) callees first: iterative depth-first post-order, cycles broken anywhere."""
    state: dict[str, int] = {}
    for root in list(functions):
        if state.get(root.key):
            continue
        state[root.key] = 1
        stack: list[tuple[Any, Iterator[Any]]] = [(root, callees(root))]
        while stack:
            function, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                state[function.key] = 2
                yield function
            elif not state.get(nxt.key):
                state[nxt.key] = 1
                stack.append((nxt, callees(nxt)))


class TooDeep(Exception):
    """Code nested deeper than MAX_DEPTH: the function is given up on, with a note."""


class Walk:
    """What the Python and the JavaScript analyses share while walking one function: the branch
    they are in (`env`), how deep they are, what they found and what the function returns.

    A subclass supplies `_stmt(node)`, `_expr(node) -> Val` and `block(nodes)`.
    """

    def __init__(self, rules: LanguageRules, out: Collector) -> None:
        self.rules = rules
        self.out = out
        self.summary = Summary()
        self.env = Env()
        self.depth = 0
        self.returns: list[Val] = []
        self.requests: set[str] = set(rules.request_objects)

    def run(self, walk: Callable[[], None], where: str) -> None:
        """Run `walk()`; nesting deeper than MAX_DEPTH ends it with a note instead of a silent pass."""
        try:
            walk()
        except TooDeep:
            self.out.note(f"not analysed: code nested more than {MAX_DEPTH} levels deep in {where}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.depth = 0
            raise TooDeep

    def stmt(self, node: Any) -> None:
        self.enter()
        try:
            self._stmt(node)
        finally:
            self.depth -= 1

    def expr(self, node: Any) -> Val:
        self.enter()
        try:
            return self._expr(node)
        finally:
            self.depth -= 1

    def _stmt(self, node: Any) -> None:
        raise NotImplementedError

    def _expr(self, node: Any) -> Val:
        raise NotImplementedError

    def block(self, nodes: list[Any]) -> None:
        raise NotImplementedError

    def escape(self, value: Val, line: int) -> Val:
        """`value` leaves string building (assigned, returned, passed on): SQL built in it is recorded."""
        return self.out.construction(value, line, self.rules.fix("none"))

    @contextmanager
    def branch(self, narrowed: dict[str, Val] | None = None) -> Iterator[Env]:
        """A new branch of the current Env (with `narrowed` values safe in it), current while the block runs."""
        parent = self.env
        env = Env(parent)
        if narrowed:
            env.vars.update(narrowed)
        self.env = env
        try:
            yield env
        finally:
            self.env = parent

    def run_branch(self, body: list[Any], narrowed: dict[str, Val] | None = None) -> Env:
        """Run statements in a new branch; returns it, not yet merged."""
        with self.branch(narrowed) as env:
            self.block(body)
        return env

    def narrowed(self, node: Any, safe: dict[str, Val]) -> Val:
        """`node`'s value where `safe` holds (the arm of a conditional expression)."""
        if not safe:
            return self.expr(node)
        with self.branch(safe):
            return self.expr(node)
