"""The SQLite store's writer lock (`<db>-lock`): writers take turns, a dead holder frees it, a stuck one is a clear error."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from buildrunner.errors import StoreError
from buildrunner.store import open_store, open_stores
from buildrunner.store.sqlite import SQLiteStore

# Opens the store, writes a row inside a transaction, says so, and commits only after sleeping argv[2] seconds.
HOLDER = """
import sys, time
from pathlib import Path
from buildrunner.store.sqlite import SQLiteStore
store = SQLiteStore(Path(sys.argv[1]))
with store.transaction():
    store.execute("INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('uncommitted', 'x', 'running', 0, 0)")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_killed_holder_frees_the_lock_and_its_write_is_rolled_back(tmp_path: Path) -> None:
    db = tmp_path / "br.db"
    SQLiteStore(db).close()
    holder = hold_lock(db, 600)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    store = SQLiteStore(db, busy_timeout=5)
    with store.transaction():
        store.execute("INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('next', 'x', 'running', 0, 0)")
    assert [row["id"] for row in store.fetchall("SELECT id FROM sessions")] == ["next"]
    store.close()


def test_a_holder_that_never_lets_go_is_a_one_line_error_naming_the_lock(tmp_path: Path) -> None:
    db = tmp_path / "br.db"
    SQLiteStore(db).close()
    holder = hold_lock(db, 3)
    store = SQLiteStore(db, busy_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        with store.transaction():
            store.execute("INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('late', 'x', 'running', 0, 0)")
    assert time.monotonic() - started < 2.5  # gave up on our timeout, not the holder's release
    assert f"{db}-lock" in str(caught.value) and "write lock" in str(caught.value) and "\n" not in str(caught.value)
    holder.wait(10)
    with store.transaction():  # the holder committed and let go: writing works again
        store.execute("INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('late', 'x', 'running', 0, 0)")
    assert [row["id"] for row in store.fetchall("SELECT id FROM sessions ORDER BY id")] == ["late", "uncommitted"]
    store.close()


def test_threads_with_their_own_stores_take_turns(tmp_path: Path) -> None:
    """A worker's heartbeat thread has its own store: in one process the lock must still exclude."""
    db = tmp_path / "br.db"
    setup = SQLiteStore(db)
    setup.execute("INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('s', 'x', 'running', 0, 0)")
    setup.execute("INSERT INTO tasks (session_id, task_id, position, kind, status, cost) VALUES ('s', 'n', 0, 'command', 'x', 0)")
    inside = []

    def bump(times: int) -> None:
        store = SQLiteStore(db)
        for _ in range(times):
            with store.transaction():
                inside.append(1)
                assert len(inside) == 1, "two transactions held the lock at once"
                value = store.scalar("SELECT cost FROM tasks WHERE task_id = 'n'")
                store.execute("UPDATE tasks SET cost = ? WHERE task_id = 'n'", (value + 1,))
                inside.pop()
        store.close()

    threads = [threading.Thread(target=bump, args=(100,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert setup.scalar("SELECT cost FROM tasks WHERE task_id = 'n'") == 300
    setup.close()


def test_open_stores_counts_what_a_fork_would_carry(tmp_path: Path) -> None:
    gc.collect()  # a store an earlier test dropped is counted until collected: not in the middle of this count
    before = open_stores()
    store = open_store(url=str(tmp_path / "br.db"))
    assert open_stores() == before + 1
    store.close()
    assert open_stores() == before


def test_the_lock_file_gets_the_databases_permissions(tmp_path: Path) -> None:
    """A database shared by a group (made group-writable) gets a lock file the group can use too."""
    db = tmp_path / "br.db"
    SQLiteStore(db).close()
    Path(f"{db}-lock").unlink(missing_ok=True)
    db.chmod(0o664)
    old = os.umask(0o002)
    try:
        store = SQLiteStore(db)
        with store.transaction():
            store.execute("INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES ('g', 'x', 'running', 0, 0)")
        store.close()
    finally:
        os.umask(old)
    assert Path(f"{db}-lock").stat().st_mode & 0o777 == 0o664
