"""Money is written one way everywhere: cents, or the first digits of a real amount under a cent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buildrunner.money import usd, usd_scale


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, "-"), (0, "$0.00"), (0.0014, "$0.0014"), (0.25, "$0.25"), (1234.5, "$1,234.50"), (0.01, "$0.01"),
        (0.00004, "$0.00004"), (0.000045, "$0.000045"), (0.0099, "$0.0099"), (0.00999, "$0.01"),
    ],
)
def test_usd(amount: float | None, text: str) -> None:
    assert usd(amount) == text


@given(st.floats(min_value=1e-9, max_value=0.0099))
def test_a_real_sub_cent_amount_never_reads_as_nothing(amount: float) -> None:
    text = usd(amount)
    assert text != "$0.00" and float(text[1:]) > 0
    assert abs(float(text[1:]) - amount) <= amount * 0.05  # its first two digits


@pytest.mark.parametrize("top", [0.0014, 0.002, 0.02, 0.05, 3.0, 1500.0])
def test_axis_ticks_all_differ_and_share_their_decimals(top: float) -> None:
    ticks = usd_scale([top * i / 4 for i in range(5)])
    assert len(set(ticks)) == 5
    assert len({t.split(".")[1].__len__() for t in ticks}) == 1
