"""Per-file measurements of Python code (radon's complexity, maintainability index and raw counts).

Each file is parsed once and every metric is computed from that one tree, so the gate
costs about one radon pass; files are measured in worker processes.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

from radon.metrics import h_visit_ast, mi_compute
from radon.raw import Module, _logical, is_single_token
from radon.visitors import ComplexityVisitor

from buildrunner.quality.imports import ImportRecord, extract_imports
from buildrunner.quality.python_api import PublicItem, is_empty_module, public_items
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


def raw_counts(text: str) -> Module:
    """radon's raw metrics (`radon.raw.analyze`), exactly, in one tokenize pass.

    radon re-tokenizes a growing buffer for every line of a multi-line statement, which is quadratic: 27 s on
    `html/entities.py`'s one 2,500-line dict. Its per-group rules are kept (its own `_logical` and `is_single_token`
    judge each group); only the grouping is done once over the file. radon works on stripped lines split as
    `str.splitlines` splits them, so those are what is tokenized here too.
    """
    lines = [line.strip() for line in text.splitlines()]
    end_marker = tokenize.TokenInfo(tokenize.ENDMARKER, "", (0, 0), (0, 0), "")
    lloc = comments = single = multi = blank = sloc = 0
    group: list[tokenize.TokenInfo] = []
    first, depth = 1, 0  # the group's first line; open brackets

    def close(last: int) -> None:
        nonlocal lloc, comments, single, multi, blank, sloc, group, first
        parsed = lines[first - 1 : last]
        tokens = [*group, end_marker]
        comments += sum(1 for t in tokens if t.type == tokenize.COMMENT)
        if is_single_token(tokenize.COMMENT, tokens) or (is_single_token(tokenize.STRING, tokens) and tokens[0].start[0] == tokens[0].end[0]):
            single += 1  # a comment, or a one-line string statement (a docstring)
        elif is_single_token(tokenize.STRING, tokens):
            multi += sum(1 for line in parsed if line)
            blank += sum(1 for line in parsed if not line)
        else:
            sloc += sum(1 for line in parsed if line)
            blank += sum(1 for line in parsed if not line)
        lloc += _logical(tokens)
        group, first = [], last + 1

    for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline):
        if tok.type == tokenize.ENDMARKER:
            break
        while not group and tok.start[0] > first:  # a line the tokenizer gave no token: blank
            close(first)
        group.append(tok)
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.NEWLINE or (tok.type == tokenize.NL and depth <= 0):
            close(max(tok.start[0], first))
    if group:
        close(len(lines))
    while first <= len(lines):
        close(first)
    return Module(sloc + blank + multi + single, lloc, sloc, comments, multi, blank, single)


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
    try:
        tree = ast.parse(text, filename=src.rel)
    except (SyntaxError, ValueError) as exc:
        result.error = syntax_error_text(src, exc)
        return result
    result.imports = extract_imports(tree, src)
    result.empty = is_empty_module(tree)
    lines = text.splitlines()
    result.loc = len(lines)
    result.sloc = sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if src.is_test:  # tests count for what they import and their size, not for their structure
        return result
    try:
        raw: Module | None = raw_counts(text)
    except (tokenize.TokenError, SyntaxError):
        raw = None
    if raw:
        result.sloc = raw.sloc
    visitor = ComplexityVisitor.from_ast(tree)
    blocks = list(visitor.functions)
    for cls in visitor.classes:
        blocks.extend(cls.methods)
    result.functions = [
        FunctionMetrics(b.name if not b.classname else f"{b.classname}.{b.name}", b.lineno, b.endline - b.lineno + 1, b.complexity)
        for b in blocks
    ]
    if raw and raw.sloc:  # radon's `mi_visit(text, multi=True)`, from the tree already parsed
        try:
            volume = h_visit_ast(tree).total.volume
            result.maintainability = round(mi_compute(volume, visitor.total_complexity, raw.lloc, (raw.comments + raw.multi) / raw.sloc * 100), 2)
        except (ValueError, ZeroDivisionError):
            result.maintainability = None
    result.public = list(public_items(tree))
    result.has_module_docstring = ast.get_docstring(tree, clean=False) is not None
    return result
