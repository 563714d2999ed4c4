"""Counts in words: "1 file", "2 files". One helper, so every message agrees."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """`n` and the noun that agrees with it (`many` defaults to `one` + "s")."""
    return f"{n} {one if n == 1 else (many if many is not None else one + 's')}"
