"""Secret scanning of content, files and folders (the spec's `SecretScanner`).

Small scans run in-process so they start fast; folders holding at least
`security.parallel_min_mb` of files are split across one process per core.
A `SecretMatch` carries only masked text: the secret itself never leaves here.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from buildrunner.quality.sources import LANGUAGES
from buildrunner.security.engine import FileEngine, default_project, engine_fields, run_scan
from buildrunner.security.masking import mask_spans, mask_value
from buildrunner.security.report import ScanReport
from buildrunner.security.rules import Filters, Hit, Rule, RuleSet, filters_for, rules_for, ruleset
from buildrunner.security.whitelist import inline_allowed

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.security.settings import SecuritySettings

CONTEXT_RADIUS = 60
MAX_SECRET_WINDOW = 4096  # how far outside the context window copies of secrets are looked for
MAX_FINDINGS_PER_FILE = 1000
# Source files in which a value not in quotes is an expression, never a literal (`cancelToken: mergedConfig,`,
# `password = get_password()`): a catch-all rule's unquoted match in their code is not a secret; in their comments
# and docstrings it is text, and counts. Shell and SQL are not among them (`PASSWORD=s3cret` in a script is a
# literal), nor are config files (.env, YAML, properties).
CODE_SUFFIXES = frozenset(suffix for suffix in LANGUAGES if suffix not in {".sh", ".sql"})
COMMENT_MARKERS = (b"#", b"//", b"/*", b"<!--")
TRIPLE_QUOTES = re.compile(rb'"""|\'\'\'')


def _expression(data: bytes, hit: Hit, triple_quotes: list[int]) -> bool:
    """A catch-all match in source code outside quotes, comments and docstrings (`triple_quotes`: where the file's
    triple quotes start): a name or a call, not a value."""
    if data[hit.start - 1 : hit.start] in (b"'", b'"', b"`"):
        return False
    line_start = data.rfind(b"\n", 0, hit.start) + 1
    before = data[line_start : hit.start]
    if any(marker in before for marker in COMMENT_MARKERS) or before.lstrip().startswith(b"*"):
        return False
    return bisect.bisect_left(triple_quotes, hit.start) % 2 == 0  # not inside a docstring


@dataclass(frozen=True)
class SecretMatch:
    """One exposed secret. `masked_value` and `context` are masked; the value itself is never kept."""

    file_path: str
    line_number: int
    secret_type: str
    masked_value: str
    context: str
    column: int = 1
    end_line: int = 0
    severity: str = "high"
    description: str = ""
    fingerprint: str = ""


def fingerprint(rel_path: str, rule_id: str, secret: str) -> str:
    """Stable id of one finding for the whitelist: survives line moves, not edits of the value."""
    return hashlib.sha256(f"{rel_path}\0{rule_id}\0{secret}".encode("utf-8", "replace")).hexdigest()[:16]


def _line_bounds(data: bytes, pos: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return start, len(data) if end < 0 else end


def _copies_finder(hits: list[Hit]) -> Any:
    """An Aho-Corasick automaton over the file's secrets (as latin-1 views of their bytes)."""
    import ahocorasick  # only once a file holds secrets: a pre-commit with nothing staged imports this module, scans nothing

    automaton = ahocorasick.Automaton()
    for secret in {h.secret for h in hits if len(h.secret) >= 4}:
        raw = secret.encode("utf-8", "replace").decode("latin-1")
        automaton.add_word(raw, (len(raw), secret))
    automaton.make_automaton()
    return automaton


def _context(data: bytes, hits: list[Hit], starts: list[int], index: int, bounds: tuple[int, int], copies: Any) -> str:
    """The hit's line, clipped around it, with every secret in view masked.

    Copies of any of the file's secrets near the window are masked as well, and the
    window is widened rather than cut through a secret, so no part of one shows.
    """
    line_start, line_end = bounds
    hit = hits[index]
    ws = max(line_start, hit.start - CONTEXT_RADIUS)
    we = min(line_end, hit.end + CONTEXT_RADIUS)
    near_lo = max(line_start, ws - MAX_SECRET_WINDOW)
    near_hi = min(line_end, we + MAX_SECRET_WINDOW)
    first = max(bisect.bisect_right(starts, near_lo) - 1, 0)
    last = bisect.bisect_left(starts, near_hi)
    spans = [(h.start, h.end, h.masked) for h in hits[first:last] if h.end > near_lo]
    if copies is not None and len(copies):
        for end, (length, secret) in copies.iter(data[near_lo:near_hi].decode("latin-1")):
            spans.append((near_lo + end - length + 1, near_lo + end + 1, mask_value(secret)))
    for s, e, _ in spans:  # widen the window over any secret its edges would cut
        if s < ws < e:
            ws = max(s, line_start)
        if s < we < e:
            we = min(e, line_end)
    view = [(max(s, ws) - ws, min(e, we) - ws, v) for s, e, v in spans if s < we and e > ws]
    text = mask_spans(data[ws:we], view).rstrip("\r").strip()
    return ("..." if ws > line_start else "") + text + ("..." if we < line_end else "")


@dataclass
class _Engine(FileEngine):
    """The picklable part of a scanner: what a worker process needs to scan files."""

    rules: tuple[Rule, ...] = ()
    filters: Filters | None = None

    @cached_property
    def ruleset(self) -> RuleSet:
        return ruleset(self.rules, self.filters)

    def check(self, data: bytes, display_path: str) -> ScanReport:
        return ScanReport(matches=self.scan_bytes(data, display_path))

    def scan_bytes(self, data: bytes, display_path: str) -> list[SecretMatch]:
        hits = self.ruleset.find(data, display_path)
        if not hits:
            return []
        if Path(display_path).suffix.lower() in CODE_SUFFIXES:
            triple_quotes = [m.start() for m in TRIPLE_QUOTES.finditer(data)] if any(h.rule.generic for h in hits) else []
            hits = [h for h in hits if not (h.rule.generic and _expression(data, h, triple_quotes))]
            if not hits:
                return []
        starts = [h.start for h in hits]
        copies = _copies_finder(hits)
        out: list[SecretMatch] = []
        line, pos = 1, 0
        line_start, line_end, line_allowed = 0, -1, False
        for index, hit in enumerate(hits):
            line += data.count(b"\n", pos, hit.start)
            pos = hit.start
            if hit.start > line_end:  # a new line: find its bounds once (a 50 MB line may hold many hits)
                line_start, line_end = _line_bounds(data, hit.start)
                line_allowed = inline_allowed(data[line_start:line_end])
            end_line = line + data.count(b"\n", hit.start, hit.end)
            if line_allowed:
                continue
            if end_line != line and inline_allowed(data[slice(*_line_bounds(data, hit.end))]):
                continue
            fp = fingerprint(display_path, hit.rule.id, hit.secret)
            if self.whitelist.allows(display_path, line, fp):
                continue
            out.append(
                SecretMatch(
                    file_path=display_path,
                    line_number=line,
                    secret_type=hit.rule.id,
                    masked_value=hit.masked,
                    context=_context(data, hits, starts, index, (line_start, line_end), copies),
                    column=hit.start - line_start + 1,
                    end_line=end_line,
                    severity=hit.rule.severity,
                    description=hit.rule.description,
                    fingerprint=fp,
                )
            )
            if len(out) >= MAX_FINDINGS_PER_FILE:
                break
        return out


class SecretScanner:
    """Find exposed secrets with the shipped rules plus `security.rules` from the config."""

    def __init__(self, project: "Project | None" = None) -> None:
        self.project = default_project(project)
        self.last_report = ScanReport()

    @cached_property
    def settings(self) -> "SecuritySettings":
        return self.project.config.security

    @cached_property
    def engine(self) -> _Engine:
        return _Engine(rules=tuple(rules_for(self.settings)), filters=filters_for(self.settings), **engine_fields(self.project))

    def scan_content(self, content: str, file_path: str = "<content>") -> list[SecretMatch]:
        """Secrets in a string (`file_path` names it in the results and for the whitelist)."""
        return self.scan_bytes(content.encode("utf-8", "surrogatepass"), file_path)

    def scan_bytes(self, data: bytes, file_path: str = "<content>") -> list[SecretMatch]:
        """Secrets in raw bytes, e.g. a staged blob; invalid UTF-8 is fine."""
        return self.engine.check_named(data, file_path)

    def scan_file(self, path: str | Path) -> list[SecretMatch]:
        """Secrets in one file; a binary or oversized file yields none (see `last_report.skipped`)."""
        self.last_report = self.scan([path])
        return self.last_report.matches

    def scan_directory(self, path: str | Path | None = None, recursive: bool = True) -> list[SecretMatch]:
        """Secrets in every non-ignored text file under `path` (default: the project root)."""
        self.last_report = self.scan([path or self.project.paths.root], recursive=recursive)
        return self.last_report.matches

    def scan(self, paths: Iterable[str | Path], recursive: bool = True) -> ScanReport:
        """Scan files and folders; folders honour `.gitignore`, files named explicitly are always read."""
        self.last_report = run_scan(self.engine, self.project, paths, recursive)
        return self.last_report
