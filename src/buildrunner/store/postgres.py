"""The PostgreSQL store: shared by workers on several machines (`BR_DATABASE_URL`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import unquote

from buildrunner.errors import ConfigError, StoreError, StoreUnavailable
from buildrunner.store.base import (
    IntegrityError,
    Params,
    Row,
    Store,
    now,
    redact_url,
    split_statements,
    unescaped_at,
    url_secrets,
)

# A `--` or `/* */` comment, a quoted literal, a `::` cast, a `:name` placeholder, a `?` placeholder or a bare `%`.
# Every `%` is doubled (comments and literals too) and params are always passed, so psycopg always unescapes.
_TOKEN = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|::|:([A-Za-z_]\w*)|\?|%", re.DOTALL)
_MIGRATION_LOCK = 7_243_001


def _first_line(exc: Exception, secrets: Iterable[str] = ()) -> str:
    """The driver's message, first line, with any of `secrets` it quotes hidden."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    for secret in secrets:
        line = line.replace(secret, "***")
    return line


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """Rewrite our `:name` / `?` placeholders into psycopg's `%(name)s` / `%s`.

    Cached: the store's statements are a fixed set, and a worker runs each once or more per task.
    """

    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        if match.group(1):
            return f"%({match.group(1)})s"
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")

    return _TOKEN.sub(repl, sql)


class PostgresStore(Store):
    dialect = "postgres"
    row_locks = True
    clock_sql = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._full_url = url
        self._secrets = sorted({form for value in url_secrets(url) for form in (value, unquote(value))}, key=len, reverse=True)
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "BR_DATABASE_URL points at PostgreSQL but psycopg is not installed",
                hint="pip install 'buildrunner[postgres]'",
            ) from None
        self._psycopg = psycopg
        self._depth = 0
        self._conn = self._connect()
        self._migrate()

    def _connect(self) -> Any:
        from psycopg.rows import dict_row

        try:
            return self._psycopg.connect(self._full_url, autocommit=True, row_factory=dict_row, connect_timeout=10)
        except self._psycopg.Error as exc:
            hint = "check BR_DATABASE_URL and that the server is running"
            if unescaped_at(self._full_url):
                hint = "write an \"@\" in the user name or password as %40 in BR_DATABASE_URL"
            raise StoreUnavailable(f"{self.url}: cannot connect ({_first_line(exc, self._secrets)})", hint=hint) from None

    def _live(self) -> Any:
        """The connection, reconnecting first when the last one broke (a server restart, a network cut).

        Never inside a transaction: that one is lost with its connection, and its caller retries it whole.
        """
        if self._conn.closed or self._conn.broken:
            if self._depth:
                raise StoreUnavailable(f"{self.url}: the connection was lost", hint="the server may be restarting; try again")
            self._conn = self._connect()
        return self._conn

    def _error(self, exc: Exception) -> StoreError:
        psycopg = self._psycopg
        if isinstance(exc, psycopg.errors.IntegrityError):
            return IntegrityError(f"{self.url}: {_first_line(exc, self._secrets)}")
        if isinstance(exc, psycopg.OperationalError) or self._conn.broken or self._conn.closed:
            return StoreUnavailable(f"{self.url}: {_first_line(exc, self._secrets)}", hint="the server may be restarting or out of reach; try again")
        return StoreError(f"{self.url}: {_first_line(exc, self._secrets)}")

    def _migrate(self) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        if not self._check_version(self.schema_version()):
            return
        with self.transaction():
            self.execute("SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (_MIGRATION_LOCK,))
            for version, sql in self._check_version(self.schema_version()):
                for statement in split_statements(sql):
                    self.execute(statement)
                self.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, now()))

    def schema_version(self) -> int:
        return int(self.scalar("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version") or 0)

    def _run(self, sql: str, params: Params) -> Any:
        conn = self._live()
        try:
            return conn.execute(to_pyformat(sql), params)
        except self._psycopg.Error as exc:
            raise self._error(exc) from None

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._run(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        conn = self._live()
        try:
            with conn.cursor() as cur:
                cur.executemany(to_pyformat(sql), list(rows))
        except self._psycopg.Error as exc:
            raise self._error(exc) from None

    def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self._run(sql, params)
        # Whether the statement returned rows, as `description` decides it, without building a Column per field.
        result = cur.pgresult
        return cur.fetchall() if result is not None and result.nfields else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._live()
        try:
            with conn.transaction():
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
        except self._psycopg.Error as exc:
            raise self._error(exc) from None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._depth:
            yield
            return
        with self.transaction():
            self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def size_bytes(self) -> int:
        return int(
            self.scalar(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
            or 0
        )

    def _close(self) -> None:
        self._conn.close()

