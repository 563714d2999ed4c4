"""The gap analysis: what is unfinished or risky in a project, each finding with file:line and why.

Per-file checks (vulture's scan included) run in worker processes; project-wide checks (untested modules, import cycles, undeclared and outdated
dependencies, duplicated blocks, hardcoded credentials) run on the collected results.
Same input, same output: findings are sorted by severity, path, line, category.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from buildrunner.gaps.checks import FileGaps, inspect_file, unoverridden_stubs
from buildrunner.gaps.dead_code import FileUsage, find_dead_code
from buildrunner.gaps.dependencies import Declared, declared_dependencies, outdated_dependencies, providers, resolve_import
from buildrunner.gaps.duplicates import find_duplicates
from buildrunner.gaps.findings import SEVERITIES, Gap
from buildrunner.project import Project
from buildrunner.quality.imports import describe_cycle, find_cycles, is_script, needs_test, tested_modules
from buildrunner.quality.security_inputs import NOT_SCANNED, SecurityFinding, security_or_none
from buildrunner.quality.sources import LanguageCount, SourceSet, parallel_map, project_sources

# Standard-library modules newer than the Python BuildRunner may run on (3.10+): a project guarding
# `import annotationlib` behind a version check declares no dependency for it.
NEWER_STDLIB = frozenset({"tomllib", "annotationlib", "compression", "_interpreters", "_interpqueues", "_interpchannels"})

@dataclass
class GapReport:
    """All findings for one project, sorted, with notes on what could not be checked."""

    root: str
    gaps: list[Gap]
    notes: list[str] = field(default_factory=list)
    python_files: int = 0
    seconds: float = 0.0
    not_analysed: list[LanguageCount] = field(default_factory=list)  # other languages' files: counted, not checked (as the gate says)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        return {sev: sum(1 for g in self.gaps if g.severity == sev) for sev in SEVERITIES}

    def only(self, severity: str) -> GapReport:
        """Only findings of `severity` (the CLI's `--severity` filter)."""
        return GapReport(self.root, [g for g in self.gaps if g.severity == severity], self.notes, self.python_files, self.seconds, self.not_analysed)


def security_gap(finding: SecurityFinding) -> Gap:
    """A scanner finding as a gap: every one of them, as the quality gate counts them (the column keeps two on one line apart)."""
    if finding.kind == "secret":
        return Gap.make(finding.path, finding.line, "hardcoded-credential", finding.severity, f"{finding.title}: {finding.detail} (column {finding.column})")
    if finding.kind == NOT_SCANNED:
        return Gap.make(finding.path, finding.line, "not-scanned", finding.severity, finding.title)
    return Gap.make(finding.path, finding.line, "sql-injection", finding.severity, finding.title)


class GapAnalyzer:
    """Finds gaps in a project's code; `analyze()` returns a `GapReport`."""

    def __init__(self, project: Project | None = None) -> None:
        self.project = project or Project()
        self.settings = self.project.config.quality

    def analyze(self, *, progress: Callable[[int, int], None] | None = None) -> GapReport:
        """Run every check; findings sorted by severity, path, line."""
        started = time.monotonic()
        sources = project_sources(self.project)
        root = sources.root
        notes: list[str] = []
        jobs = [(src, self.settings.duplicate_min_lines) for src in sources.python]
        results, (security,) = parallel_map(inspect_file, jobs, progress, side_jobs=[(security_or_none, (str(root),))])
        gaps: list[Gap] = [g for r in results for g in r.gaps]
        gaps += unoverridden_stubs(results)
        gaps += [Gap.make(rel, 1, "not-analysed", "low", f"folder not analysed: cannot be read ({why})") for rel, why in sources.unreadable.items()]
        by_rel = {r.rel: r for r in results}
        gaps += self._untested(sources, by_rel)
        gaps += self._cycles(sources, by_rel)
        gaps += self._dead_code(sources, [r.usage for r in results if r.usage is not None])
        gaps += self._duplicates(by_rel)
        if security is None:
            notes.append("hardcoded credentials and SQL injection not checked: the security scanner is not available in this installation")
        else:
            gaps += [security_gap(f) for f in security]
        gaps += self._dependencies(sources, by_rel, notes)
        if note := sources.not_analysed_note():
            notes.append(note)
        return GapReport(
            root=str(root),
            gaps=sorted(set(gaps)),
            notes=notes,
            python_files=len(sources.python),
            seconds=round(time.monotonic() - started, 2),
            not_analysed=sorted(sources.other.values(), key=lambda c: c.language),
        )

    # -- project-wide checks ------------------------------------------------------------------

    def _untested(self, sources: SourceSet, by_rel: dict[str, FileGaps]) -> list[Gap]:
        imports = {rel: r.imports for rel, r in by_rel.items()}
        tested = tested_modules(imports, sources.python)
        return [
            Gap.make(s.rel, 1, "untested-module", "medium", f"no test imports {s.module}")
            for s in sources.python
            if by_rel[s.rel].parsed and needs_test(s, by_rel[s.rel].empty) and s.module not in tested
        ]

    def _cycles(self, sources: SourceSet, by_rel: dict[str, FileGaps]) -> list[Gap]:
        cycles = find_cycles({rel: r.imports for rel, r in by_rel.items()}, sources.python)
        return [
            Gap.make(c.path, c.line, "import-cycle", "medium", "import cycle: " + describe_cycle(c))
            for c in cycles
        ]

    def _dead_code(self, sources: SourceSet, usages: list[FileUsage]) -> list[Gap]:
        rel_of = {s.rel: s for s in sources.python}
        found = []
        for dead in find_dead_code(usages, self.settings.dead_code_min_confidence):
            src = rel_of.get(dead.filename)
            if src is None or src.is_test:  # tests keep code alive; their own helpers are not the product
                continue
            severity = "medium" if dead.confidence >= 100 else "low"
            found.append(Gap.make(src.rel, dead.line, "dead-code", severity, f"{dead.message} ({dead.confidence}% confidence)"))
        return found

    def _duplicates(self, by_rel: dict[str, FileGaps]) -> list[Gap]:
        return [
            Gap.make(d.path, d.first, "duplicate-code", "low", f"{d.lines} lines duplicated at {d.other_path}:{d.other_line}")
            for d in find_duplicates({rel: r.windows for rel, r in by_rel.items()})
        ]

    def _dependencies(self, sources: SourceSet, by_rel: dict[str, FileGaps], notes: list[str]) -> list[Gap]:
        root = sources.root
        declared = declared_dependencies(root)
        if not declared.manifests:
            notes.append("no dependency manifest (pyproject.toml or requirements*.txt): dependencies not checked")
            return []
        found = self._undeclared(sources, by_rel, declared, providers(root))
        if not self.settings.index_url:
            notes.append("outdated dependencies not checked: quality.index_url is empty")
            return found
        outdated, note = outdated_dependencies(declared, self.settings.index_url, self.settings.index_timeout, self.project.paths.root)
        if note:
            notes.append(note)
        found += [
            Gap.make(o.source, o.line, "outdated-dependency", "low", f"outdated dependency: {o.name} {o.current} → {o.latest}")
            for o in outdated
        ]
        return found

    def _undeclared(
        self,
        sources: SourceSet,
        by_rel: dict[str, FileGaps],
        declared: Declared,
        mapping: dict[str, list[str]],
    ) -> list[Gap]:
        local = sources.local_top_names
        stdlib = set(sys.stdlib_module_names) | NEWER_STDLIB | {"__future__"}
        found = []
        for src in sources.python:
            seen: set[str] = set()
            build_script = src.rel.rsplit("/", 1)[-1] == "setup.py"  # runs at build time: [build-system].requires covers it
            for record in by_rel[src.rel].imports:
                top = record.base.split(".")[0]
                if record.level or record.type_only or not top or top in stdlib or top in local:
                    continue
                names = [record.base, *(f"{record.base}.{name}" for name in record.names)]
                subject, dists = resolve_import(record.base, mapping)
                if subject in seen or declared.covers_import(names, mapping, build=build_script):
                    continue
                seen.add(subject)  # one finding per package and file
                # Unknown to every environment looked at, its distribution may be declared under another name: medium.
                shipped = not (src.is_test or is_script(src.rel))  # tests, docs, examples are not the package
                severity = "high" if shipped and not record.guarded and dists else "medium"
                provider = f"provided by {', '.join(sorted(set(dists)))}" if dists else "not installed here, so its distribution is unknown"
                found.append(
                    Gap.make(
                        src.rel,
                        record.line,
                        "undeclared-dependency",
                        severity,
                        f"imports {subject} ({provider}) but {', '.join(declared.manifests)} does not declare it",
                    )
                )
        return found
