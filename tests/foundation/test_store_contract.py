"""The store contract: the same behaviour on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from buildrunner.errors import StoreError
from buildrunner.store import IntegrityError, Store, open_store
from buildrunner.store.base import migrations
from buildrunner.store.postgres import to_pyformat

TABLES = {"sessions", "tasks", "task_attempts", "workers", "events", "cost_records", "alerts"}


def insert_session(store: Store, session_id: str = "s1") -> None:
    store.execute(
        "INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES (:id, :name, 'running', :t, :t)",
        {"id": session_id, "name": "Sprint 42", "t": 1.0},
    )


def test_migrations_create_every_table_and_record_the_version(any_store: Store) -> None:
    assert any_store.schema_version() == migrations(any_store.dialect)[-1][0]
    for table in TABLES:
        assert any_store.scalar(f"SELECT COUNT(*) AS n FROM {table}") == 0  # br:allow: names from TABLES


def test_reopening_applies_nothing_twice(store_url: str) -> None:
    with open_store(url=store_url) as first:
        insert_session(first)
    with open_store(url=store_url) as second:
        assert second.scalar("SELECT COUNT(*) AS n FROM schema_version") == len(migrations(second.dialect))
        assert second.fetchone("SELECT name FROM sessions WHERE id = ?", ("s1",)) == {"name": "Sprint 42"}


def test_a_newer_schema_is_refused(store_url: str) -> None:
    with open_store(url=store_url) as store:
        store.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (999, 0.0))
    with pytest.raises(StoreError, match="newer than this br"):
        open_store(url=store_url)


def test_rows_are_dicts_and_both_placeholder_styles_work(any_store: Store) -> None:
    insert_session(any_store)
    by_name = any_store.fetchall("SELECT id, name FROM sessions WHERE name LIKE :p", {"p": "Sprint%"})
    by_pos = any_store.fetchall("SELECT id, name FROM sessions WHERE name LIKE 'Sprint%' AND id = ?", ("s1",))
    literal_only = any_store.fetchall("SELECT id FROM sessions WHERE name LIKE 'Sprint%'")
    assert by_name == by_pos == [{"id": "s1", "name": "Sprint 42"}]
    assert literal_only == [{"id": "s1"}]


def test_a_snapshot_sees_one_moment_while_another_connection_writes(store_url: str) -> None:
    """`parallel status` reads several queries; inside a snapshot a worker's write between them is not half seen."""
    with open_store(url=store_url) as reader, open_store(url=store_url) as writer:
        insert_session(writer, "before")
        with reader.snapshot():
            first = reader.scalar("SELECT COUNT(*) AS n FROM sessions")
            with writer.transaction():
                insert_session(writer, "during")
            assert reader.scalar("SELECT COUNT(*) AS n FROM sessions") == first == 1
        assert reader.scalar("SELECT COUNT(*) AS n FROM sessions") == 2
        with reader.snapshot(), pytest.raises(StoreError):  # read only: a write inside one is a bug, said at once
            with reader.transaction():
                insert_session(reader, "inside")
        assert reader.scalar("SELECT COUNT(*) AS n FROM sessions") == 2


def test_failed_transaction_leaves_nothing_behind(any_store: Store) -> None:
    with pytest.raises(RuntimeError):
        with any_store.transaction():
            insert_session(any_store, "kept-out")
            raise RuntimeError("crash between two writes")
    assert any_store.scalar("SELECT COUNT(*) AS n FROM sessions") == 0


def test_nested_transactions_join_the_outer_one(any_store: Store) -> None:
    with pytest.raises(RuntimeError):
        with any_store.transaction():
            insert_session(any_store, "a")
            with any_store.transaction():
                insert_session(any_store, "b")
            raise RuntimeError("outer fails")
    assert any_store.scalar("SELECT COUNT(*) AS n FROM sessions") == 0


def test_duplicate_keys_raise_integrity_error(any_store: Store) -> None:
    insert_session(any_store)
    with pytest.raises(IntegrityError):
        insert_session(any_store)


def test_executemany_and_identity_columns(any_store: Store) -> None:
    rows = [{"ts": float(i), "type": "task_started", "task_id": f"t{i}"} for i in range(500)]
    any_store.executemany("INSERT INTO events (ts, type, task_id) VALUES (:ts, :type, :task_id)", rows)
    ids = [r["id"] for r in any_store.fetchall("SELECT id FROM events ORDER BY id")]
    assert len(ids) == 500 and len(set(ids)) == 500
    assert any_store.size_bytes() > 0


def test_deleting_a_session_cascades_to_its_tasks(any_store: Store) -> None:
    insert_session(any_store)
    any_store.execute(
        "INSERT INTO tasks (session_id, task_id, position, kind, status) VALUES ('s1', 't1', 0, 'command', 'pending')"
    )
    any_store.execute("DELETE FROM sessions WHERE id = 's1'")
    assert any_store.scalar("SELECT COUNT(*) AS n FROM tasks") == 0


def _increment(url: str, times: int) -> None:
    store = open_store(url=url)
    row_lock = " FOR UPDATE" if store.dialect == "postgres" else ""
    for _ in range(times):
        with store.transaction():
            value = store.scalar("SELECT cost FROM tasks WHERE task_id = 'counter'" + row_lock)
            store.execute("UPDATE tasks SET cost = ? WHERE task_id = 'counter'", (value + 1,))
    store.close()


def test_read_then_write_transactions_never_lose_an_update(any_store: Store, store_url: str) -> None:
    """Several processes doing read-modify-write: SQLite's BEGIN IMMEDIATE (PostgreSQL: FOR UPDATE) makes every increment count."""
    insert_session(any_store)
    any_store.execute("INSERT INTO tasks (session_id, task_id, position, kind, status, cost) VALUES ('s1', 'counter', 0, 'command', 'x', 0)")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment, args=(store_url, 40)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    assert any_store.scalar("SELECT cost FROM tasks WHERE task_id = 'counter'") == 160


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    with open_store(url=str(tmp_path / "x.db")) as store:
        assert store.scalar("PRAGMA journal_mode") == "wal"


def test_unsupported_database_url_is_a_config_error(tmp_path: Path) -> None:
    from buildrunner.errors import ConfigError

    with pytest.raises(ConfigError, match="unsupported database"):
        open_store(url="mysql://root@localhost/test")


@pytest.mark.parametrize("value", ["postgresql:/db.example.com/br", "garbage", "db.example.com:5432/br", "relative/dir"])
def test_a_database_url_that_is_not_one_is_a_config_error_not_a_new_sqlite_file(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from buildrunner.errors import ConfigError
    from buildrunner.store import database_url

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BR_DATABASE_URL", value)
    with pytest.raises(ConfigError, match="BR_DATABASE_URL=.*: not a database URL"):
        database_url()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("BR_DATABASE_URL", str(tmp_path / "shared.db"))  # an absolute path to a SQLite file is one
    assert database_url() == str(tmp_path / "shared.db")


@pytest.mark.parametrize("content", [b"garbage", b"SQLite format 3\x00" + b"\x07" * 200])
def test_a_damaged_database_file_says_to_move_it_aside(tmp_project: Path, run_br, content: bytes) -> None:
    database = tmp_project / ".buildrunner" / "buildrunner.db"
    database.write_bytes(content)
    r = run_br("telemetry", "summary")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"move it aside (mv {database} {database}.bad)" in r.stderr and "writable" not in r.stderr
    assert database.read_bytes() == content  # nothing written over what the user may want to inspect


def test_unreachable_postgres_is_one_clear_error() -> None:
    password = "hunter" + "22-not-real"
    with pytest.raises(StoreError, match="cannot connect") as caught:
        open_store(url="postgresql://postgres:" + password + "@127.0.0.1:1/test?connect_timeout=2")
    assert password not in str(caught.value)


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://127.0.0.1:1/test?connect_timeout=2&password={pw}",  # a password as a query parameter
        "postgresql://postgres:{pw}@127.0.0.1:1/test?sslpassword={pw}&connect_timeout=2",
        "postgresql://postgres:at@{pw}@127.0.0.1:1/test?connect_timeout=2",  # an "@" not written %40: the driver reads a host
        "postgresql://postgres:{pw}@qz@127.0.0.1:1/test?connect_timeout=2",  # ... whose first part is the password's last
    ],
)
def test_no_part_of_a_database_password_is_printed(template: str, run_br) -> None:
    password = "hunter" + "22NotReal"
    url = template.format(pw=password)
    for args in (("telemetry", "summary"), ("config", "show"), ("config", "show", "--format", "json")):
        result = run_br(*args, env={"BR_DATABASE_URL": url})
        assert password not in result.stdout + result.stderr, args
        assert "hunter" not in result.stdout + result.stderr and "qz@" not in result.stdout + result.stderr, args
    if "@" + password in url:  # the error says how to write it
        assert "as %40" in run_br("telemetry", "summary", env={"BR_DATABASE_URL": url}).stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db:5432/br?options=-c%20a@b", "postgresql://u:***@db:5432/br?options=-c%20a@b"),  # an "@" in the query is not userinfo
        ("postgresql://u:pa/ss@db/br", "postgresql://u:***@db/br"),  # a "/" in the password
        ("host=db password=se\\ cret dbname=br", "host=db password=*** dbname=br"),  # libpq's backslash escape
        ("host=db password='it\\'s' dbname=br", "host=db password=*** dbname=br"),
        ("postgresql://[::1]:5432/br?password=pw", "postgresql://[::1]:5432/br?password=***"),
    ],
)
def test_every_form_of_a_password_is_hidden_and_the_rest_kept(url: str, shown: str) -> None:
    from buildrunner.store import redact_url

    assert redact_url(url) == shown


def test_a_libpq_key_value_string_is_shown_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from buildrunner.errors import ConfigError
    from buildrunner.store import database_url

    monkeypatch.setenv("BR_DATABASE_URL", "host=db port=5432 password='s3cret value' dbname=br")
    with pytest.raises(ConfigError) as caught:
        database_url()
    assert "s3cret" not in str(caught.value) and "password=***" in str(caught.value)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = :a AND b = ?", "SELECT * FROM t WHERE a = %(a)s AND b = %s"),
        ("SELECT x::text FROM t WHERE y LIKE 'a%' AND z = ':notaparam'", "SELECT x::text FROM t WHERE y LIKE 'a%%' AND z = ':notaparam'"),
        ("SELECT 5 % 2", "SELECT 5 %% 2"),
        ("-- the database's clock, 5% off?\nSELECT :a", "-- the database's clock, 5%% off?\nSELECT %(a)s"),
        ("SELECT n FROM events /*index:events_outcome, 5%*/ WHERE ts >= :a", "SELECT n FROM events /*index:events_outcome, 5%%*/ WHERE ts >= %(a)s"),
    ],
)
def test_placeholder_rewrite_for_psycopg(sql: str, expected: str) -> None:
    assert to_pyformat(sql) == expected


def test_sqlite_errors_say_what_to_do_for_their_cause(tmp_path: Path) -> None:
    """A held lock said "check disk space and permissions"; a missing table the same."""
    import sqlite3

    from buildrunner.store.sqlite import _wrap

    locked = _wrap(sqlite3.OperationalError("database is locked"), tmp_path / "b.db")
    assert "another process holds it" in (locked.hint or "") and "disk space" not in (locked.hint or "")
    missing = _wrap(sqlite3.OperationalError("no such table: events"), tmp_path / "b.db")
    assert "not a complete BuildRunner store" in (missing.hint or "")
    full = _wrap(sqlite3.OperationalError("disk I/O error"), tmp_path / "b.db")
    assert "disk space" in (full.hint or "")
