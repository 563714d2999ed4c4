"""Small real projects for the quality gate, written into the test's git repo."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

CALC = '''
def add(a: int, b: int) -> int:
    return a + b


def sub(a: int, b: int) -> int:
    return a - b


def mul(a: int, b: int) -> int:
    return a * b


def div(a: int, b: int) -> float:
    if b == 0:
        raise ZeroDivisionError("b")
    return a / b
'''


@pytest.fixture
def calc(tmp_project: Path, files) -> Path:
    """A one-module project whose single test exercises half of it."""
    files(
        tmp_project,
        {
            "calc.py": CALC,
            "tests/test_calc.py": "from calc import add, sub\n\n\ndef test_add():\n    assert add(1, 2) == 3\n    assert sub(3, 1) == 2\n",
        },
    )
    return tmp_project



@pytest.fixture
def calc_source() -> str:
    return CALC


@pytest.fixture
def fake_aws_key() -> str:
    """An AWS-access-key-shaped value, built at run time (nothing key-shaped is written in the repository)."""
    rng = random.Random(7)
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
