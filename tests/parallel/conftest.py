"""Fixtures for the parallel tests: a project with fast heartbeats, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from parallel_helpers import kill_left_in, write_config

from buildrunner.project import Project
from buildrunner.store import open_store


@pytest.fixture
def fast_project(tmp_project: Path) -> Iterator[Path]:
    """`tmp_project` with heartbeats and polls short enough for tests.

    Whatever still runs in the project when the test ends (the workers and tasks of a test that failed
    half-way, waiting for a file that will never come) is killed, so it takes no CPU from the tests after it.
    """
    write_config(tmp_project)
    yield tmp_project
    kill_left_in(tmp_project)


@pytest.fixture
def pproject(fast_project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fast project on SQLite or PostgreSQL (subprocesses get BR_DATABASE_URL)."""
    if not store_url.endswith(".db"):
        monkeypatch.setenv("BR_DATABASE_URL", store_url)
    else:
        store_url = str(fast_project / ".buildrunner" / "buildrunner.db")
    proj = Project(fast_project, store=open_store(url=store_url))
    yield proj
    proj.store.close()

