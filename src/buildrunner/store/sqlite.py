"""The SQLite store: the embedded default, one file in `.buildrunner/`."""

from __future__ import annotations

import fcntl
import os
import shlex
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from buildrunner.errors import StoreError, StoreUnavailable
from buildrunner.paths import make_private_dir
from buildrunner.store.base import IntegrityError, Params, Row, Store, now, split_statements

BUSY_TIMEOUT_S = 30.0
# How often a writer retries the lock file: from 20 µs, doubling, to at most 1 ms.
LOCK_RETRY_S = (20e-6, 1e-3)
# A connection copies the write-ahead log into the database after this many of its transactions,
# once it has let go of the write lock, so the copying (and its fsync) holds up no other writer.
# SQLite's own checkpoint, run inside the commit, is left as a backstop for far larger logs
# (`wal_autocheckpoint` of 10,000 pages, set when connecting).
CHECKPOINT_EVERY = 100


def _damaged(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and str(exc).startswith(("file is not a database", "database disk image is malformed"))


def _wrap(exc: sqlite3.Error, path: Path) -> StoreError:
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(f"{path}: {exc}")
    if isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("database is locked"):
        return StoreUnavailable(f"{path}: {exc}", hint="another process holds it (a long write, or a program that opened it): try again in a moment")
    if isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(("disk I/O error", "unable to open")):
        return StoreUnavailable(f"{path}: {exc}", hint="check disk space and permissions of .buildrunner/")
    if isinstance(exc, sqlite3.OperationalError) and "readonly database" in str(exc):
        return StoreError(f"{path}: {exc}", hint="this command records something: run it where .buildrunner/ is writable")
    if isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("no such table"):
        return StoreError(f"{path}: {exc}", hint="the file is not a complete BuildRunner store (it was changed by hand, or by another program): move it aside and run again for a new one")
    if _damaged(exc):
        return StoreError(
            f"{path}: {exc}",
            hint=f"the file is damaged or is not BuildRunner's: move it aside (mv {shlex.quote(str(path))} {shlex.quote(str(path))}.bad) and run again for a new one",
        )
    return StoreError(f"{path}: {exc}", hint="check disk space and permissions of .buildrunner/")


class _WriterLock:
    """Our write transactions take turns on a flock of `<db>-lock` before taking SQLite's own lock.

    SQLite's busy handler sleeps 1, 2, 5, 10, ... ms between tries, so workers that each
    write every millisecond would spend their time asleep while the lock is free. This lock
    is retried every 20 µs to 1 ms instead, and the kernel releases it when a process dies.
    Each store opens the file itself, so two stores in one process exclude each other too.
    """

    def __init__(self, path: Path, timeout: float, mode: int) -> None:
        self.path = path
        self.timeout = timeout
        self.mode = mode
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is None:  # read-only is enough for flock, so any user who may write the database may take it
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, self.mode)
        delay, longest = LOCK_RETRY_S
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"{self.path}: another connection has held the write lock for {self.timeout:g}s",
                        hint="see which br process is stuck (br parallel workers) and stop it",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, longest)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _create_private(path: Path) -> None:
    """Create the database file private to its owner: it holds commands, prompts and environment values.

    SQLite gives the -wal and -shm files the database's permissions, and the lock file gets them too.
    Only a file that does not exist yet is opened here: closing a descriptor of a database this
    process already has open would drop that connection's POSIX locks (and let writes be lost).
    """
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass


class SQLiteStore(Store):
    dialect = "sqlite"
    row_locks = False
    clock_sql = "((julianday('now') - 2440587.5) * 86400.0)"
    _reading = False  # inside snapshot(): a write then is a bug, said at once (SQLite would fail it as "busy" later)

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.url = str(path)
        try:
            make_private_dir(path.parent)
            _create_private(path)
            self._conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA wal_autocheckpoint=10000")
            self._conn.execute("PRAGMA foreign_keys=ON")
            mode = path.stat().st_mode & 0o666  # the lock file gets it, as SQLite's -wal and -shm files do
        except (sqlite3.Error, OSError) as exc:
            if isinstance(exc, sqlite3.Error) and _damaged(exc):
                raise _wrap(exc, path) from None
            raise StoreError(f"{path}: cannot open the database ({exc})", hint="check that .buildrunner/ is writable") from None
        self._depth = 0
        self._commits = 0
        self._writer: _WriterLock | _NoWriterLock = _WriterLock(path.with_name(path.name + "-lock"), busy_timeout, mode)
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
        if self._reading:
            raise StoreError(f"{self.path}: a write inside a read snapshot", hint="this is a bug in BuildRunner; please report it")
        try:
            self._writer.acquire()
        except OSError as exc:
            raise _wrap(sqlite3.OperationalError(f"cannot lock for writing ({exc})"), self.path) from None
        try:
            self.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
                self._depth = 0
                self.execute("COMMIT")
            except BaseException:
                self._depth = 0
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        finally:
            self._writer.release()
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpoint()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._depth or self._conn.in_transaction:
            yield
            return
        self.execute("BEGIN DEFERRED")  # in WAL mode the first read fixes what every later read of it sees
        try:
            self._reading = True
            yield
        finally:
            self._reading = False
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def _checkpoint(self) -> None:
        """Copy what other connections are not reading from the write-ahead log into the database, without waiting."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # only housekeeping: the next checkpoint (or SQLite's own) catches up, and a real fault shows on the next write

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())

    def _close(self) -> None:
        self._conn.close()
        self._writer.close()


class MemoryStore(SQLiteStore):
    """An empty database in memory, schema and all: what a read sees where nothing was recorded yet.

    `open_store(create=False)` returns one for a missing SQLite file, so a read-only command
    (`br routing costs` in a fresh folder) answers "nothing yet" and creates no `.buildrunner/`.
    """

    def __init__(self) -> None:
        self.path = Path(":memory:")
        self.url = ":memory:"
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._depth = 0
        self._commits = 0
        self._writer = _NoWriterLock()
        self._migrate()

    def size_bytes(self) -> int:
        return 0


class ReadOnlySQLiteStore(SQLiteStore):
    """A store in a folder this user may not write (a read-only mount, another user's project): read as it is.

    SQLite opens a WAL database for reading only where it can make the `-shm` file beside it, so it is opened
    immutable (no locks, no shared memory): right when nobody writes it, which a folder no one may write ensures.
    `readable` says whether it can be (no write-ahead log holding writes not yet in the file). A write fails with
    a clear error; a store an older br wrote (to be migrated) too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = str(path)
        try:
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, isolation_level=None, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
        except sqlite3.Error as exc:
            raise _wrap(exc, path) from None
        self._depth = 0
        self._commits = 0
        self._writer = _NoWriterLock()
        if self._check_version(self.schema_version()):
            raise StoreError(f"{path}: written by an older br, and its folder is read-only", hint="run br once where .buildrunner/ is writable to upgrade it")

    @staticmethod
    def readable(path: Path) -> bool:
        """Whether `path` is in a folder this user cannot write and holds all its writes (no pending write-ahead log)."""
        wal = path.with_name(path.name + "-wal")
        return path.is_file() and not os.access(path.parent, os.W_OK) and (not wal.exists() or wal.stat().st_size == 0)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        raise StoreError(f"{self.path}: the project's .buildrunner/ is read-only", hint="this command records something: run it where .buildrunner/ is writable")
        yield  # pragma: no cover - a generator for contextmanager; never reached


class _NoWriterLock:
    """One connection to a private in-memory database has no other writer to take turns with."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass
