"""Shared fixtures: real temp projects (git repos), real SQLite files, the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from buildrunner.project import Project
from buildrunner.store import Store, open_store

PG_URL = os.environ.get("BR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

# Property tests must not race the clock: under `pytest -n 8` on a loaded 2-core machine one example, or drawing
# it, can take seconds (a `too_slow` health check failed a gaps parser test that way). What they check stays the same.
settings.register_profile("buildrunner", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("buildrunner")


def _local_noon_zone() -> str:
    """A fixed-offset POSIX zone in which it is about noon now (UTC-12 to UTC+14 covers every hour).

    Budgets and `routing costs` count the local calendar day, week and month: a test that records spend and reads
    today's figure would fail when the run straddles midnight (a CI run at 23:55 UTC did). At local noon a run of
    less than eleven hours crosses no day, week or month boundary. Tests that need a real zone set their own."""
    offset = (12 - time.gmtime().tm_hour) % 24
    if offset > 14:
        offset -= 24
    return f"NOON{-offset:+d}"


os.environ["TZ"] = _local_noon_zone()  # inherited by every `br` subprocess
time.tzset()


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def tmp_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository with `.buildrunner/`, as the working directory, and no BR_* leaking in."""
    for var in list(os.environ):
        if var.startswith("BR_") and var != "BR_TEST_DATABASE_URL":
            monkeypatch.delenv(var)
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "Test")
    (root / ".buildrunner").mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def project(tmp_project: Path) -> Iterator[Project]:
    """A Project on `tmp_project` using its SQLite store."""
    proj = Project(tmp_project)
    yield proj
    proj.close()


def _postgres_schema_url() -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    return schema, f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL on the real PostgreSQL server whose search_path is a fresh schema, dropped afterwards.

    Skips when no server answers, except under CI=true, where the PostgreSQL tests must run.
    """
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("psycopg is not installed; install buildrunner[postgres]")
        pytest.skip("psycopg is not installed")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    schema, url = _postgres_schema_url()
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield url
    finally:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "contract.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def any_store(store_url: str) -> Iterator[Store]:
    store = open_store(url=store_url)
    yield store
    store.close()


@pytest.fixture
def any_project(tmp_project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A Project on `tmp_project` whose store is SQLite or PostgreSQL (also for subprocesses via BR_DATABASE_URL)."""
    if not store_url.endswith(".db"):
        monkeypatch.setenv("BR_DATABASE_URL", store_url)
    proj = Project(tmp_project, store=open_store(url=store_url))
    yield proj
    proj.store.close()


@dataclass
class BrResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_br(tmp_project: Path):
    """Run the real `br` in a subprocess (`python -m buildrunner`), by default in `tmp_project`."""

    def run(
        *args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None, input: str | None = None, timeout: float = 120
    ) -> BrResult:
        """`env` values of None remove that variable."""
        merged = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
        full_env = {key: value for key, value in merged.items() if value is not None}
        proc = subprocess.run(
            [sys.executable, "-m", "buildrunner", *args],
            cwd=cwd or tmp_project,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return BrResult(proc.returncode, proc.stdout, proc.stderr)

    return run


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write each `relative path -> source` (dedented) under root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


@pytest.fixture
def files():
    """`files(root, {rel: source})` writes a sample project's files."""
    return write_files


@pytest.fixture
def quality_config():
    """`quality_config(root, key=value, ...)` writes the project's `quality` config section."""

    def write(root: Path, **settings: object) -> None:
        (root / ".buildrunner" / "config.json").write_text(json.dumps({"quality": settings}), encoding="utf-8")

    return write
