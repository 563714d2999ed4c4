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
INLINE_ALLOW = re.compile(rb"(?<![\w])(?:br:allow|pragma:\s*allowlist[ -]secret|gitleaks:allow|nosec)(?![\w])")
_FINGERPRINT = re.compile(r"^(?:fingerprint:)?([0-9a-f]{16})$")
_FILE_LINE = re.compile(r"^(.+):(\d+)$")


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
            entry = raw.strip()
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


def inline_allowed(line: bytes) -> bool:
    """`br:allow`, `pragma: allowlist secret`, `gitleaks:allow` (or `nosec`) on the line."""
    return INLINE_ALLOW.search(line) is not None
