"""The one database: SQLite in `.buildrunner/` by default, PostgreSQL via `BR_DATABASE_URL`."""

from __future__ import annotations

import os
from pathlib import Path

from buildrunner.errors import ConfigError
from buildrunner.paths import ProjectPaths
from buildrunner.store.base import IntegrityError, Row, Store, now, open_stores, redact_url

DATABASE_URL_ENV = "BR_DATABASE_URL"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def database_url(paths: ProjectPaths | None = None) -> str:
    """`BR_DATABASE_URL` when set, else the project's SQLite file."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        if "://" not in url and (":" in url or not (url.startswith("/") or url.endswith(SQLITE_SUFFIXES))):
            raise ConfigError(
                f"{DATABASE_URL_ENV}={redact_url(url)}: not a database URL",
                hint="use postgresql://user@host/db, sqlite:///path/to/file.db (or a .db file's absolute path), or unset it for the project's SQLite file",
            )
        return url
    return str((paths or ProjectPaths.discover()).database_file)


def open_store(paths: ProjectPaths | None = None, url: str | None = None, *, create: bool = True) -> Store:
    """Open (and migrate) the project's database.

    `create=False` is for reading: a SQLite file that does not exist yet is not created, and an
    empty in-memory database stands in for it.
    """
    url = url or database_url(paths)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in {"postgres", "postgresql"}:  # each backend imported only when used: psycopg is the 'postgres' extra
        from buildrunner.store.postgres import PostgresStore

        return PostgresStore(url)
    if scheme in {"", "sqlite"}:
        from buildrunner.store.sqlite import MemoryStore, ReadOnlySQLiteStore, SQLiteStore

        path = Path(url.split("://", 1)[1] if scheme else url)
        if not create and not path.exists():
            return MemoryStore()
        if not create and ReadOnlySQLiteStore.readable(path):  # a read-only folder: SQLite could not open it for reading
            return ReadOnlySQLiteStore(path)
        return SQLiteStore(path)
    raise ConfigError(
        f"{DATABASE_URL_ENV}={url.split('://', 1)[0]}://...: unsupported database",
        hint="use postgresql://user@host/db or unset it for the SQLite default",
    )


__all__ = ["IntegrityError", "Row", "Store", "database_url", "now", "open_store", "open_stores", "redact_url"]
