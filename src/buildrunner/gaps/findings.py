"""A gap: one thing unfinished or risky in the code, where it is, and why it matters.

The reasons live here, in one table; the severity rules are documented in the
command's help (`br gaps analyze --help`), next to where people read them.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("high", "medium", "low")

# category -> why findings of it matter. The severity rules are in `br gaps analyze --help`.
CATEGORIES: dict[str, str] = {
    "hardcoded-credential": "anyone with the code has the credential; rotate it and load it from the environment",
    "sql-injection": "input can rewrite the query to read or destroy data; pass values as query parameters",
    "stub": "the code looks finished but does nothing or raises when called",
    "swallowed-error": "failures disappear silently, so bugs surface far from their cause",
    "network-timeout": "a call without a timeout can hang the program forever on a stalled server",
    "undeclared-dependency": "a clean install lacks the package, so the import fails for users",
    "syntax-error": "the file cannot be imported at all",
    "import-cycle": "modules that import each other at import time can fail with a partially initialised module",
    "untested-module": "no test imports this module, so changes to it are unchecked",
    "missing-type-hints": "callers and type checkers cannot see what the public function accepts and returns",
    "todo": "a marked piece of unfinished or known-bad work",
    "dead-code": "unused code still has to be read, maintained and kept secure",
    "missing-docstring": "users of the public API have nothing to read about it",
    "duplicate-code": "a fix made in one copy is easily missed in the other",
    "outdated-dependency": "newer releases carry fixes (security ones included) you do not have",
    "not-analysed": "nothing in it was checked (a folder that cannot be read, a file nested too deeply, or written for a Python BuildRunner is not running on); review it by hand, make it readable or analyse it under that Python",
    "not-scanned": "the secret scanner could not read it (too big, unreadable, a link leaving the project): a credential in it goes unseen; raise security.max_file_size_mb or allowlist it",
}


def why(category: str) -> str:
    """Why findings of `category` matter."""
    return CATEGORIES[category]


@dataclass(frozen=True, order=True)
class Gap:
    """One finding. Ordering (severity, path, line, category, message) makes reports stable."""

    severity_rank: int
    path: str
    line: int
    category: str
    message: str
    severity: str
    why: str

    @classmethod
    def make(cls, path: str, line: int, category: str, severity: str, message: str) -> Gap:
        """A finding with its sort rank and its category's reason filled in."""
        return cls(SEVERITIES.index(severity), path, line, category, message, severity, why(category))

    @property
    def location(self) -> str:
        """`path:line`, as editors and terminals link it."""
        return f"{self.path}:{self.line}"
