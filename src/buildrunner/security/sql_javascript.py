"""SQL injection in JavaScript and TypeScript, through tree-sitter.

A template literal with `${...}` or a `+` concatenation with non-literal parts
that reaches `query`/`execute`/`raw`/`$queryRawUnsafe`-style calls, directly or
through a variable assigned earlier in the file, is a finding. Tagged templates
(sql`...`, Prisma's `$queryRaw`) bind their values and are not.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from buildrunner.security.sql_shape import HOLE, RawSQLFinding, looks_like_sql

# Calls that only ever take SQL; the common names below also take other text
# (RegExp.exec, an HTTP client's query), so there only SQL-shaped text counts.
SQL_ONLY_SINKS = frozenset({"$queryRawUnsafe", "$executeRawUnsafe", "whereRaw", "havingRaw", "orderByRaw", "joinRaw", "selectRaw"})
SINKS = SQL_ONLY_SINKS | {"query", "execute", "raw", "unsafe", "exec"}
RECOMMENDATION = "Use placeholders and pass values separately: db.query('SELECT ... WHERE id = $1', [id]) (knex: whereRaw('id = ?', [id]); Prisma: $queryRaw`... ${id}`)."
CONST, DYNAMIC, UNKNOWN = "const", "dynamic", "unknown"
EXTENSIONS = {".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx"}


@lru_cache(maxsize=4)
def _parser(language: str) -> Any:
    import tree_sitter

    if language == "javascript":
        import tree_sitter_javascript as grammar

        lang = grammar.language()
    else:
        import tree_sitter_typescript as grammar

        lang = grammar.language_tsx() if language == "tsx" else grammar.language_typescript()
    return tree_sitter.Parser(tree_sitter.Language(lang))


class _Analysis:
    def __init__(self) -> None:
        self.env: dict[str, tuple[str, str]] = {}
        self.findings: list[RawSQLFinding] = []

    def eval(self, node: Any) -> tuple[str, str]:
        """(kind, constant text with holes) of an expression node."""
        kind = node.type
        if kind == "string":
            return CONST, node.text.decode("utf-8", "replace")[1:-1]
        if kind == "template_string":
            parts, dynamic = [], False
            for child in node.named_children:
                if child.type == "template_substitution":
                    inner = self.eval(child.named_children[0]) if child.named_children else (UNKNOWN, "")
                    if inner[0] == CONST:
                        parts.append(inner[1])
                    else:
                        dynamic = True
                        parts.append(HOLE)
                else:
                    parts.append(child.text.decode("utf-8", "replace"))
            return (DYNAMIC if dynamic else CONST), "".join(parts)
        if kind == "binary_expression" and node.child_by_field_name("operator") is not None and node.child_by_field_name("operator").type == "+":
            left = self.eval(node.child_by_field_name("left"))
            right = self.eval(node.child_by_field_name("right"))
            if left[0] == right[0] == CONST:
                return CONST, left[1] + right[1]
            if DYNAMIC in (left[0], right[0]) or left[0] == CONST or right[0] == CONST:
                lt = left[1] if left[0] != UNKNOWN else HOLE
                rt = right[1] if right[0] != UNKNOWN else HOLE
                return DYNAMIC, lt + rt
            return UNKNOWN, ""
        if kind == "number":
            return CONST, "0"
        if kind == "identifier":
            return self.env.get(node.text.decode("utf-8", "replace"), (UNKNOWN, ""))
        if kind == "parenthesized_expression" and node.named_children:
            return self.eval(node.named_children[-1])
        return UNKNOWN, ""

    def visit(self, root: Any) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            kind = node.type
            if kind == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and name.type == "identifier" and value is not None:
                    self.env[name.text.decode("utf-8", "replace")] = self.eval(value)
            elif kind in {"assignment_expression", "augmented_assignment_expression"}:
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and left.type == "identifier" and right is not None:
                    name = left.text.decode("utf-8", "replace")
                    value = self.eval(right)
                    if kind == "augmented_assignment_expression":
                        prev = self.env.get(name, (UNKNOWN, ""))
                        if prev[0] != UNKNOWN or value[0] != UNKNOWN:
                            value = (CONST if prev[0] == value[0] == CONST else DYNAMIC, prev[1] + value[1])
                    self.env[name] = value
            elif kind == "call_expression":
                self.call(node)
            stack.extend(reversed(node.children))

    def call(self, node: Any) -> None:
        func, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if func is None or args is None or args.type != "arguments":
            return  # a tagged template binds its values
        if func.type == "member_expression":
            prop = func.child_by_field_name("property")
            name = prop.text.decode("utf-8", "replace") if prop is not None else ""
        elif func.type == "identifier":
            name = func.text.decode("utf-8", "replace")
        else:
            return
        if name not in SINKS or not args.named_children:
            return
        kind, text = self.eval(args.named_children[0])
        if kind != DYNAMIC:
            return
        sql = looks_like_sql(text)
        if not sql and name not in SQL_ONLY_SINKS:
            return
        self.findings.append(
            RawSQLFinding(
                node.start_point[0] + 1,
                "high" if sql else "medium",
                f"SQL built from a template literal or concatenation reaches {name}()",
                RECOMMENDATION,
            )
        )


def analyse_javascript(source: bytes, language: str = "javascript") -> list[RawSQLFinding]:
    """SQL-injection findings in JavaScript / TypeScript (`language`: javascript, typescript, tsx)."""
    tree = _parser(language).parse(source)
    analysis = _Analysis()
    analysis.visit(tree.root_node)
    return sorted(set(analysis.findings), key=lambda f: f.line)
