"""Fixtures for the parallel tests: a project with fast heartbeats, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from parallel_helpers import write_config

from buildrunner.project import Project
from buildrunner.store import open_store


@pytest.fixture
def fast_project(tmp_project: Path) -> Path:
    """`tmp_project` with heartbeats and polls short enough for tests."""
    write_config(tmp_project)
    return tmp_project


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

