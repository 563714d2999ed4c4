"""The SQLite store: the embedded default, one file in `.buildrunner/`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from buildrunner.errors import StoreError
from buildrunner.store.base import IntegrityError, Params, Row, Store, now, split_statements

BUSY_TIMEOUT_S = 30.0


def _wrap(exc: sqlite3.Error, path: Path) -> StoreError:
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(f"{path}: {exc}")
    return StoreError(f"{path}: {exc}", hint="check disk space and permissions of .buildrunner/")


class SQLiteStore(Store):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the database ({exc})", hint="check that .buildrunner/ is writable") from None
        self._depth = 0
        self._migrate()

    def _migrate(self) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
        if not self._check_version(self.schema_version()):
            return
        with self.transaction():
            for version, sql in self._check_version(self.schema_version()):
                for statement in split_statements(sql):
                    self.execute(statement)
                self.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, now()))

    def schema_version(self) -> int:
        return int(self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version") or 0)

    def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return self._conn.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise _wrap(exc, self.path) from None

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _wrap(exc, self.path) from None

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return [dict(row) for row in self._conn.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise _wrap(exc, self.path) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.execute("COMMIT")

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

    def close(self) -> None:
        self._conn.close()
