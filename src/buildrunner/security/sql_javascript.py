"""SQL injection in JavaScript and TypeScript: the same taint analysis as for Python, over tree-sitter's tree.

Template literals, `+` / `+=` concatenation, `concat`/`join` and destructuring carry
request data (`req.query`, `req.params`, `req.body`, `ctx.request.body`, ...) and
parameters into `query()` of pg / mysql / mysql2 / sequelize, `knex.raw()`, Prisma's
`$queryRawUnsafe` and the like (`sql_rules.toml`). Tagged templates (sql`...`,
Prisma's `$queryRaw`) bind their values and are safe. Named functions get summaries
(which parameters reach a sink, what the return value is built from), so a helper
that builds or runs a query carries its callers' input; anonymous handlers are
analysed where they are written, seeing the variables around them.

Values are bounded summaries (`sql_taint.Val`) and every node is visited once: the
work is linear in the file, and what is given up on is a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from buildrunner.security.sql_rules import IGNORE, LanguageRules, Sink, sql_rules
from buildrunner.security.sql_shape import RawSQLFinding
from buildrunner.security.sql_taint import (
    CLEAN,
    MAX_DEPTH,
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
    param,
    reach_sink,
    through,
    untrusted,
)

EXTENSIONS = {".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx"}
REDUCERS = frozenset({"reduce", "reduceRight"})  # their callback's element is its second parameter, the index its third
MAPPERS = frozenset({"map", "flatMap"})  # their result is what their callback returns
INDEXED = frozenset({"map", "flatMap", "filter", "some", "every", "find", "findIndex"})  # arrays' only: a number second
FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration", "function_expression", "function", "arrow_function", "generator_function", "method_definition"})
WRAPPERS = frozenset({"parenthesized_expression", "await_expression", "as_expression", "non_null_expression", "satisfies_expression", "type_assertion", "spread_element"})
STRING_METHODS = frozenset({"trim", "trimStart", "trimEnd", "toLowerCase", "toUpperCase", "toLocaleLowerCase", "toLocaleUpperCase", "toString", "normalize", "padStart", "padEnd", "slice", "substring", "substr", "repeat"})
SQL_OBJECT_KEYS = frozenset({"text", "sql", "query"})  # pg's client.query({ text, values }), sequelize / knex options
STATEMENT = "§prepared statement"  # Val.instance of a prepared statement: no class of the file has that name


@lru_cache(maxsize=4)
def _parser(language: str) -> Any:
    import tree_sitter  # tree-sitter and its grammars load only when a JavaScript or TypeScript file is analysed

    if language == "javascript":
        import tree_sitter_javascript

        lang = tree_sitter_javascript.language()
    else:
        import tree_sitter_typescript

        lang = tree_sitter_typescript.language_tsx() if language == "tsx" else tree_sitter_typescript.language_typescript()
    return tree_sitter.Parser(tree_sitter.Language(lang))


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace")


def _line(node: Any) -> int:
    return node.start_point[0] + 1


def _dotted(node: Any) -> str | None:
    """`a.b.c` / `this.db.query` for a chain of property accesses on a name (iteratively)."""
    parts = []
    while node.type == "member_expression":
        prop = node.child_by_field_name("property")
        if prop is None or prop.type not in ("property_identifier", "private_property_identifier"):
            return None
        parts.append(_text(prop))
        node = node.child_by_field_name("object")
        if node is None:
            return None
    if node.type not in ("identifier", "this"):
        return None
    parts.append(_text(node))
    return ".".join(reversed(parts))


def _string_value(node: Any) -> str:
    return "".join(_text(c) for c in node.named_children if c.type in ("string_fragment", "escape_sequence"))


@dataclass
class Function:
    key: str
    node: Any
    cls: str | None
    params: list[Any]  # the parameter nodes (identifier or pattern)
    summary: Summary | None = None


def _parameters(node: Any) -> list[Any]:
    params = node.child_by_field_name("parameters")
    if params is None:
        single = node.child_by_field_name("parameter")  # x => ...
        return [single] if single is not None else []
    out = []
    for child in params.named_children:
        if child.type in ("required_parameter", "optional_parameter"):
            pattern = child.child_by_field_name("pattern")
            if pattern is not None:
                out.append(pattern)
        elif child.type in ("identifier", "object_pattern", "array_pattern", "assignment_pattern", "rest_pattern"):
            out.append(child)
    return out


def _pattern_names(node: Any) -> list[str]:
    """The names a parameter or binding pattern introduces (iteratively)."""
    names, stack = [], [node]
    while stack:
        cur = stack.pop()
        if cur.type in ("identifier", "shorthand_property_identifier_pattern"):
            names.append(_text(cur))
        elif cur.type == "assignment_pattern":
            left = cur.child_by_field_name("left")
            if left is not None:
                stack.append(left)
        elif cur.type == "pair_pattern":
            value = cur.child_by_field_name("value")
            if value is not None:
                stack.append(value)
        else:
            stack.extend(cur.named_children)
    return names


class _File:
    """One file's shared state: imports, constants, named functions, findings."""

    def __init__(self, root: Any, rules: LanguageRules) -> None:
        self.root = root
        self.rules = rules
        self.out = Collector()
        self.modules: set[str] = set()
        self.functions: dict[str, Function] = {}
        self.named_nodes: set[int] = set()
        self._key_of: dict[int, str] = {}  # a named function's node -> its key
        self.calls: dict[str, list[Any]] = {}  # function key ("" for the top level) -> the calls in its own body
        self.classes: set[str] = set()
        self.constants: dict[str, Val] = {}
        self._scan()

    def _scan(self) -> None:
        """One pass over the tree: imports, classes, named functions and the calls each one makes."""
        stack: list[tuple[Any, str | None, str]] = [(self.root, None, "")]
        while stack:
            node, cls, owner = stack.pop()
            kind = node.type
            if kind == "import_statement":
                source = node.child_by_field_name("source")
                if source is not None:
                    self.modules.add(_string_value(source))
            elif kind == "call_expression":
                func = node.child_by_field_name("function")
                args = node.child_by_field_name("arguments")
                if func is not None and func.type in ("identifier", "import") and _text(func) in ("require", "import") and args is not None:
                    first = next(iter(args.named_children), None)
                    if first is not None and first.type == "string":
                        self.modules.add(_string_value(first))
            elif kind in ("function_declaration", "generator_function_declaration"):
                name = node.child_by_field_name("name")
                if name is not None:
                    self._add(_text(name), node, None)
            elif kind == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and name.type == "identifier" and value is not None and value.type in FUNCTIONS:
                    self._add(_text(name), value, None)
            elif kind == "method_definition" and cls is not None:
                name = node.child_by_field_name("name")
                if name is not None:
                    self._add(f"{cls}.{_text(name)}", node, cls)
            if kind in ("class_declaration", "class"):
                name = node.child_by_field_name("name")
                cls = _text(name) if name is not None else cls
                if name is not None:
                    self.classes.add(_text(name))
            owner = self._key_of.get(node.id, owner)
            if kind == "call_expression":
                self.calls.setdefault(owner, []).append(node)
            stack.extend((child, cls, owner) for child in node.named_children)
        for child in self.root.named_children:  # const TABLE = "users" at the top level
            decl = child.named_children[0] if child.type == "export_statement" and child.named_children else child
            if decl.type == "lexical_declaration" and _text(decl).startswith("const"):
                for d in decl.named_children:
                    name, value = d.child_by_field_name("name"), d.child_by_field_name("value")
                    if d.type == "variable_declarator" and name is not None and name.type == "identifier" and value is not None and value.type in ("string", "number", "template_string", "array", "object"):
                        folded = _fold(value)
                        if folded is not None:
                            self.constants[_text(name)] = folded

    def _add(self, key: str, node: Any, cls: str | None) -> None:
        self.functions.setdefault(key, Function(key, node, cls, _parameters(node)))
        self.named_nodes.add(node.id)
        self._key_of.setdefault(node.id, key)

    def imports_any(self, modules: tuple[str, ...]) -> bool:
        return any(m == want or m.startswith(want + "/") for m in self.modules for want in modules)

    def sink_of(self, func: Any) -> tuple[Sink, bool, str] | None:
        if func.type == "identifier":  # a plain call: `literal(...)` destructured from require('sequelize')
            name, kinds = _text(func), "functions"
        elif func.type == "member_expression":
            prop = func.child_by_field_name("property")
            name, kinds = (_text(prop) if prop is not None else ""), "methods"
        else:
            return None
        for sink in self.rules.sinks:
            if name not in getattr(sink, kinds):
                continue
            certain = not sink.modules or self.imports_any(sink.modules)
            if not certain and sink.elsewhere == IGNORE:
                continue
            return sink, certain, f"{name}()"
        return None

    def resolve(self, func: Any, current: Function | None, receiver: Val = CLEAN) -> Function | None:
        prop = func.child_by_field_name("property") if func.type == "member_expression" else None
        if receiver.instance and prop is not None:
            return self.functions.get(f"{receiver.instance}.{_text(prop)}")
        if func.type == "identifier":
            return self.functions.get(_text(func))
        dotted = _dotted(func) if func.type == "member_expression" else None
        if dotted and dotted.startswith("this.") and dotted.count(".") == 1 and current is not None and current.cls is not None:
            return self.functions.get(f"{current.cls}.{dotted[5:]}")
        return None

    def run(self) -> list[RawSQLFinding]:
        for function in self._bottom_up():
            self.summarise(function)
        _Analysis(self, None).run_body(self.root)
        return self.out.result()

    def summarise(self, function: Function) -> Summary:
        if function.summary is None:
            function.summary = Summary()
            function.summary = _Analysis(self, function).run_function()
        return function.summary

    def _bottom_up(self) -> Iterator[Function]:
        return bottom_up(self.functions.values(), self._callees)

    def _callees(self, function: Function) -> Iterator[Function]:
        seen: set[str] = set()
        for node in self.calls.get(function.key, ()):
            func = node.child_by_field_name("function")
            callee = self.resolve(func, function) if func is not None else None
            if callee is not None and callee.key != function.key and callee.key not in seen:
                seen.add(callee.key)
                yield callee


def _fold(node: Any) -> Val | None:
    """A constant's value: a string, a number, a template without substitutions, a list/object of them."""
    if node.type == "string":
        return const(_string_value(node))
    if node.type == "number":
        return const(_text(node))
    if node.type == "template_string":
        if any(c.type == "template_substitution" for c in node.named_children):
            return None
        return const(_string_value(node))
    if node.type == "array":
        items = [_fold(c) for c in node.named_children]
        return Val(allow=True) if all(i is not None for i in items) else None
    if node.type == "object":
        for pair in node.named_children:
            value = pair.child_by_field_name("value") if pair.type == "pair" else None
            if value is None or _fold(value) is None:
                return None
        return Val(allow=True)
    return None


class _Analysis(Walk):
    """One function (or the file's top level): statements in order, values in an `Env`."""

    def __init__(self, file: _File, function: Function | None) -> None:
        super().__init__(file.rules, file.out)
        self.f = file
        self.function = function
        self.sql_properties: dict[int, Val] = {}  # object literal -> the value of its text/sql/query property
        self.callback_items = UNKNOWN  # what a callback passed to an array method receives
        self.callback_method = ""  # ...and which method it is passed to
        self.callback_returns: dict[int, Val] = {}  # an inline function -> what it returns

    def run_function(self) -> Summary:
        assert self.function is not None
        for index, pattern in enumerate(self.function.params):
            for name in _pattern_names(pattern):
                if name in self.rules.request_objects:
                    self.env.vars[name] = UNKNOWN
                else:
                    self.env.vars[name] = param(index, name)
        body = self.function.node.child_by_field_name("body")
        if body is not None:
            self.run_body(body)
        self.summary.returns = join_all(self.returns)
        return self.summary

    def run_body(self, body: Any) -> None:
        def walk() -> None:
            if body.type in ("statement_block", "program", "class_body"):
                self.block(body.named_children)
            else:  # an arrow function's expression body
                self.returns.append(self.escape(self.expr(body), _line(body)))

        self.run(walk, "the file's top level" if self.function is None else f"{self.function.key}()")

    # --- statements -----------------------------------------------------------------
    def block(self, statements: list[Any]) -> None:
        for stmt in statements:
            if self.env.dead:
                return
            self.stmt(stmt)

    def _branch(self, body: Any | None, narrowed: dict[str, Val] | None = None) -> Env:
        return self.run_branch([body] if body is not None else [], narrowed)

    def _stmt(self, node: Any) -> None:
        kind = node.type
        if kind in ("statement_block", "program", "else_clause", "class_body"):
            self.block(node.named_children)
        elif kind in ("lexical_declaration", "variable_declaration"):
            for decl in node.named_children:
                if decl.type == "variable_declarator":
                    name, value = decl.child_by_field_name("name"), decl.child_by_field_name("value")
                    if name is not None and value is not None:
                        self.bind(name, self.escape(self.expr(value), _line(decl)))
        elif kind == "expression_statement":
            for child in node.named_children:
                self.escape(self.expr(child), _line(child))
        elif kind == "return_statement":
            for child in node.named_children:
                self.returns.append(self.escape(self.expr(child), _line(child)))
            self.env.dead = True
        elif kind in ("throw_statement", "break_statement", "continue_statement"):
            for child in node.named_children:
                self.expr(child)
            self.env.dead = True
        elif kind == "if_statement":
            condition = node.child_by_field_name("condition")
            then_safe, else_safe = self.narrowing(condition) if condition is not None else ({}, {})
            if condition is not None:
                self.expr(condition)
            then = self._branch(node.child_by_field_name("consequence"), then_safe)
            other = self._branch(node.child_by_field_name("alternative"), else_safe)
            merge(self.env, [then, other], fallthrough=False)
        elif kind in ("for_statement", "while_statement", "do_statement", "for_in_statement"):
            self._loop(node)
        elif kind == "try_statement":
            self._try(node)
        elif kind == "switch_statement":
            value = node.child_by_field_name("value")
            if value is not None:
                self.expr(value)
            body = node.child_by_field_name("body")
            branches = []
            for case in body.named_children if body is not None else []:
                branch = Env(self.env)
                parent, self.env = self.env, branch
                try:
                    self.block([c for c in case.named_children if c != case.child_by_field_name("value")])
                finally:
                    self.env = parent
                branch.dead = False
                branches.append(branch)
            exhaustive = body is not None and any(c.type == "switch_default" for c in body.named_children)
            merge(self.env, branches, fallthrough=not exhaustive)
        elif kind in FUNCTIONS:
            if node.id not in self.f.named_nodes:
                self._inline_function(node)
        elif kind in ("class_declaration", "import_statement", "comment", "empty_statement", "debugger_statement"):
            return  # a class's methods are named functions, analysed on their own
        elif kind in ("export_statement", "labeled_statement"):
            for child in node.named_children:
                if child.type not in ("identifier", "string", "export_clause", "statement_identifier"):
                    self.stmt(child)
        else:
            for child in node.named_children:
                self.expr(child)

    def _loop(self, node: Any) -> None:
        body = Env(self.env)
        parent, self.env = self.env, body
        try:
            if node.type == "for_in_statement":
                right, left = node.child_by_field_name("right"), node.child_by_field_name("left")
                items = self.expr(right) if right is not None else UNKNOWN
                if left is not None:
                    self.bind(left, element(items))
            else:
                for name in ("initializer", "condition", "increment"):
                    part = node.child_by_field_name(name)
                    if part is not None:
                        self.stmt(part) if part.type.endswith(("declaration", "statement")) else self.expr(part)
            inner = node.child_by_field_name("body")
            if inner is not None:
                self.stmt(inner)
            condition = node.child_by_field_name("condition") if node.type == "do_statement" else None
            if condition is not None:
                self.expr(condition)
        finally:
            self.env = parent
        body.dead = False
        merge(self.env, [body], fallthrough=True)

    def _try(self, node: Any) -> None:
        parent = self.env
        body = self._branch(node.child_by_field_name("body"))
        branches = [flatten(body, parent)]
        handler = node.child_by_field_name("handler")
        if handler is not None:
            env = Env(flatten(body, parent, keep_dead=False))
            self.env = env
            try:
                param_node = handler.child_by_field_name("parameter")
                if param_node is not None:
                    for name in _pattern_names(param_node):
                        env.vars[name] = UNKNOWN
                inner = handler.child_by_field_name("body")
                if inner is not None:
                    self.stmt(inner)
            finally:
                self.env = parent
            branches.append(flatten(env, parent))
        merge(self.env, branches, fallthrough=False)
        final = node.child_by_field_name("finalizer")
        if final is not None:
            was_dead, self.env.dead = self.env.dead, False
            inner = final.child_by_field_name("body")
            if inner is not None:
                self.stmt(inner)
            self.env.dead = self.env.dead or was_dead

    def _inline_function(self, node: Any) -> None:
        """An anonymous function (a route handler, a callback): analysed here, seeing the variables around it."""
        parent = self.env
        env = Env(parent)
        items, self.callback_items = self.callback_items, UNKNOWN  # list.map((x) => ...): x is an element
        method, self.callback_method = self.callback_method, ""
        # list.map((x, i) => ...): i is a number. Not forEach's (a Map's or URLSearchParams' passes the key) nor sort's
        index_at = 2 if method in REDUCERS else 1 if method in INDEXED else None
        for position, pattern in enumerate(_parameters(node)):
            for name in _pattern_names(pattern):
                env.vars[name] = CLEAN if items is not UNKNOWN and position == index_at else items
        params = set(env.vars)
        saved_returns, self.returns = self.returns, []
        self.env = env
        try:
            body = node.child_by_field_name("body")
            if body is not None:
                if body.type == "statement_block":
                    self.block(body.named_children)
                    self.callback_returns[node.id] = join_all(self.returns)
                else:
                    value = self.callback_returns[node.id] = self.expr(body)
                    self.escape(value, _line(body))
        finally:
            self.env = parent
            self.returns = saved_returns
        for name, value in flatten(env, parent).vars.items():  # a callback may run or not: outer variables it wrote hold either
            if name not in params and parent.get(name.split(".")[0]) is not None:
                parent.vars[name] = join(parent.get(name) or UNKNOWN, value)

    def bind(self, pattern: Any, value: Val) -> None:
        """Assign `value` to a name or destructuring pattern (`const { id } = req.query`)."""
        kind = pattern.type
        if kind in ("identifier", "shorthand_property_identifier_pattern"):
            self.env.vars[_text(pattern)] = value
        elif kind == "member_expression":
            dotted = _dotted(pattern)
            if dotted is not None:
                self.env.vars[dotted] = value
        elif kind == "subscript_expression":
            base = pattern.child_by_field_name("object")
            dotted = _dotted(base) if base is not None else None
            if dotted is not None and not value.clean:
                self.env.vars[dotted] = join(self.env.get(dotted) or UNKNOWN, container_of(value))
        elif kind == "object_pattern":
            for child in pattern.named_children:
                if child.type == "pair_pattern":
                    target = child.child_by_field_name("value")
                    if target is not None:
                        self.bind(target, derived(value))
                else:
                    self.bind(child, derived(value))
        elif kind == "array_pattern":
            items = value.items
            for i, child in enumerate(pattern.named_children):
                self.bind(child, items[i] if items is not None and i < len(items) else element(value))
        elif kind == "assignment_pattern":
            left, right = pattern.child_by_field_name("left"), pattern.child_by_field_name("right")
            if left is not None:
                self.bind(left, join(value, self.expr(right)) if right is not None else value)
        elif kind == "rest_pattern":
            for child in pattern.named_children:
                self.bind(child, derived(value))

    # --- expressions ----------------------------------------------------------------------
    def _expr(self, node: Any) -> Val:
        kind = node.type
        if kind == "string":
            return const(_string_value(node), _line(node))
        if kind == "number":
            return const(_text(node)[:32], _line(node))
        if kind in ("true", "false", "null", "undefined", "regex"):
            return CLEAN
        if kind == "template_string":
            return self._template(node)
        if kind in ("identifier", "member_expression", "this"):
            return self._name(node)
        if kind in ("call_expression", "subscript_expression") and (guarded := self.env.get(f"§{_text(node)}")) is not None and node.end_byte - node.start_byte <= 160:
            return guarded
        if kind == "subscript_expression":
            base = self.expr(node.child_by_field_name("object"))
            index = node.child_by_field_name("index")
            if index is not None:
                self.expr(index)
            if base.items is not None and index is not None and index.type == "number" and _text(index).isdigit() and int(_text(index)) < len(base.items):
                return base.items[int(_text(index))]
            return element(base)
        if kind == "call_expression":
            return self._call(node)
        if kind == "new_expression":
            args = node.child_by_field_name("arguments")
            values = [self.escape(self.expr(a), _line(a)) for a in (args.named_children if args is not None else [])]
            constructor = node.child_by_field_name("constructor")
            name = _text(constructor) if constructor is not None else ""
            if name == "Set" and len(values) == 1 and values[0].allow:
                return values[0]  # new Set(["a", "b"]): an allow-list
            return Val(UNKNOWN.labels, instance=name) if name in self.f.classes else UNKNOWN
        if kind == "binary_expression":
            return self._binary(node)
        if kind == "ternary_expression":
            condition = node.child_by_field_name("condition")
            then_safe, else_safe = self.narrowing(condition) if condition is not None else ({}, {})
            if condition is not None:
                self.expr(condition)
            return join(self._narrowed(node.child_by_field_name("consequence"), then_safe), self._narrowed(node.child_by_field_name("alternative"), else_safe))
        if kind in WRAPPERS:
            inner = next((c for c in node.named_children if not c.type.endswith("type") and c.type not in ("type_annotation", "type_arguments")), None)
            return self.expr(inner) if inner is not None else UNKNOWN
        if kind == "assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            value = self.escape(self.expr(right), _line(node)) if right is not None else UNKNOWN
            if left is not None:
                self.bind(left, value)
            return value
        if kind == "augmented_assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            operator = node.child_by_field_name("operator")
            current = self.expr(left) if left is not None else UNKNOWN
            value = self.expr(right) if right is not None else UNKNOWN
            combined = concat([current, value], "+= concatenation", _line(node)) if operator is not None and _text(operator) == "+=" else CLEAN
            combined = self.escape(combined, _line(node))
            if left is not None:
                self.bind(left, combined)
            return combined
        if kind == "array":
            values = [self.escape(self.expr(c), _line(c)) for c in node.named_children]
            return container(values)
        if kind == "object":
            values = []
            for child in node.named_children:
                if child.type == "pair":
                    key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
                    if value is not None:
                        values.append(self.escape(self.expr(value), _line(value)))
                        if key is not None and _text(key).strip("'\"") in SQL_OBJECT_KEYS:
                            self.sql_properties[node.id] = values[-1]
                elif child.type == "shorthand_property_identifier":
                    values.append(self.env.get(_text(child)) or UNKNOWN)
                elif child.type == "spread_element":
                    values.append(self.expr(child))
            return container(values)
        if kind in FUNCTIONS:
            if node.id not in self.f.named_nodes:
                self._inline_function(node)
            return UNKNOWN
        if kind in ("unary_expression", "update_expression"):
            for child in node.named_children:
                self.expr(child)
            return CLEAN
        if kind == "sequence_expression":
            value = UNKNOWN
            for child in node.named_children:
                value = self.expr(child)
            return value
        for child in node.named_children:  # anything else: evaluated for its calls, value not followed
            if not child.type.endswith("type") and child.type != "type_annotation":
                self.expr(child)
        return UNKNOWN

    def _narrowed(self, node: Any | None, safe: dict[str, Val]) -> Val:
        return self.narrowed(node, safe) if node is not None else UNKNOWN

    # --- narrowing (guards) ----------------------------------------------------------------
    def _key(self, node: Any) -> str | None:
        """How a guarded expression is remembered: its dotted name, or its text for a call (`String(req.query.sort)`)."""
        while node.type in ("parenthesized_expression", "as_expression", "non_null_expression"):
            node = node.named_children[0]
        dotted = _dotted(node)
        if dotted is not None:
            return dotted
        text = _text(node)
        return f"§{text}" if node.type in ("call_expression", "subscript_expression") and len(text) <= 160 else None

    def narrowing(self, test: Any) -> tuple[dict[str, Val], dict[str, Val]]:
        """(expressions safe where `test` holds, where it does not): allow-list membership, equality with a literal, number checks."""
        while test.type == "parenthesized_expression" and test.named_children:
            test = test.named_children[0]
        if test.type == "unary_expression" and _text(test).startswith("!") and test.named_children:
            then, otherwise = self.narrowing(test.named_children[-1])
            return otherwise, then
        if test.type == "binary_expression":
            operator = test.child_by_field_name("operator")
            op = _text(operator) if operator is not None else ""
            left, right = test.child_by_field_name("left"), test.child_by_field_name("right")
            if left is None or right is None:
                return {}, {}
            if op in ("&&", "||"):
                a, b = self.narrowing(left), self.narrowing(right)
                return ({**a[0], **b[0]}, {}) if op == "&&" else ({}, {**a[1], **b[1]})
            if op in ("===", "==", "!==", "!="):
                literal, other = (right, left) if right.type in ("string", "number") else (left, right) if left.type in ("string", "number") else (None, None)
                if literal is None and left.type == "unary_expression" and _text(left).startswith("typeof") and right.type == "string" and _string_value(right) in ("number", "boolean"):
                    key = self._key(left.named_children[-1])
                    return ({key: CLEAN}, {}) if key and op.startswith("=") else ({}, {key: CLEAN}) if key else ({}, {})
                key = self._key(other) if other is not None else None
                if key:
                    safe = {key: const(_string_value(literal) if literal.type == "string" else _text(literal))}  # type: ignore[union-attr]
                    return (safe, {}) if op.startswith("=") else ({}, safe)
                if left.type == "call_expression" and right.type in ("number", "unary_expression") and op in ("!==", "!="):
                    return self.narrowing(left)  # list.indexOf(x) !== -1
            if op in (">=", ">") and left.type == "call_expression":
                return self.narrowing(left)  # list.indexOf(x) >= 0
            if op == "in":
                key = self._key(left)
                if key and self.expr(right).allow:
                    return {key: CLEAN}, {}
            return {}, {}
        if test.type == "call_expression":
            func, args = test.child_by_field_name("function"), test.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if func is None or first is None:
                return {}, {}
            key = self._key(first)
            if not key:
                return {}, {}
            prop = func.child_by_field_name("property") if func.type == "member_expression" else None
            method = _text(prop) if prop is not None else ""
            obj = func.child_by_field_name("object") if func.type == "member_expression" else None
            if method in ("includes", "has", "indexOf") and obj is not None and self.expr(obj).allow:
                return {key: CLEAN}, {}
            if method == "test" and obj is not None and obj.type == "regex":
                return {key: CLEAN}, {}
            if _dotted(func) in ("Number.isInteger", "Number.isFinite", "Number.isSafeInteger", "validator.isInt", "validator.isUUID", "isUUID"):
                return {key: CLEAN}, {}
        return {}, {}

    def _name(self, node: Any) -> Val:
        dotted = _dotted(node)
        if dotted is None:
            obj = node.child_by_field_name("object")
            return derived(self.expr(obj)) if obj is not None else UNKNOWN
        found = self.env.get(dotted)
        if found is not None:
            return found
        if node.type == "identifier":
            if dotted in self.f.constants:
                return self.f.constants[dotted]
            return untrusted(dotted) if self._is_source(dotted) else UNKNOWN
        parts = dotted.split(".")
        if len(parts) > MAX_DEPTH:
            raise TooDeep
        value = self.env.get(parts[0]) or self.f.constants.get(parts[0]) or UNKNOWN
        prefix = parts[0]
        for part in parts[1:]:
            prefix = f"{prefix}.{part}"
            found = self.env.get(prefix)
            value = found if found is not None else untrusted(prefix) if self._is_source(prefix) else derived(value)
        return value

    def _is_source(self, dotted: str) -> bool:
        if self.rules.is_source_chain(dotted):
            return True
        head, _, attr = dotted.rpartition(".")
        return head in self.requests and attr in self.rules.request_attributes

    def _template(self, node: Any) -> Val:
        parts: list[Val] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                inner = next(iter(child.named_children), None)
                parts.append(self.expr(inner) if inner is not None else UNKNOWN)
            else:
                parts.append(const(_text(child)))
        return concat(parts, "a template literal", _line(node))

    def _binary(self, node: Any) -> Val:
        operator = node.child_by_field_name("operator")
        op = _text(operator) if operator is not None else ""
        if op == "+":
            operands = []
            cur = node
            while cur.type == "binary_expression" and (o := cur.child_by_field_name("operator")) is not None and _text(o) == "+":
                right = cur.child_by_field_name("right")
                if right is not None:
                    operands.append(right)
                cur = cur.child_by_field_name("left")
                if cur is None:
                    break
            if cur is not None:
                operands.append(cur)
            values = [self.expr(o) for o in reversed(operands)]
            if not any(v.text for v in values):
                return Val(frozenset().union(*(v.labels for v in values)), source=next((v.source for v in values if v.source), ""))
            return concat(values, "+ concatenation", _line(node))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        lv = self.expr(left) if left is not None else UNKNOWN
        rv = self.expr(right) if right is not None else UNKNOWN
        if op in ("&&", "||", "??"):
            return join(lv, rv)
        return CLEAN  # arithmetic and comparisons give numbers and booleans

    def _call(self, node: Any) -> Val:
        func = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        line = _line(node)
        if func is None:
            return UNKNOWN
        if args_node is not None and args_node.type == "template_string":  # a tagged template binds its values
            text = self._template(args_node)
            return text if _dotted(func) == "String.raw" else CLEAN
        receiver = self.expr(func.child_by_field_name("object")) if func.type == "member_expression" else CLEAN
        if func.type not in ("member_expression", "identifier"):
            receiver = self.expr(func)
        arg_nodes = list(args_node.named_children) if args_node is not None else []
        dotted = _dotted(func) or ""
        prop = func.child_by_field_name("property") if func.type == "member_expression" else None
        method = _text(prop) if prop is not None else ""
        saved = self.callback_items, self.callback_method
        self.callback_items = element(receiver) if method in self.rules.iteration_methods else UNKNOWN
        self.callback_method = method
        try:
            args = [self.expr(a) for a in arg_nodes]
        finally:
            self.callback_items, self.callback_method = saved
        consumed: set[int] = set()
        callee = self.f.resolve(func, self.function, receiver)
        if callee is not None and (self.function is None or callee.key != self.function.key):
            result = self._through(callee, node, args, consumed)
        else:
            # a prepared statement's methods (stmt.get(id), db.prepare(sql).all(x)) bind their arguments: no SQL text
            sink = self.f.sink_of(func) if receiver.instance != STATEMENT else None
            if sink is not None:
                for position in sink[0].args:
                    if position < len(arg_nodes):
                        self._sink(node, sink, arg_nodes[position], args[position], consumed, position)
            result = self._value_of_call(func, dotted, method, receiver, args, line)
            mapped = self.callback_returns.get(arg_nodes[0].id) if method in MAPPERS and arg_nodes else None
            if mapped is not None and mapped.clean:  # ids.map(() => "?"): placeholders, whatever the ids hold
                result = CLEAN
        builds = method in ("join", "concat", "replace", "replaceAll", "push", "unshift", "format") or dotted in self.rules.propagators or dotted in self.rules.sanitiser_functions
        for i, value in enumerate(args):
            if i not in consumed and not builds:
                self.escape(value, line)
        if method in self.rules.mutators:
            target = _dotted(func.child_by_field_name("object"))
            merged = join_all(args)
            if target is not None and not merged.clean:
                self.env.vars[target] = join(receiver, container_of(merged))
        return result

    def _value_of_call(self, func: Any, dotted: str, method: str, receiver: Val, args: list[Val], line: int) -> Val:
        if dotted in self.rules.sanitiser_functions:
            return const("0", line)
        if dotted in self.rules.calls:
            return untrusted(f"{dotted}()")
        if dotted in self.rules.propagators:
            if len(args) > 1 and args[0].text:  # util.format("... %s", x): text filled in
                return concat(args, f"{dotted}()", line)
            return join_all(args, CLEAN)
        if method:
            if method in self.rules.statement_factories:
                return Val(UNKNOWN.labels, instance=STATEMENT)
            if method in self.rules.sanitiser_methods:
                return CLEAN
            if self._is_source(dotted):
                return untrusted(f"{dotted}()")
            if method == "join":
                return join_text(receiver, args[0] if args else const(","), "join()", line)
            if method == "concat" and (receiver.text or receiver.items is None):
                return concat([receiver, *args], "concat()", line) if receiver.text else join_all([receiver, *args])
            if method in ("replace", "replaceAll") and receiver.text:
                return concat([receiver, *args[1:2]], ".replace()", line) if not all(a.clean for a in args[1:2]) else receiver
            if method in STRING_METHODS:
                return receiver
            if method in ("get", "getAll") and receiver.untrusted:
                return derived(receiver)  # url.searchParams.get("id")
            if method in self.rules.mutators:
                return CLEAN
            return derived(receiver) if not receiver.clean else UNKNOWN
        return UNKNOWN

    def _sql_value(self, arg_node: Any, value: Val) -> Val:
        """The SQL text of a sink's first argument: itself, or the `text`/`sql` property of an options object."""
        if arg_node.type != "object":
            return value
        return self.sql_properties.get(arg_node.id, CLEAN)

    def _sink(self, node: Any, found: tuple[Sink, bool, str], arg_node: Any, value: Val, consumed: set[int], position: int = 0) -> None:
        sink, certain, shown = found
        consumed.add(position)
        lines = (*range(_line(arg_node), arg_node.end_point[0] + 2), node.end_point[0] + 1) if arg_node is not None else (node.end_point[0] + 1,)
        reach_sink(self.out, self.summary, self._sql_value(arg_node, value), shown, certain, _line(node), self.rules.fix(sink.fix), lines)

    def _through(self, callee: Function, node: Any, args: list[Val], consumed: set[int]) -> Val:
        used, result = through(self.out, self.summary, self.f.summarise(callee), dict(enumerate(args)), f"{callee.key}()", _line(node))
        consumed.update(used)
        return result


@dataclass
class JavaScriptAnalysis:
    findings: list[RawSQLFinding]
    notes: list[str]


# Component and page files whose <script> blocks hold JavaScript or TypeScript (a Vue or Svelte component's
# `<script setup lang="ts">`, an HTML page's inline script).
MARKUP_EXTENSIONS = (".vue", ".svelte", ".html", ".htm")
_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_NOT_NEWLINE = re.compile(rb"[^\n]")
_SCRIPT_LANG = re.compile(rb"""\blang\s*=\s*["']?(ts|typescript|tsx)\b""", re.IGNORECASE)
_NOT_SCRIPT = re.compile(rb"""\btype\s*=\s*["']?(?!(?:text/javascript|application/javascript|module|text/typescript)\b)[\w/+.-]""", re.IGNORECASE)


def analyse_markup(source: bytes) -> JavaScriptAnalysis:
    """SQL-injection findings in the <script> blocks of a Vue, Svelte or HTML file: each block analysed on its own
    as JavaScript (TypeScript with `lang="ts"`), everything around it blanked so that lines and columns stay the file's.
    Blocks of data or templates (`type="application/json"`, `text/template`) are not code."""
    findings: list[RawSQLFinding] = []
    notes: list[str] = []
    for block in _SCRIPT.finditer(source):
        attributes, start, end = block.group(1), block.start(2), block.end(2)
        if _NOT_SCRIPT.search(attributes) or not block.group(2).strip():
            continue
        blanked = _NOT_NEWLINE.sub(b" ", source[:start]) + source[start:end]
        result = analyse_javascript(blanked, "typescript" if _SCRIPT_LANG.search(attributes) else "javascript")
        findings += result.findings
        notes += result.notes
    return JavaScriptAnalysis(findings, notes)


def analyse_javascript(source: bytes, language: str = "javascript") -> JavaScriptAnalysis:
    """SQL-injection findings in JavaScript / TypeScript (`language`: javascript, typescript, tsx), and notes."""
    tree = _parser(language).parse(source)
    file = _File(tree.root_node, sql_rules()["javascript"])
    findings = file.run()
    return JavaScriptAnalysis(findings, file.out.notes)
