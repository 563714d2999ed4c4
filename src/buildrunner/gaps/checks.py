"""The per-file checks of the gap analysis: stubs, TODO markers, swallowed errors, network
calls without timeouts, undocumented public API. One parse per file, run in worker processes.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from buildrunner.gaps.dead_code import FileUsage, scan_file
from buildrunner.gaps.duplicates import Window, windows
from buildrunner.gaps.findings import Gap
from buildrunner.quality.imports import ImportRecord, extract_imports
from buildrunner.quality.python_api import decorator_names, is_empty_module, public_items
from buildrunner.quality.sources import SourceFile, python_mismatch, read_source, syntax_error_text

# Upper case anywhere in a comment; in any case when followed by `:`, `-` or `(` (`# todo: ...`, `# Fixme - ...`),
# so that a comment about a to-do list is not one.
MARKER = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b|\b((?i:todo|fixme|hack))\s*[:(-]")
BROAD = {"Exception", "BaseException"}
ABSTRACT_DECORATORS = {"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod", "overload"}
# Calls that reveal a handler deals with the error rather than dropping it.
HANDLING_NAME = re.compile(r"log|warn|exception|error|print|traceback|report|fail|abort|exit", re.IGNORECASE)
# Network calls and where their timeout goes: (keyword, positional index or None).
TIMEOUT_REQUIRED = {
    **{f"requests.{verb}": ("timeout", None) for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request")},
    "urllib.request.urlopen": ("timeout", 2),
    "http.client.HTTPConnection": ("timeout", 2),
    "http.client.HTTPSConnection": ("timeout", 2),
    "socket.create_connection": ("timeout", 1),
}
HTTPX_CALLS = {f"httpx.{verb}" for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request", "stream", "Client", "AsyncClient")}


@dataclass(frozen=True)
class ClassShape:
    """A class as the stub rule needs it: its name, its bases' names (last part) and the names it defines."""

    name: str
    bases: tuple[str, ...]
    members: frozenset[str]


@dataclass(frozen=True)
class MethodStub:
    """A method that raises NotImplementedError or does nothing: a stub, unless a subclass in the project overrides
    it (then it is a base class's hook, an interface as `abc.abstractmethod` declares one). Known once all files are read."""

    cls: str
    method: str
    gap: Gap


@dataclass
class FileGaps:
    """What one file contributes: its findings, imports, duplicate-detection windows, classes and method stubs."""

    rel: str
    gaps: list[Gap] = field(default_factory=list)
    classes: list[ClassShape] = field(default_factory=list)
    method_stubs: list[MethodStub] = field(default_factory=list)
    imports: list[ImportRecord] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    empty: bool = True
    parsed: bool = False
    usage: FileUsage | None = None


def _is_trivial(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Pass) or (
        isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis
    )


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _raises_not_implemented(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.Raise) or stmt.exc is None:
        return False
    exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _explained(stmt: ast.stmt) -> bool:
    """`raise NotImplementedError("subclasses of SessionBase must provide load()")`: a message saying why, as a base
    class's hook or a deliberate refusal has; "TODO" or "not implemented yet" is no explanation."""
    assert isinstance(stmt, ast.Raise)
    call = stmt.exc
    if not (isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
        return False
    text = call.args[0].value.lower()
    words = re.findall(r"[a-z]+", text)
    placeholder = any(phrase in text for phrase in ("todo", "fixme", "not implemented", "not yet implemented", "implement me", "tbd", "coming soon", "later", "wip"))
    return len(words) >= 3 and not placeholder  # "subclasses of SessionBase must provide a load() method"


def _is_protocol(cls: ast.ClassDef) -> bool:
    for base in cls.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "Protocol":
            return True
    return False


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self, rel: str, aliases: dict[str, str]) -> None:
        self.rel = rel
        self.aliases = aliases
        self.gaps: list[Gap] = []
        self.class_stack: list[ast.ClassDef] = []
        self.classes: list[ClassShape] = []
        self.method_stubs: list[MethodStub] = []

    def add(self, line: int, category: str, severity: str, message: str) -> None:
        self.gaps.append(Gap.make(self.rel, line, category, severity, message))

    def add_stub(self, node: ast.FunctionDef | ast.AsyncFunctionDef, severity: str, message: str) -> None:
        """A stub; a method's waits for the project-wide look at subclasses (`unoverridden_stubs`)."""
        gap = Gap.make(self.rel, node.lineno, "stub", severity, message)
        if self.class_stack:
            self.method_stubs.append(MethodStub(self.class_stack[-1].name, node.name, gap))
        else:
            self.gaps.append(gap)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = tuple(name.rsplit(".", 1)[-1] for name in map(_dotted, node.bases) if name)
        members = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        members |= {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        self.classes.append(ClassShape(node.name, bases, frozenset(members)))
        self.class_stack.append(node)
        self.generic_visit(node)
        self.class_stack.pop()

    def _check_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if decorator_names(node) & ABSTRACT_DECORATORS:
            return
        if self.class_stack and _is_protocol(self.class_stack[-1]):
            return
        body = _without_docstring(node.body)
        name = f"{self.class_stack[-1].name}.{node.name}" if self.class_stack else node.name
        if len(body) == 1 and _raises_not_implemented(body[0]):
            if not (self.class_stack and _explained(body[0])):  # a base class's hook or a refusal says why
                self.add_stub(node, "high", f"{name}() only raises NotImplementedError")
        elif body and all(_is_trivial(stmt) for stmt in body):
            dunder = node.name.startswith("__") and node.name.endswith("__")
            if not (self.class_stack and dunder):  # `__exit__: pass` does nothing on purpose
                self.add_stub(node, "medium", f"{name}() has an empty body")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_function(node)
        saved, self.class_stack = self.class_stack, []
        self.generic_visit(node)
        self.class_stack = saved

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        names = {(_dotted(k) or "").rsplit(".", 1)[-1] for k in kinds if k is not None}
        broad = node.type is None or bool(names & BROAD)
        if broad:
            label = "bare except" if node.type is None else f"except {', '.join(sorted(names & BROAD))}"
            if all(_is_trivial(stmt) or isinstance(stmt, ast.Continue) for stmt in node.body):
                self.add(node.lineno, "swallowed-error", "high", f"{label} ignores the error")
            elif not self._handles(node):
                self.add(node.lineno, "swallowed-error", "medium", f"{label} drops the error without raising or logging it")
        self.generic_visit(node)

    def _handles(self, handler: ast.ExceptHandler) -> bool:
        for sub in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
            if isinstance(sub, ast.Raise):
                return True
            if handler.name and isinstance(sub, ast.Name) and sub.id == handler.name:
                return True
            if isinstance(sub, ast.Call):
                called = _dotted(sub.func) or ""
                if HANDLING_NAME.search(called):
                    return True
        return False

    def visit_Call(self, node: ast.Call) -> None:
        dotted = _dotted(node.func)
        if dotted:
            head, _, rest = dotted.partition(".")
            target = self.aliases.get(head)
            if target:
                qualified = f"{target}.{rest}" if rest else target
                self._check_timeout(node, qualified)
        self.generic_visit(node)

    def _check_timeout(self, node: ast.Call, qualified: str) -> None:
        if any(kw.arg is None for kw in node.keywords):
            return  # **kwargs may carry the timeout
        keywords = {kw.arg: kw.value for kw in node.keywords}
        if qualified in TIMEOUT_REQUIRED:
            key, position = TIMEOUT_REQUIRED[qualified]
            if key in keywords or (position is not None and len(node.args) > position):
                given = keywords.get(key)
                if not (isinstance(given, ast.Constant) and given.value is None):
                    return
            self.add(node.lineno, "network-timeout", "high", f"{qualified}() without a timeout")
        elif qualified in HTTPX_CALLS:
            value = keywords.get("timeout")
            if isinstance(value, ast.Constant) and value.value is None:
                self.add(node.lineno, "network-timeout", "high", f"{qualified}(timeout=None) disables httpx's timeout")


def unoverridden_stubs(results: list[FileGaps]) -> list[Gap]:
    """The method stubs no subclass in the project overrides. One that some subclass (at any depth) overrides is a
    documented hook of a base class (flask's JSONProvider.dumps, requests' BaseAdapter.send), not unfinished work.
    Classes are matched by name: the project's own classes, not what a name may be bound to at run time."""
    children: dict[str, set[str]] = {}
    members: dict[str, set[str]] = {}
    for result in results:
        for shape in result.classes:
            members.setdefault(shape.name, set()).update(shape.members)
            for base in shape.bases:
                children.setdefault(base, set()).add(shape.name)

    def overridden(cls: str, method: str) -> bool:
        seen, pending = {cls}, list(children.get(cls, ()))
        while pending:
            sub = pending.pop()
            if sub in seen:
                continue
            seen.add(sub)
            if method in members.get(sub, ()):
                return True
            pending.extend(children.get(sub, ()))
        return False

    return [stub.gap for result in results for stub in result.method_stubs if not overridden(stub.cls, stub.method)]


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted module path it stands for, from the file's imports."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    found[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


_NETWORK_MODULES = ("requests", "httpx", "urllib", "http.client", "socket")


def _comment_of(line: str) -> tuple[int, str] | None:
    """(column, text) of the comment on one line: a `#` with no quote before it starts one; else ask the tokenizer."""
    hash_at = line.find("#")
    if hash_at < 0:
        return None
    if "'" not in line[:hash_at] and '"' not in line[:hash_at]:
        return hash_at, line[hash_at:]
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.COMMENT:
                return tok.start[1], tok.string
        return None
    except (tokenize.TokenError, SyntaxError):
        pass  # the line ends or continues a multi-line string: take a `#` after its last quote
    after = line.find("#", max(line.rfind('"'), line.rfind("'")))
    return (after, line[after:]) if after >= 0 else None


def _markers(rel: str, text: str) -> list[tuple[int, int, Gap]]:
    """TODO/FIXME/XXX/HACK comments as (line, column, gap), found line by line.

    A `#` inside a multi-line string can look like a comment here; `_outside_strings`
    drops those once the file is parsed.
    """
    if not MARKER.search(text):
        return []
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if "#" not in line or not MARKER.search(line):
            continue
        comment = _comment_of(line)
        match = MARKER.search(comment[1]) if comment else None
        if comment and match:
            severity = "low" if (match.group(1) or match.group(2)).upper() == "TODO" else "medium"
            found.append((number, comment[0], Gap.make(rel, number, "todo", severity, comment[1].lstrip("#").strip()[:120])))
    return found


def _outside_strings(markers: list[tuple[int, int, Gap]], tree: ast.Module) -> list[Gap]:
    """The markers not inside a string literal (only files with markers pay for this walk)."""
    if not markers:
        return []
    spans = [
        ((node.lineno, node.col_offset), (node.end_lineno or node.lineno, node.end_col_offset or 0))
        for node in ast.walk(tree)
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and (node.end_lineno or node.lineno) > node.lineno
    ]
    return [gap for line, col, gap in markers if not any(start <= (line, col) < end for start, end in spans)]


def _api_gaps(rel: str, tree: ast.Module) -> list[Gap]:
    found = []
    for item in public_items(tree):
        if item.kind == "class":
            if not item.has_docstring:
                found.append(Gap.make(rel, item.line, "missing-docstring", "low", f"public class {item.name} has no docstring"))
            continue
        if item.missing_hints:
            found.append(
                Gap.make(rel, item.line, "missing-type-hints", "medium", f"{item.name}() lacks type hints for: {', '.join(item.missing_hints)}")
            )
        if not item.has_docstring:
            found.append(Gap.make(rel, item.line, "missing-docstring", "low", f"public {item.kind} {item.name}() has no docstring"))
    return found


def _parse(text: str, rel: str) -> ast.Module:
    """The module's tree with type comments (vulture reads them); without, if only a type comment is malformed."""
    try:
        return ast.parse(text, filename=rel, type_comments=True)
    except SyntaxError:
        return ast.parse(text, filename=rel)


def inspect_file(job: tuple[SourceFile, int]) -> FileGaps:
    """All per-file checks for one Python file (tests get only the marker and duplicate checks)."""
    src, min_lines = job
    result = FileGaps(rel=src.rel)
    text = read_source(src.path)
    if text is None:
        message = "cannot be read or decoded (Python reads source as UTF-8 unless a coding line says otherwise)"
        result.gaps.append(Gap.make(src.rel, 1, "syntax-error", "low" if src.is_test else "high", message))
        return result
    markers = _markers(src.rel, text)
    result.windows = windows(text, min_lines)
    try:
        return _inspect_parsed(src, text, markers, result)
    except (RecursionError, MemoryError):
        result.gaps = [Gap.make(src.rel, 1, "not-analysed", "low", "nested too deeply for the analysis (generated code?)"), *(g for _, _, g in markers)]
        result.usage = None
        return result


def _inspect_parsed(src: SourceFile, text: str, markers: list[tuple[int, int, Gap]], result: FileGaps) -> FileGaps:
    try:
        tree = _parse(text, src.rel)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        if python_mismatch(src.root):  # new syntax for the project's Python, not broken code
            result.gaps.append(Gap.make(src.rel, line, "not-analysed", "low", syntax_error_text(src, exc)))
        else:
            severity = "low" if src.is_test else "high"
            result.gaps.append(Gap.make(src.rel, line, "syntax-error", severity, f"cannot be parsed: {getattr(exc, 'msg', exc)}"))
        result.gaps.extend(gap for _, _, gap in markers)
        return result
    result.parsed = True
    result.gaps.extend(_outside_strings(markers, tree))
    result.usage = scan_file(text, src.rel, tree)
    result.imports = extract_imports(tree, src)
    result.empty = is_empty_module(tree)
    if src.is_test:
        return result
    aliases = _aliases(tree) if any(m.split(".")[0] in text for m in _NETWORK_MODULES) else {}
    visitor = _Visitor(src.rel, aliases)
    visitor.visit(tree)
    result.gaps.extend(visitor.gaps)
    result.classes, result.method_stubs = visitor.classes, visitor.method_stubs
    result.gaps.extend(_api_gaps(src.rel, tree))
    return result
