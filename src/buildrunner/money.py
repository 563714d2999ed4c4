"""How amounts of money are written, the same on every screen (CLI tables, dashboard, reports)."""

from __future__ import annotations


def usd(amount: float | None) -> str:
    """Dollars as people read them: cents, or four decimals for a sub-cent amount that is not zero."""
    if amount is None:
        return "-"
    if amount == 0 or abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    return f"${amount:.4f}"
