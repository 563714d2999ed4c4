"""Per-file measurements of Python code (radon's complexity, maintainability index and raw counts).

Each file is parsed once and every metric is computed from that one tree, so the gate
costs about one radon pass; files are measured in worker processes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from buildrunner.quality.imports import ImportRecord, extract_imports
from buildrunner.quality.python_api import PublicItem, is_empty_module, public_items, statements_and_string_lines
from buildrunner.quality.sources import SourceFile, read_source, syntax_error_text


@dataclass(frozen=True)
class FunctionMetrics:
    """One function or method: where it is, how long, how complex (radon's cyclomatic complexity)."""

    name: str
    line: int
    lines: int
    complexity: int


@dataclass
class FileMetrics:
    """What the gate needs from one Python file."""

    rel: str
    error: str | None = None
    loc: int = 0
    sloc: int = 0
    maintainability: float | None = None
    functions: list[FunctionMetrics] = field(default_factory=list)
    public: list[PublicItem] = field(default_factory=list)
    has_module_docstring: bool = False
    imports: list[ImportRecord] = field(default_factory=list)
    empty: bool = True


_NON_CODE = frozenset({"COMMENT", "NL", "NEWLINE", "INDENT", "DEDENT", "ENCODING", "ENDMARKER"})


def _raw_counts(text: str, tree: ast.Module) -> tuple[int, int, int, int]:
    """(loc, lloc, sloc, comment lines incl. docstring lines) in one tokenize pass.

    Same definitions as radon.raw (statements for logical lines; standalone strings count
    as comments for the maintainability index), but linear: radon's own counter is
    quadratic on large literals (minutes on `html/entities.py`).
    """
    import io
    import tokenize

    statements, doc_lines = statements_and_string_lines(tree)
    code_lines: set[int] = set()
    comment_lines: set[int] = set()
    lines = text.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = tokenize.tok_name[tok.type]
            if kind == "COMMENT":
                comment_lines.add(tok.start[0])
            elif kind not in _NON_CODE:
                code_lines.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        code_lines = {i for i, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")}
    sloc = len(code_lines - doc_lines)
    return len(lines), statements, sloc, len(comment_lines) + len(doc_lines)


def measure_python(src: SourceFile) -> FileMetrics:
    """Parse once; complexity, maintainability index, sizes, public API docs and imports."""
    result = FileMetrics(rel=src.rel)
    text = read_source(src.path)
    if text is None:
        result.error = "cannot be read or decoded"
        return result
    try:
        return _measure_parsed(src, text, result)
    except (RecursionError, MemoryError):
        return FileMetrics(rel=src.rel, error="nested too deeply to analyse (generated code?)")


def _measure_parsed(src: SourceFile, text: str, result: FileMetrics) -> FileMetrics:
    from radon.metrics import h_visit_ast, mi_compute
    from radon.visitors import ComplexityVisitor

    try:
        tree = ast.parse(text, filename=src.rel)
    except (SyntaxError, ValueError) as exc:
        result.error = syntax_error_text(src, exc)
        return result
    result.imports = extract_imports(tree, src)
    result.empty = is_empty_module(tree)
    if src.is_test:  # tests count for what they import and their size, not for their structure
        lines = text.splitlines()
        result.loc = len(lines)
        result.sloc = sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
        return result
    result.loc, lloc, result.sloc, comments = _raw_counts(text, tree)
    visitor = ComplexityVisitor.from_ast(tree)
    blocks = list(visitor.functions)
    for cls in visitor.classes:
        blocks.extend(cls.methods)
    result.functions = [
        FunctionMetrics(b.name if not b.classname else f"{b.classname}.{b.name}", b.lineno, b.endline - b.lineno + 1, b.complexity)
        for b in blocks
    ]
    if result.sloc:
        try:
            volume = h_visit_ast(tree).total.volume
            result.maintainability = round(
                mi_compute(volume, visitor.total_complexity, lloc, comments / result.sloc * 100), 2
            )
        except (ValueError, ZeroDivisionError):
            result.maintainability = None
    result.public = list(public_items(tree))
    result.has_module_docstring = ast.get_docstring(tree, clean=False) is not None
    return result
