"""How amounts of money are written, the same on every screen (CLI tables, dashboard, HTML report), and the most one record may hold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# The most one record of spend may hold (a model call, an agent run, a telemetry event): beyond these a value is
# garbage (a stand-in's bug, an overflow), and stored it would turn every total into infinity.
MAX_USD = 1_000_000.0
MAX_TOKENS = 10**12
MAX_DURATION_MS = 10**12  # about 31 years


def within(value: Any, most: float) -> bool:
    """A real number (a bool is not one), finite, from 0 to `most`: what one record may hold of a count or an amount."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= most

# Sums of spend are rounded to this many decimals: far below any price per token, far above a float sum's noise (a
# hundred records of $0.10 sum to 9.99999999999998, which left a $10 budget "not spent" with $0.00000000000002 left).
SUM_PLACES = 9

SUB_CENT_PLACES = 4  # at least this many decimals for an amount under a cent
SIGNIFICANT = 2  # ... and enough to show two significant digits of a smaller one


def money(total: float) -> float:
    """A sum of spend as the records hold it: rounded at SUM_PLACES (and never -0.0)."""
    return round(total, SUM_PLACES) + 0.0


def _sub_cent_places(amount: float) -> int:
    return max(SUB_CENT_PLACES, SIGNIFICANT - 1 - math.floor(math.log10(abs(amount))))


def usd(amount: float | None, places: int | None = None) -> str:
    """Dollars as people read them: cents, or a sub-cent amount that is not zero with its first two digits.

    $0.00 only for nothing at all: $0.0014 and $0.00004 are shown as such. `places` fixes the
    decimals (`usd_scale` uses it so the ticks of one axis read alike).
    """
    if amount is None:
        return "-"
    if places is not None:
        return f"${amount:,.{places}f}"
    if amount == 0 or abs(amount) >= 0.00995:  # rounds to a cent or more
        return f"${amount:,.2f}"
    text = f"{amount:.{_sub_cent_places(amount)}f}"
    whole, _, decimals = text.partition(".")
    return f"${whole}.{decimals[:SUB_CENT_PLACES] + decimals[SUB_CENT_PLACES:].rstrip('0')}"


def usd_alike(amounts: Sequence[float], places: int = 3) -> list[str]:
    """Amounts read side by side ("$0.0050 spent of $0.0045"): the same decimals for all, at least `places`, and as
    many as show each within 2 % of itself (a $0.0045 cap read as $0.004, below the $0.005 said to exceed it)."""
    while places < 8 and any(a and abs(round(a, places) - a) > 0.02 * abs(a) for a in amounts):
        places += 1
    while places < 8 and len({f"{a:.{places}f}" for a in amounts}) < len(set(amounts)):
        places += 1
    return [usd(a, places) for a in amounts]


def usd_scale(amounts: Sequence[float]) -> list[str]:
    """Labels for the ticks of one money axis: the same decimals for all, as few as keep every tick distinct (at least cents)."""
    places = 2
    while places < 12 and len({f"{a:.{places}f}" for a in amounts}) < len(set(amounts)):
        places += 1
    return [usd(a, places) for a in amounts]
