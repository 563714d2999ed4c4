"""Money is written one way everywhere: cents, or the first digits of a real amount under a cent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buildrunner.money import usd, usd_alike, usd_scale


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


def test_amounts_read_side_by_side_show_a_sub_cent_cap_as_it_was_given() -> None:
    """"$0.005 spent of $0.004": a $0.0045 cap was rounded below the spend said to exceed it."""
    assert usd_alike([0.005, 0.0045]) == ["$0.0050", "$0.0045"]
    assert usd_alike([0.107, 0.12]) == ["$0.107", "$0.120"]  # three decimals at least, as the cap messages had


@given(st.lists(st.floats(min_value=1e-6, max_value=1e4, allow_nan=False), min_size=1, max_size=4))
def test_amounts_read_side_by_side_are_each_close_to_themselves_and_tell_different_amounts_apart(amounts: list[float]) -> None:
    shown = usd_alike(amounts)
    values = [float(text.lstrip("$").replace(",", "")) for text in shown]
    places = {len(text.partition(".")[2]) for text in shown}
    assert len(places) == 1
    if places != {8}:  # as far as eight decimals go
        assert all(abs(v - a) <= 0.02 * a for v, a in zip(values, amounts))
        assert len(set(shown)) == len(set(amounts))
