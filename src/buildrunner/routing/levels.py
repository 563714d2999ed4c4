"""Complexity levels: the score bands the estimator names and the default tiers are cut at.

simple goes to haiku, moderate to sonnet, complex and critical to opus (the spec's
recommendations), so a tier's default `max_complexity` is the top of its band.
"""

from __future__ import annotations

# (first score of the next level, name): under 15 min, up to an hour, up to four hours, more.
LEVELS: tuple[tuple[int, str], ...] = ((30, "simple"), (75, "moderate"), (90, "complex"), (101, "critical"))


def level_for(score: int) -> str:
    return next(name for limit, name in LEVELS if score < limit)


def top_of(level: str) -> int:
    """The highest score of `level`."""
    return next(limit for limit, name in LEVELS if name == level) - 1
