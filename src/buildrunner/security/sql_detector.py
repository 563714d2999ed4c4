"""SQL-injection detection (the spec's `SQLInjectionDetector`): Python via `ast`, JS/TS via tree-sitter.

A cheap byte-level prefilter skips files that contain no SQL-looking text and no
SQL sink, so only candidates are parsed. What the analyses give up on (a file that
does not parse, code nested too deeply) comes back as a "not analysed" note.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from buildrunner.errors import ConfigError
from buildrunner.quality.sources import OTHER_LANGUAGES
from buildrunner.security.engine import FileEngine, default_project, engine_fields, run_scan
from buildrunner.security.masking import mask_secrets
from buildrunner.security.report import NOT_ANALYSED, ScanReport, SkippedFile
from buildrunner.security.sql_javascript import EXTENSIONS as JS_EXTENSIONS
from buildrunner.security.sql_javascript import MARKUP_EXTENSIONS, JavaScriptAnalysis, analyse_javascript, analyse_markup
from buildrunner.security.sql_python import PythonAnalysis, analyse_python
from buildrunner.security.sql_rules import sql_rules
from buildrunner.security.sql_shape import RawSQLFinding
from buildrunner.security.whitelist import inline_allowed

if TYPE_CHECKING:
    from buildrunner.project import Project

PYTHON_EXTENSIONS = {".py": "python", ".pyw": "python", ".pyi": "python"}
MARKUP = "markup"  # a component or page file: its <script> blocks are read (`analyse_markup`)
LANGUAGES = {**PYTHON_EXTENSIONS, **JS_EXTENSIONS, **dict.fromkeys(MARKUP_EXTENSIONS, MARKUP)}
# Source files that can hold SQL built from input but that the check has no parser for: said, never passed over silently.
UNREAD_LANGUAGES = {suffix: name for suffix, name in {**OTHER_LANGUAGES, ".ipynb": "Jupyter notebooks"}.items() if suffix not in LANGUAGES}
READ = "it reads Python, JavaScript and TypeScript, and the scripts of Vue, Svelte and HTML files"
# Text that starts like a SQL statement, right after a string's opening quote.
SQL_LITERAL = (
    rb"(?:[\"'`][ \t(]*|\"\"\"\s*|'''\s*)(?:select\s|insert\s+(?:or\s+\w+\s+)?into\s|replace\s+into\s|delete\s+from\s|"
    rb"update\s+\S+\s+set\s|with\s+(?:recursive\s+)?\w+\s+as\s*\(|merge\s+into\s|"
    rb"(?:create|drop|alter|truncate)\s+(?:temp\w*\s+)?(?:table|view|index|database|schema)\s)"
)
_LINE_REFERENCE = re.compile(r"\bline \d+")
# `#!/usr/bin/env python3`, `#!/usr/bin/python3.11 -u`, `#!/usr/bin/env -S node --no-warnings`: the interpreter's name
_SHEBANG = re.compile(rb"#!\s*\S*?(?:/env(?:\s+-\S+)*\s+)?(?:\S*/)?(python|node|deno|bun)[\d.]*(?:\s|$)")
SHEBANG_LANGUAGES = {"python": "python", "node": "javascript", "deno": "typescript", "bun": "typescript"}
SHEBANG_BYTES = 256
CODE_WIDTH = 200
# The analysis holds a file's whole syntax tree: CPython's takes about 350 MB per MB of dense
# code. Bigger files (generated code, in practice) get a note instead of a memory spike.
ANALYSIS_MAX_BYTES = 1_000_000
# Dense code costs more than its size says: `q=q+q+...` holds a syntax node every byte or two, and
# CPython's tree takes well over a KB per token (a 0.9 MB file of it: 460 MB, 8 s to parse). So the
# analysis also has a token budget, checked at C speed before parsing: within it the densest code is analysed
# in about 250 MB and a few seconds of CPU. Ordinary code costs a fifth of that per token (mypy's checker.py,
# 460 KB and 106,000 tokens: 0.6 s, 22 MB over the interpreter's own) and reaches the budget near 1 MB.
ANALYSIS_MAX_TOKENS = 250_000
_WORDS_AND_SPACE = bytes(c for c in range(256) if chr(c).isalnum() or chr(c) in "_ \t\r\n\f\v" or c >= 128)


# Separators JavaScript (and tree-sitter) accept that `bytes.split` does not: no-break and other Unicode spaces,
# the line and paragraph separators, the byte-order mark. Each may stand between two tokens.
_UNICODE_SEPARATORS = tuple(chr(c).encode() for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF))
# Each byte as its class (z: a zero, d: another digit, a: a letter, `_` or non-ASCII, space: anything else), to count
# at C speed where a number may end with the next token run into it: `1if x else y` and `09` are two tokens each.
_NUMBER_CLASSES = bytes(
    ord("z") if c == ord("0") else ord("d") if ord("1") <= c <= ord("9") else ord("a") if chr(c).isalpha() or c == ord("_") or c >= 128 else ord(" ")
    for c in range(256)
)


def estimated_tokens(data: bytes) -> int:
    """At least the tokens `data` holds, counted at C speed: its whitespace-separated chunks and twice its punctuation.

    A chunk of k words has at least k - 1 marks or separators between them, and every operator is one
    mark or more, so keyword operators (`not not not x`), long unbroken runs (`a.b.c`), words split
    by Unicode spaces and numbers run into names (`1if`) cannot slip under it.
    """
    unicode_gaps = sum(data.count(separator) for separator in _UNICODE_SEPARATORS)
    classes = data.translate(_NUMBER_CLASSES)
    joined = classes.count(b"da") + classes.count(b"za") + classes.count(b"zd")
    return len(data.split()) + 2 * len(data.translate(None, _WORDS_AND_SPACE)) + 2 * unicode_gaps + joined


@dataclass(frozen=True)
class SQLFinding:
    """One SQL-injection risk: where, how bad, what, and the parameterised fix.

    `severity` is high when untrusted input (request data, argv, environment,
    `input()`) provably reaches the sink, medium when only a function parameter or a
    value of unknown origin does (or SQL is built from one with no sink in sight).
    """

    file_path: str
    line_number: int
    severity: str
    description: str
    recommendation: str
    code: str = ""
    rule_id: str = "sql_injection"
    fingerprint: str = ""


def prefilter_regex() -> bytes:
    """What a file must contain to hold a finding, from `sql_rules.toml`: a call of a sink that
    needs no import, the name of a module that makes other sinks certain, or a SQL-shaped literal.
    Files holding none of them are not parsed."""
    methods: set[str] = set()
    functions: set[str] = set()
    modules: set[str] = set()
    for rules in sql_rules().values():
        for sink in rules.sinks:
            if sink.modules:
                modules.update(m.lstrip("@").split("/")[0] for m in sink.modules)
            else:
                methods.update(sink.methods)
                functions.update(sink.functions)

    def words(names: set[str]) -> str:
        return "|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n)))

    parts = [rf"\.(?:{words(methods)})\s*\(".encode(), rf"\b(?:{words(modules)})\b".encode(), SQL_LITERAL]
    if functions:
        parts.insert(1, rf"(?:^|[^.\w])(?:{words(functions)})\s*\(".encode())
    return b"(?i)" + b"|".join(parts)


def language_of(path: str, head: bytes | None = None) -> str | None:
    """The language SQL detection parses a file as, from its extension, or for a file without one from its `#!`
    line (`manage`, `bin/deploy`: scripts that were passed over), read from `head` (the file's first bytes) or
    the file; None: not checked."""
    suffix = os.path.splitext(path)[1]
    if suffix:
        return LANGUAGES.get(suffix.lower())
    if head is None:
        try:  # non-blocking, and regular files only: a FIFO named `pipe` must not hang the scan
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:  # not a file (a blob's name, a folder): nothing to go by
            return None
        try:
            head = os.read(fd, SHEBANG_BYTES) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        except OSError:
            return None
        finally:
            os.close(fd)
    found = _SHEBANG.match(head)
    return SHEBANG_LANGUAGES.get(found.group(1).decode()) if found else None


@dataclass
class _SQLEngine(FileEngine):
    """The picklable part of the detector (what a worker process needs)."""

    @cached_property
    def prefilter(self) -> Any:
        import re2  # on the first file checked: a pre-commit with nothing staged imports this module and checks none

        return re2.compile(prefilter_regex())

    def wants(self, path: str) -> bool:
        return language_of(path) is not None

    def passed_over(self, path: str) -> SkippedFile | None:
        language = UNREAD_LANGUAGES.get(os.path.splitext(path)[1].lower())
        return None if language is None else SkippedFile(path, f"SQL injection not checked: the SQL check does not read {language} ({READ})", NOT_ANALYSED)

    def check(self, data: bytes, display_path: str) -> ScanReport:
        return self.check_bytes(data, display_path, language_of(display_path, data[:SHEBANG_BYTES]) or "python")

    def check_bytes(self, data: bytes, display_path: str, language: str) -> ScanReport:
        if not self.prefilter.search(data):
            return ScanReport()
        if len(data) > ANALYSIS_MAX_BYTES:
            reason = f"not analysed: larger than {ANALYSIS_MAX_BYTES / 1e6:g} MB for the SQL analysis (secrets are still scanned)"
            return ScanReport(skipped=[SkippedFile(display_path, reason, NOT_ANALYSED)])
        if (tokens := estimated_tokens(data)) > ANALYSIS_MAX_TOKENS:
            reason = f"not analysed: about {tokens:,} tokens, over the SQL analysis's budget of {ANALYSIS_MAX_TOKENS:,} (secrets are still scanned)"
            return ScanReport(skipped=[SkippedFile(display_path, reason, NOT_ANALYSED)])
        result: PythonAnalysis | JavaScriptAnalysis
        try:
            if language == "python":
                result = analyse_python(data)
            elif language == MARKUP:
                result = analyse_markup(data)
            else:
                result = analyse_javascript(data, language)
        except SyntaxError as exc:
            where = f" at line {exc.lineno}" if exc.lineno else ""
            return ScanReport(skipped=[SkippedFile(display_path, f"not analysed: not parsable as {language} (SyntaxError{where})", NOT_ANALYSED)])
        except (ValueError, RecursionError, MemoryError) as exc:
            reason = "nested too deeply for the parser" if isinstance(exc, (RecursionError, MemoryError)) else f"not parsable as {language} ({type(exc).__name__})"
            return ScanReport(skipped=[SkippedFile(display_path, f"not analysed: {reason}", NOT_ANALYSED)])
        notes = [SkippedFile(display_path, note, NOT_ANALYSED) for note in result.notes]
        return ScanReport(matches=self._finish(result.findings, data, display_path), skipped=notes)

    def _finish(self, raw: list[RawSQLFinding], data: bytes, display_path: str) -> list[SQLFinding]:
        lines = data.split(b"\n")
        out = []
        for f in raw:
            line = lines[f.line - 1] if 0 < f.line <= len(lines) else b""
            if any(inline_allowed(lines[n - 1], sql=True) for n in (f.line, *f.allow_lines) if 0 < n <= len(lines)):
                continue
            code = mask_secrets(line.decode("utf-8", "replace").strip())[:CODE_WIDTH]
            # the description's "(built at line N)" moves with the lines above it; the fingerprint must not
            stable = _LINE_REFERENCE.sub("line", f.description)
            fp = _fingerprint(display_path, stable, code)
            if self.whitelist.allows(display_path, f.line, fp):
                continue
            if stable != f.description and self.whitelist.allows(display_path, f.line, _fingerprint(display_path, f.description, code)):
                continue  # an entry written before fingerprints left out that line number still allows its finding
            out.append(SQLFinding(display_path, f.line, f.severity, f.description, f.recommendation, code, fingerprint=fp))
        return out


def _fingerprint(display_path: str, description: str, code: str) -> str:
    return hashlib.sha256(f"{display_path}\0{description}\0{code}".encode("utf-8", "surrogateescape")).hexdigest()[:16]


class SQLInjectionDetector:
    """Find SQL built from non-constant values that reaches (or is ready for) a database call."""

    def __init__(self, project: "Project | None" = None) -> None:
        self.project = default_project(project)
        self.last_report = ScanReport()

    @cached_property
    def engine(self) -> _SQLEngine:
        return _SQLEngine(**engine_fields(self.project))

    def check_code(self, code: str, language: str = "python", file_path: str = "<code>") -> list[SQLFinding]:
        """Findings in source text; `language` is python, javascript, typescript or tsx.

        What the analysis could not follow is in `last_report.skipped` ("not analysed: ...").
        """
        if language not in {"python", "javascript", "typescript", "tsx"}:
            raise ConfigError(f"language {language!r} is not supported", hint="use python, javascript, typescript or tsx")
        self.last_report = self.engine.check_bytes(code.encode("utf-8", "surrogatepass"), file_path, language)
        return self.last_report.matches

    def check_bytes(self, data: bytes, file_path: str) -> list[SQLFinding]:
        """Findings in raw file content (e.g. a staged blob); the language comes from the name."""
        self.last_report = self.engine.check_content(data, file_path)
        return self.last_report.matches

    def check_file(self, path: str | Path) -> list[SQLFinding]:
        """Findings in one Python or JS/TS file (other files yield none)."""
        self.last_report = self.scan([path])
        return self.last_report.matches

    def check_directory(self, path: str | Path | None = None, recursive: bool = True) -> list[SQLFinding]:
        """Findings in every non-ignored Python and JS/TS file under `path` (default: the project root)."""
        self.last_report = self.scan([path or self.project.paths.root], recursive=recursive)
        return self.last_report.matches

    def scan(self, paths: Iterable[str | Path], recursive: bool = True) -> ScanReport:
        """Check Python and JS/TS files among `paths` (folders walked, honouring `.gitignore`)."""
        self.last_report = run_scan(self.engine, self.project, paths, recursive)
        return self.last_report
