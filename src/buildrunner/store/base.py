"""The one database interface; `sqlite.py` and `postgres.py` implement it.

SQL is written once, with `:name` (or `?`) placeholders; each driver adapts it.
Statements that differ by engine live in `queries/<capability>.sql` under a name,
with an optional `:postgres` / `:sqlite` variant.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping, Sequence

from buildrunner.errors import StoreError

Params = Mapping[str, Any] | Sequence[Any]
Row = dict[str, Any]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
_QUERY_HEADER = re.compile(r"^--\s*name:\s*(\w+)(?:\s*:(sqlite|postgres))?\s*$", re.MULTILINE)


class IntegrityError(StoreError):
    """A constraint (unique key, foreign key) was violated."""


# The user information runs to the last "@" before the query (a password may hold an unescaped "@" or "/"; an "@" in
# `?options=...` is not one); a query or key=value parameter whose name holds password, secret or token is a
# credential too (`?password=`, `sslpassword=`), its value quoted or with backslash escapes as libpq allows.
_USERINFO = re.compile(r"^([a-z][\w+.-]*://)([^?#]*)@(?=[^@?#]*(?:[?#]|$))", re.IGNORECASE | re.DOTALL)
_SECRET_PARAM = re.compile(r"((?:^|[?&;\s])\w*(?:password|secret|token)\w*\s*=\s*)('(?:[^'\\]|\\.)*'|(?:[^&;\s\\]|\\.)*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A database URL (or libpq key=value string) fit to print: every password in it replaced by `***`."""

    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match.group(2).partition(":")
        return f"{match.group(1)}{user}{':***' if colon else ''}@"

    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}***", _USERINFO.sub(userinfo, url, count=1))


def url_secrets(url: str) -> list[str]:
    """The passwords `url` holds, for scrubbing a driver's message that may quote them."""
    found = [value.strip("'") for _, value in _SECRET_PARAM.findall(url)]
    match = _USERINFO.match(url)
    if match and ":" in match.group(2):
        password = match.group(2).partition(":")[2]
        # the driver reads an unescaped "@" as the end of the password: what follows it shows up in the host
        found += [password, *(f"{part}@" for part in password.split("@")[1:] if part)]
    return [value for value in found if value]


def unescaped_at(url: str) -> bool:
    """Whether the URL's user information holds an "@" that should have been written %40."""
    match = _USERINFO.match(url)
    return bool(match and "@" in match.group(2))


# How far ahead of this machine's clock a stored time may be (another machine's clock, a caller's timezone slip).
FUTURE_SLACK_S = 86_400.0


def now() -> float:
    """UTC epoch seconds: the store's one time format."""
    return time.time()


def plausible_time(ts: float) -> bool:
    """Whether `ts` can be a moment of recorded work in epoch seconds: finite, not before 1970, not milliseconds, not
    in the future (past the slack): one such row would break every day's figures, or count against today's budget."""
    return math.isfinite(ts) and 0 <= ts <= now() + FUTURE_SLACK_S


@lru_cache(maxsize=None)
def migrations(dialect: str) -> tuple[tuple[int, str], ...]:
    """(version, sql) pairs shipped for `dialect`, in order."""
    folder = resources.files("buildrunner.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def _query_file(capability: str) -> dict[tuple[str, str | None], str]:
    text = (resources.files("buildrunner.store") / "queries" / f"{capability}.sql").read_text(encoding="utf-8")
    headers = list(_QUERY_HEADER.finditer(text))
    out: dict[tuple[str, str | None], str] = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        out[(header.group(1), header.group(2))] = text[header.end() : end].strip().rstrip(";")
    return out


def split_statements(sql: str) -> list[str]:
    """Split a migration script on `;` at line ends (our migrations keep one statement per `;`)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";\n") if stmt.strip().rstrip(";")]


# Every store this process has open: a process that forks must hold none (see `open_stores`).
_OPEN: "weakref.WeakSet[Store]" = weakref.WeakSet()


def open_stores() -> int:
    """How many database connections this process holds; SQLite's must not be carried across a fork."""
    return len(_OPEN)


class Store(ABC):
    """A connection to the project's database.

    One instance per process (or thread). Writes that read first go inside
    `transaction()`, which takes the write lock up front, so two workers never
    both read "pending" and claim the same task.
    """

    dialect: str
    url: str
    # Whether `SELECT ... FOR UPDATE` locks rows (PostgreSQL). On SQLite a transaction
    # holds the database's one write lock, so row locks would add nothing.
    row_locks: bool
    # The database's clock as an SQL expression of epoch seconds: worker liveness is judged by it,
    # so a machine whose clock runs ahead does not declare the others' workers lost.
    clock_sql: str

    def query(self, capability: str, name: str) -> str:
        """The named statement from `queries/<capability>.sql`, in this engine's variant; `{clock}` is `clock_sql`."""
        queries = _query_file(capability)
        sql = queries.get((name, self.dialect)) or queries.get((name, None))
        if sql is None:
            raise StoreError(f"no query named {name!r} in queries/{capability}.sql")
        return sql.replace("{clock}", self.clock_sql)

    def clock(self) -> float:
        """Epoch seconds by the database's clock, the one clock all machines sharing the database agree on."""
        return float(self.scalar(self.query("store", "clock")))

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many parameter sets, in one round trip where the driver can."""

    @abstractmethod
    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows as dicts keyed by column name."""

    def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.fetchone(sql, params)
        return next(iter(row.values())) if row else None

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction that holds the write lock from its start; nested calls join it."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """Reads that all see one moment of the database, so a view made of several queries agrees with itself
        while workers write (a session's cost and its running agents' cost). Read only; inside a transaction it
        joins it."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "Store":
        store = super().__new__(cls)
        _OPEN.add(store)
        return store

    def close(self) -> None:
        _OPEN.discard(self)
        self._close()

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def size_bytes(self) -> int:
        """Disk used by the database (for `br telemetry performance`)."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_version(self, current: int) -> list[tuple[int, str]]:
        """The migrations still to apply; refuse a database newer than this code."""
        shipped = migrations(self.dialect)
        latest = shipped[-1][0] if shipped else 0
        if current > latest:
            raise StoreError(
                f"{self.url}: database schema version {current} is newer than this br knows ({latest})",
                hint="upgrade buildrunner; a downgrade is refused to protect the data",
            )
        return [(v, sql) for v, sql in shipped if v > current]
