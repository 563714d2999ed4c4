"""A sample project with known gaps, built fresh for each test."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

# Built at run time: nothing key-shaped is written in this repository.
_RNG = random.Random(7)
FAKE_AWS_KEY = "AKIA" + "".join(_RNG.choice(string.ascii_uppercase + "234567") for _ in range(16))



DUPLICATED_BLOCK = """
    total = 0
    for item in items:
        if item.weight > limit:
            total += item.weight * factor
        else:
            total -= item.weight / factor
    result = round(total, precision) + offset_for_items
    return result
"""

SAMPLE = {
    "pyproject.toml": """
        [project]
        name = "sample"
        version = "0.1.0"
        dependencies = ["requests>=2"]
    """,
    "README.md": "# Sample\n",
    "src/sample/__init__.py": '"""Sample package."""\n',
    "src/sample/core.py": '''
        """Core logic: one good function and several known gaps."""
        import abc
        import requests
        import yaml
        from typing import Protocol, overload


        def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b


        def unfinished(value: int) -> int:
            """Planned feature."""
            raise NotImplementedError


        def empty_hook(value: int) -> None:
            """Does nothing yet."""
            pass


        def fetch(url: str) -> bytes:
            """Download a page."""
            return requests.get(url).content


        def fetch_safely(url: str) -> bytes:
            """Download with a timeout: fine."""
            return requests.get(url, timeout=5).content


        def load(path: str) -> dict:
            """Read YAML, ignoring every failure."""
            try:
                return yaml.safe_load(open(path))
            except Exception:
                pass
            return {}


        def lookup(table: dict, key: str) -> str:
            """A specific exception handled on purpose: fine."""
            try:
                return table[key]
            except KeyError:
                return ""


        def untyped(a, b):
            return a * b  # FIXME: overflow on large inputs


        class Base(abc.ABC):
            """Abstract methods may be empty."""

            @abc.abstractmethod
            def run(self) -> None:
                """Subclasses run."""
                pass


        class Runner(Protocol):
            """Protocol members may be empty."""

            def run(self) -> None: ...


        @overload
        def conv(x: int) -> int: ...
        @overload
        def conv(x: str) -> str: ...
        def conv(x: int | str) -> int | str:
            """Overload signatures may be empty."""
            return x


        def _helper_nobody_calls(x: int) -> int:
            return x + 1
    ''',
    "src/sample/config.py": f'''
        """Settings."""
        AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"
        # TODO: read from the environment
    ''',
    "src/sample/a.py": '"""Half of a real cycle."""\nfrom sample import b\n\nNAME = "a"\n',
    "src/sample/b.py": '"""Other half of a real cycle."""\nfrom sample import a\n\nNAME = "b"\n',
    "src/sample/lazy_c.py": '"""Lazy import: no real cycle."""\n\n\ndef f() -> str:\n    """Import late."""\n    from sample import lazy_d\n    return lazy_d.NAME\n',
    "src/sample/lazy_d.py": '"""Imports c at import time."""\nfrom sample import lazy_c\n\nNAME = "d"\n',
    "src/sample/stats.py": '"""Stats."""\n\n\ndef weigh(items: list, limit: int, factor: float, precision: int, offset_for_items: int) -> float:\n    """Weigh items."""' + DUPLICATED_BLOCK,
    "src/sample/more_stats.py": '"""More stats."""\n\n\ndef weigh_again(items: list, limit: int, factor: float, precision: int, offset_for_items: int) -> float:\n    """Weigh items again."""' + DUPLICATED_BLOCK,
    "tests/test_core.py": '''
        from sample.core import add
        from sample import a, b, lazy_c, lazy_d, stats, more_stats


        def test_add():
            assert add(1, 2) == 3
    ''',
    "build/generated.py": "def generated():\n    raise NotImplementedError\n",
    ".venv/lib/junk.py": "def junk():\n    raise NotImplementedError\n",
    "ignored_dir/skip.py": "def skip():\n    raise NotImplementedError\n",
    ".gitignore": "ignored_dir/\n",
}


@pytest.fixture
def sample(tmp_project: Path, files, quality_config) -> Path:
    """The sample project; the package index is switched off (offline-safe) unless a test sets one."""
    files(tmp_project, SAMPLE)
    quality_config(tmp_project, index_url="")
    return tmp_project


@pytest.fixture
def fake_aws_key() -> str:
    return FAKE_AWS_KEY

