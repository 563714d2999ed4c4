"""Allowlisting: the whitelist file and inline allow comments.

`.buildrunner/security/whitelist.txt`, one entry a line (`#` comments):
  - a path or glob relative to the project root (gitignore syntax): `tests/fixtures/**`
  - `path:line`: one line of one file: `src/settings.py:12`
  - a finding fingerprint (16 hex digits, as shown by `--format json`): `3f9c0a17b2d45e88`
Entries are relative to the project root, so the file means the same from any folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from buildrunner.security.files import IgnoreSpec

# A marker is a whole word: "nosecure" in a minified bundle, a table named nosecure_sessions or a link to
# docs/br:allowlist.md allow nothing (a line holding one of them was passed unread, and in minified code that is the
# file); comment punctuation around it is fine (`//br:allow`, `--nosec`, `<!--br:allow-->`, `# nosec:B608`).
# bandit's `nosec` speaks for bandit's checks (SQL built from strings is one, B608), never for a secret: a `# nosec B501`
# on a line of `verify=False` hid the GitHub token beside it.
_MARKERS = rb"br:allow|pragma:\s*allowlist[ -]secret|gitleaks:allow"
INLINE_ALLOW = re.compile(rb"(?<![\w])(?:" + _MARKERS + rb")(?![\w])")
SQL_INLINE_ALLOW = re.compile(rb"(?<![\w])(?:" + _MARKERS + rb"|nosec)(?![\w])")
_FINGERPRINT = re.compile(r"^(?:fingerprint:)?([0-9a-f]{16})$")
_FILE_LINE = re.compile(r"^(.+):(\d+)$")
_TRAILING_COMMENT = re.compile(r"\s+#.*$")


@dataclass
class Whitelist:
    """Parsed whitelist entries; `allows(...)` is the one question the scanners ask."""

    globs: list[str] = field(default_factory=list)
    lines: set[tuple[str, int]] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)
    _spec: IgnoreSpec | None = field(default=None, init=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> "Whitelist":
        wl = cls()
        for raw in text.splitlines():
            entry = _TRAILING_COMMENT.sub("", raw).strip()  # `sample.py:1  # the docs' key` (its comment disabled it)
            if not entry or entry.startswith("#"):
                continue
            if m := _FINGERPRINT.match(entry):
                wl.fingerprints.add(m.group(1))
            elif m := _FILE_LINE.match(entry):
                wl.lines.add((m.group(1).removeprefix("./"), int(m.group(2))))
            else:
                wl.globs.append(entry.removeprefix("./"))
        return wl

    @classmethod
    def load(cls, path: Path) -> "Whitelist":
        try:
            return cls.parse(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return cls()

    def path_allowed(self, rel_path: str) -> bool:
        """Whole file allowlisted (paths relative to the project root)."""
        if not self.globs:
            return False
        if self._spec is None:
            self._spec = IgnoreSpec(self.globs)
        return self._spec.match_file(rel_path)

    def allows(self, rel_path: str, line: int, fingerprint: str | None = None) -> bool:
        return (
            (fingerprint is not None and fingerprint in self.fingerprints)
            or (rel_path, line) in self.lines
            or self.path_allowed(rel_path)
        )


def inline_allowed(line: bytes, *, sql: bool = False) -> bool:
    """`br:allow`, `pragma: allowlist secret`, `gitleaks:allow` on the line (for an SQL finding, bandit's `nosec` too)."""
    return (SQL_INLINE_ALLOW if sql else INLINE_ALLOW).search(line) is not None
