"""Named SQL: our store layer against aiosql, on what a worker runs per task (issue 11: library unless measured worse).

Run: python bench/store_queries.py [--tasks 2000] [--runs 7] [--e2e-runs 5] [--postgres URL | --no-postgres]

Three parts, each printing ours, aiosql and the ratio:
  load       can aiosql load `store/queries/*.sql` and rewrite it for psycopg as `to_pyformat` does
             (per-engine variants, `{clock}`, `?` statements, literals with `%`, comments with apostrophes,
             the `/*index:NAME*/` hints the telemetry queries give SQLite)
  per-task   the statements one task costs the worker (traced from a real session: lock_session, get_task,
             finish_attempt, worker_idle, finish_task, claim_task, insert_attempt, worker_busy and two
             events by executemany), in one write transaction as `record_and_claim` runs them: client CPU
             per task and Python function calls per task (the latter does not move with the machine's
             load), ours (`store.query` + `execute`/`fetchone`/`executemany`) against aiosql's generated
             functions on the same connection; on PostgreSQL also our layer as it was before the
             rewrite was cached (`before`)
  e2e        `br parallel start --wait` of 1,000 `true` tasks on 3 workers (SQLite), ours against a
             prototype in which every named statement of the store runs through aiosql's functions,
             interleaved

aiosql is in the `bench` extra (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiosql

from buildrunner.store import Store, open_store
from buildrunner.store import postgres as pg_store
from buildrunner.store.base import _query_file
from buildrunner.store.postgres import to_pyformat

sys.path.insert(0, str(Path(__file__).parent))
import parallel as parallel_bench  # noqa: E402 - the throughput bench's helpers (project, timed run)

CAPABILITIES = ("parallel", "routing", "store", "telemetry")
PG_URL = os.environ.get("BR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# The one `?` statement a worker runs (executemany of events), as named parameters: aiosql rewrites no `?`.
EVENT_COLUMNS = ("ts", "type", "session_id", "task_id", "worker_id", "duration_ms", "cost", "error", "message", "data", "error_key")
logging.getLogger("aiosql").setLevel(logging.ERROR)  # it warns on every statement without an operation suffix


def engine_text(capability: str, dialect: str, clock: str, named_events: bool = False) -> str:
    """Our file as aiosql needs it for one engine: variants resolved, `{clock}` substituted, operation suffixes added."""
    queries = _query_file(capability)
    out = []
    for (name, variant), sql in queries.items():
        if variant not in (None, dialect) or (variant is None and (name, dialect) in queries):
            continue
        if named_events and name.startswith("insert_event"):
            sql = sql.replace(f"({', '.join('?' * len(EVENT_COLUMNS))})", f"({', '.join(':' + c for c in EVENT_COLUMNS)})")
        upper = sql.lstrip().upper()
        op = "*!" if name == "insert_event" else "^" if upper.startswith(("SELECT", "WITH")) or "RETURNING" in upper else "!"
        out.append(f"-- name: {name}{op}\n{sql.replace('{clock}', clock)};\n")
    return "\n".join(out)


def load_check(pg: Store | None) -> None:
    print("== load: our query files through aiosql", aiosql.__version__ if hasattr(aiosql, "__version__") else "")
    for capability in CAPABILITIES:
        text = (Path(pg_store.__file__).parent / "queries" / f"{capability}.sql").read_text(encoding="utf-8")
        try:
            loaded = aiosql.from_str(text, "psycopg", mandatory_parameters=False)
            print(f"  {capability}.sql as it is: loaded, {len(loaded.available_queries)} statements")
        except Exception as exc:  # noqa: BLE001 - reporting what the library says
            print(f"  {capability}.sql as it is: {type(exc).__name__}: {exc}")
    differ = []
    for capability in CAPABILITIES:
        loaded = aiosql.from_str(engine_text(capability, "postgres", pg_store.PostgresStore.clock_sql), "psycopg", mandatory_parameters=False)
        for (name, variant), sql in _query_file(capability).items():
            if variant == "sqlite" or (variant is None and (name, "postgres") in _query_file(capability)):
                continue
            body = "\n".join(line for line in sql.replace("{clock}", pg_store.PostgresStore.clock_sql).splitlines() if not line.lstrip().startswith("--"))
            if to_pyformat(body).strip() != getattr(loaded, name).sql.strip().rstrip(";"):
                differ.append(f"{capability}.{name}")
    print(f"  after resolving variants and {{clock}} ourselves, for psycopg: {len(differ)} statements differ from to_pyformat: {', '.join(differ)}")
    cases = {
        "a literal with %": "SELECT id FROM sessions WHERE name LIKE 'Sprint%' AND id = :id",
        "a positional ? statement": "SELECT id FROM sessions WHERE id = ?",
        "trailing comments with apostrophes": "SELECT :id AS x -- the worker's id\n  , :name AS y -- the task's name",
        "a literal with a colon, a cast": "SELECT ':notaparam' AS x, CAST(:id AS TEXT)::text AS y",
    }
    hint = "SELECT COUNT(*) AS n FROM events /*index:events_outcome*/ WHERE ts >= :id"
    for label, sql in {**cases, "an index hint, SQLite (our telemetry reads make it INDEXED BY)": hint}.items():
        driver = "sqlite3" if label.startswith("an index hint") else "psycopg"
        theirs = aiosql.from_str(f"-- name: q\n{sql};", driver, mandatory_parameters=False, kwargs_only=False).q.sql.rstrip(";")
        ours = to_pyformat(sql) if driver == "psycopg" else sql
        verdict = "same" if theirs == ours else "differs"
        if pg is not None and theirs != ours and driver == "psycopg":
            verdict += f"; aiosql's on PostgreSQL: {run_outcome(pg, theirs)}; ours: {run_outcome(pg, ours)}"
        print(f"  {label}: {verdict}\n    ours:   {ours!r}\n    aiosql: {theirs!r}")


def run_outcome(pg: Store, sql: str) -> str:
    conn = pg._conn  # the driver's own connection: run exactly this text, no rewrite of ours on top
    params: dict[str, Any] | tuple[Any, ...] = ("s1",) if "%s" in sql else {"id": "s1", "name": "n"}
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql, params)
        return "ran"
    except Exception as exc:  # noqa: BLE001 - reporting what the driver says
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"


class PerTask:
    """One task's statements, ours and aiosql's, on one store; each variant gets its own session of tasks."""

    def __init__(self, store: Store, tasks: int) -> None:
        self.store, self.tasks = store, tasks
        driver = "sqlite3" if store.dialect == "sqlite" else "psycopg"
        self.q = {cap: aiosql.from_str(engine_text(cap, store.dialect, store.clock_sql, True), driver, mandatory_parameters=False)
                  for cap in ("parallel", "telemetry")}

    def session(self) -> tuple[str, str]:
        store, sid = self.store, f"bench-{uuid.uuid4().hex[:8]}"
        store.execute(store.query("parallel", "insert_session"), {"id": sid, "name": sid, "plan": "{}", "project_root": "/", "total_tasks": self.tasks + 40,
                                                                  "num_workers": 1, "cost_limit": None, "now": time.time()})
        store.executemany(store.query("parallel", "insert_task"), [
            {"session_id": sid, "task_id": f"t{i:06d}", "position": i, "description": "", "kind": "command", "command": "true", "prompt": None,
             "model": None, "depends_on": "[]", "timeout": 60.0, "max_retries": 0, "env": "{}", "cwd": None, "isolation": "none",
             "status": "pending", "cost_limit": None, "waiting_on": 0, "agent_command": None} for i in range(self.tasks + 40)])
        wid = f"w-{sid}"
        store.execute(store.query("parallel", "insert_worker"), {"id": wid, "session_id": sid, "name": "w", "hostname": "h", "pid": 1, "process_started": 0.0})
        return sid, wid

    @staticmethod
    def events(sid: str, task: str, wid: str) -> list[dict[str, Any]]:
        return [dict(zip(EVENT_COLUMNS, (time.time(), kind, sid, task, wid, 1.0, 0.0, None, None, "{}", None))) for kind in ("task_completed", "task_started")]

    def ours(self, sid: str, wid: str, state: dict[str, str]) -> None:
        store, q = self.store, self.store.query
        with store.transaction():
            if "task" in state:
                p = {"session_id": sid, "task_id": state["task"], "attempt": 1, "worker_id": wid, "now": time.time()}
                store.fetchone(q("parallel", "lock_session"), {"session_id": sid})
                store.fetchone(q("parallel", "get_task"), p)
                store.execute(q("parallel", "finish_attempt"), {**p, "status": "completed", "exit_code": 0, "error": None, "duration_ms": 1.0, "cost": 0.0, "model": None, "pid": 1})
                store.execute(q("parallel", "worker_idle"), {**p, "completed": 1})
                store.execute(q("parallel", "finish_task"), {**p, "status": "completed", "exit_code": 0, "error": None, "cost": 0.0, "model": None})
            row = store.fetchone(q("parallel", "claim_task"), {"session_id": sid, "worker_id": wid, "now": time.time()})
            assert row is not None
            p = {"session_id": sid, "task_id": row["task_id"], "attempt": row["attempts"], "worker_id": wid, "now": time.time()}
            store.execute(q("parallel", "insert_attempt"), {**p, "log_path": "/x"})
            store.execute(q("parallel", "worker_busy"), p)
            store.executemany(q("telemetry", "insert_event"), [tuple(e.values()) for e in self.events(sid, row["task_id"], wid)])
            state["task"] = row["task_id"]

    def aiosql(self, sid: str, wid: str, state: dict[str, str]) -> None:
        store, conn, P, T = self.store, self.store._conn, self.q["parallel"], self.q["telemetry"]
        with store.transaction():
            if "task" in state:
                p = {"session_id": sid, "task_id": state["task"], "attempt": 1, "worker_id": wid, "now": time.time()}
                P.lock_session(conn, session_id=sid)
                P.get_task(conn, **p)
                P.finish_attempt(conn, **p, status="completed", exit_code=0, error=None, duration_ms=1.0, cost=0.0, model=None, pid=1)
                P.worker_idle(conn, **p, completed=1)
                P.finish_task(conn, **p, status="completed", exit_code=0, error=None, cost=0.0, model=None)
            row = dict(P.claim_task(conn, session_id=sid, worker_id=wid, now=time.time()))
            p = {"session_id": sid, "task_id": row["task_id"], "attempt": row["attempts"], "worker_id": wid, "now": time.time()}
            P.insert_attempt(conn, **p, log_path="/x")
            P.worker_busy(conn, **p)
            T.insert_event(conn, self.events(sid, row["task_id"], wid))
            state["task"] = row["task_id"]

    def before(self, sid: str, wid: str, state: dict[str, str]) -> None:
        with uncached_rewrite():
            self.ours(sid, wid, state)


@contextlib.contextmanager
def uncached_rewrite() -> Iterator[None]:
    """Our PostgreSQL layer as it was before this bench: the rewrite on every call, `description` built for every fetch."""
    cached, fetchall = pg_store.to_pyformat, pg_store.PostgresStore.fetchall

    def old_fetchall(self: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self._run(sql, params)
        return list(cur.fetchall()) if cur.description else []

    pg_store.to_pyformat, pg_store.PostgresStore.fetchall = cached.__wrapped__, old_fetchall  # type: ignore[assignment,attr-defined]
    try:
        yield
    finally:
        pg_store.to_pyformat, pg_store.PostgresStore.fetchall = cached, fetchall  # type: ignore[method-assign]


def per_task(store: Store, tasks: int, runs: int) -> None:
    bench = PerTask(store, tasks)
    variants: dict[str, Callable[[str, str, dict[str, str]], None]] = {"ours": bench.ours, "aiosql": bench.aiosql}
    if store.dialect == "postgres":
        variants["before"] = bench.before
    calls = {}
    for label, cycle in variants.items():  # function calls: deterministic, after a warm-up (psycopg prepares after 5 runs)
        sid, wid = bench.session()
        state: dict[str, str] = {}
        for _ in range(20):
            cycle(sid, wid, state)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(20):
            cycle(sid, wid, state)
        profile.disable()
        calls[label] = pstats.Stats(profile).total_calls / 20  # type: ignore[attr-defined]
    cpu: dict[str, list[float]] = {label: [] for label in variants}
    wall: dict[str, list[float]] = {label: [] for label in variants}
    for run in range(runs):
        order = list(variants.items())
        for label, cycle in order if run % 2 == 0 else reversed(order):
            sid, wid = bench.session()
            state = {}
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(tasks):
                cycle(sid, wid, state)
            cpu[label].append((time.process_time() - cpu_started) / tasks * 1e6)
            wall[label].append((time.perf_counter() - started) / tasks * 1e6)
    print(f"== per task on {store.dialect} ({tasks} tasks x {runs} runs, interleaved; load {parallel_bench.load()})")
    for label in variants:
        print(f"  {label:7s} {statistics.median(cpu[label]):7.1f} us client CPU per task ({' '.join(f'{v:.0f}' for v in cpu[label])}), "
              f"wall {statistics.median(wall[label]):7.1f} us, {calls[label]:5.0f} Python calls per task")
    ratio = statistics.median(cpu["aiosql"]) / statistics.median(cpu["ours"])
    print(f"  aiosql / ours: {ratio:.3f}x CPU per task, {calls['aiosql'] / calls['ours']:.3f}x calls"
          + (f"; aiosql / before: {statistics.median(cpu['aiosql']) / statistics.median(cpu['before']):.3f}x CPU, "
             f"{calls['aiosql'] / calls['before']:.3f}x calls" if "before" in variants else ""))


# The end-to-end prototype: loaded at interpreter start (as sitecustomize) in `br` and its workers.
PROTOTYPE = '''
import os
if os.environ.get("AIOSQL_PROTOTYPE") == "1":
    import logging, sqlite3
    import aiosql
    from buildrunner.store import sqlite as sqlite_store
    from buildrunner.store.base import _query_file
    logging.getLogger("aiosql").setLevel(logging.ERROR)
    BY_SQL = {}
    for cap in ("parallel", "routing", "store", "telemetry"):
        texts, bodies = [], {}
        for (name, variant), sql in _query_file(cap).items():
            if variant not in (None, "sqlite") or (variant is None and (name, "sqlite") in _query_file(cap)):
                continue
            body = sql.replace("{clock}", sqlite_store.SQLiteStore.clock_sql)
            texts.append(f"-- name: {name}_rows\\n{body};\\n-- name: {name}_count!\\n{body};\\n-- name: {name}_many*!\\n{body};\\n")
            bodies[name] = body
        loaded = aiosql.from_str("\\n".join(texts), "sqlite3", mandatory_parameters=False, kwargs_only=False)
        for name, body in bodies.items():
            BY_SQL[body] = (getattr(loaded, name + "_rows"), getattr(loaded, name + "_count"), getattr(loaded, name + "_many"))
    S = sqlite_store.SQLiteStore
    execute, executemany, fetchall = S.execute, S.executemany, S.fetchall
    def call(fn, conn, params):
        return fn(conn, **params) if isinstance(params, dict) else fn(conn, *params)
    def p_execute(self, sql, params=()):
        fns = BY_SQL.get(sql)
        if fns is None:
            return execute(self, sql, params)
        try:
            return call(fns[1], self._conn, params)
        except sqlite3.Error as exc:
            raise sqlite_store._wrap(exc, self.path) from None
    def p_executemany(self, sql, rows):
        fns = BY_SQL.get(sql)
        if fns is None:
            return executemany(self, sql, rows)
        try:
            fns[2](self._conn, rows)
        except sqlite3.Error as exc:
            raise sqlite_store._wrap(exc, self.path) from None
    def p_fetchall(self, sql, params=()):
        fns = BY_SQL.get(sql)
        if fns is None:
            return fetchall(self, sql, params)
        try:
            return [dict(row) for row in call(fns[0], self._conn, params)]
        except sqlite3.Error as exc:
            raise sqlite_store._wrap(exc, self.path) from None
    S.execute, S.executemany, S.fetchall = p_execute, p_executemany, p_fetchall
'''


def e2e(runs: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="br-bench-queries-"))
    (base / "site").mkdir()
    (base / "site" / "sitecustomize.py").write_text(PROTOTYPE)
    os.environ["PYTHONPATH"] = str(base / "site")
    seconds: dict[str, list[float]] = {"ours": [], "aiosql": []}
    print(f"== end to end: br parallel start --wait, 1,000 `true` tasks, 3 workers, SQLite (load before {parallel_bench.load()})")
    for run in range(runs):
        order = ["ours", "aiosql"]
        for label in order if run % 2 == 0 else reversed(order):
            os.environ["AIOSQL_PROTOTYPE"] = "1" if label == "aiosql" else "0"
            took, counts = parallel_bench.ours(base / f"{label}{run}", 1000, 3)
            if counts["completed_tasks"] != 1000:
                raise SystemExit(f"{label}: {counts}")
            seconds[label].append(took)
    for label, values in seconds.items():
        print(f"  {label:7s} {statistics.median(values):6.3f} s median of {runs}: {parallel_bench.fmt(values)}")
    print(f"  aiosql / ours: {statistics.median(seconds['aiosql']) / statistics.median(seconds['ours']):.3f}x wall time; load after {parallel_bench.load()}")


@contextlib.contextmanager
def postgres(url: str) -> Iterator[Store | None]:
    """A store on a fresh schema of the PostgreSQL server, dropped afterwards; None when there is no server."""
    try:
        import psycopg
        import psycopg.sql

        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - no server: the SQLite parts still run
        print(f"PostgreSQL at {url}: not reachable ({type(exc).__name__}), skipped")
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(schema)))
    try:
        sep = "&" if "?" in url else "?"
        with open_store(url=f"{url}{sep}options=-csearch_path%3D{schema}") as store:
            yield store
    finally:
        admin.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(schema)))
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per per-task run (PostgreSQL: half)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--e2e-runs", type=int, default=5, help="0 skips the end-to-end runs")
    parser.add_argument("--postgres", default=PG_URL)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: nproc {os.cpu_count()}, {parallel_bench.cpu_model()}; {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load {parallel_bench.load()}")
    with postgres(args.postgres) if not args.no_postgres else contextlib.nullcontext() as pg:
        load_check(pg)
        with tempfile.TemporaryDirectory() as folder, open_store(url=str(Path(folder) / "bench.db")) as lite:
            per_task(lite, args.tasks, args.runs)
        if pg is not None:
            per_task(pg, args.tasks // 2, args.runs)
    if args.e2e_runs:
        e2e(args.e2e_runs)
    print(f"load at the end: {parallel_bench.load()}")


if __name__ == "__main__":
    main()
