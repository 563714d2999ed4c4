"""Money is written one way everywhere: cents, or four decimals when a real amount is under a cent."""

from __future__ import annotations

import pytest

from buildrunner.money import usd


@pytest.mark.parametrize(
    ("amount", "text"),
    [(None, "-"), (0, "$0.00"), (0.0014, "$0.0014"), (0.25, "$0.25"), (1234.5, "$1,234.50"), (0.01, "$0.01")],
)
def test_usd(amount: float | None, text: str) -> None:
    assert usd(amount) == text
