"""Telemetry at scale: ingest N events through EventCollector.collect_batch vs raw sqlite3,
then the wall time of `br telemetry summary --hours 720` and `br telemetry performance` over them.

Run: python bench/telemetry.py [--events 1000000] [--runs 3]
Targets (issue 5): batch ingest >= 100k events/s; each command <= 1 s.
The peer is raw sqlite3 `executemany` of the same, already-built rows into the same schema
(no validation, no masking): the floor our per-event work adds to.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DESCRIPTIONS = [
    "Add user authentication", "Fix bug #123 in the login form", "Refactor the payment module",
    "Write tests for the parser", "Update the API documentation", "Migrate settings to pydantic",
]
ERRORS = [
    "API timeout after {n}s", "rate limit exceeded (retry in {n} ms)", "exit status {n}",
    "worker w-{n} lost (heartbeat older than 30s)", "AssertionError in tests/test_{n}.py",
]


def make_events(n: int, days: int = 30, seed: int = 5) -> list[dict]:
    """A realistic mix: per task attempt started + model_selected + completed/failed (+retry)."""
    rng = random.Random(seed)
    start = time.time() - days * 86400
    step = days * 86400 / n
    out: list[dict] = []
    task = 0
    while len(out) < n:
        task += 1
        sid, tid = f"s{task // 200}", f"task-{task:06d}"
        ts = start + len(out) * step
        out.append({"type": "task_started", "session_id": sid, "task_id": tid, "worker_id": f"w{task % 4}",
                    "description": DESCRIPTIONS[task % len(DESCRIPTIONS)], "timestamp": ts, "metadata": {"attempt": 1, "model": "sonnet"}})
        out.append({"type": "model_selected", "session_id": sid, "task_id": tid, "timestamp": ts,
                    "metadata": {"model": "sonnet", "estimated_cost": 0.01, "complexity": "moderate"}})
        if rng.random() < 0.15:
            out.append({"type": "task_failed", "session_id": sid, "task_id": tid, "timestamp": ts + 1, "attempt": 1,
                        "duration_ms": rng.lognormvariate(7, 1), "error": rng.choice(ERRORS).format(n=rng.randint(1, 999))})
            out.append({"type": "task_retry", "session_id": sid, "task_id": tid, "timestamp": ts + 1, "attempt": 2, "max_attempts": 3})
        out.append({"type": "task_completed", "session_id": sid, "task_id": tid, "timestamp": ts + 2, "attempt": 1,
                    "duration_ms": rng.lognormvariate(7, 1), "cost": rng.random() / 50})
    return out[:n]


def project_dir(root: Path) -> Path:
    (root / ".buildrunner").mkdir(parents=True)
    return root


def ingest_ours(root: Path, events: list[dict], chunk: int) -> float:
    from buildrunner.project import Project
    from buildrunner.telemetry.event_collector import EventCollector

    with Project(root) as project:
        collector = EventCollector(project)
        project.store  # open and migrate outside the timing
        begin = time.perf_counter()
        for i in range(0, len(events), chunk):
            collector.collect_batch(events[i : i + chunk])
        return time.perf_counter() - begin


def raw_rows(root: Path, events: list[dict]) -> list[tuple]:
    """The rows our collector would write, built outside any timing."""
    from buildrunner.project import Project
    from buildrunner.telemetry.event_collector import EventCollector

    with Project(root) as project:
        collector = EventCollector(project)
        return [collector._row(e) for e in events]


def raw_insert(path: Path, rows: list[tuple], chunk: int, schema: list[str]) -> float:
    """sqlite3 executemany of `rows` in `chunk`-sized transactions into a database made by `schema`."""
    from buildrunner.store import open_store

    with open_store(url=str(path.parent / "query-source.db")) as store:  # the collector's own statement, for SQLite
        insert_sql = store.query("telemetry", "insert_event")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        conn.execute(statement)
    begin = time.perf_counter()
    for i in range(0, len(rows), chunk):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_sql, rows[i : i + chunk])
        conn.execute("COMMIT")
    took = time.perf_counter() - begin
    conn.close()
    return took


def ingest_raw(root: Path, rows: list[tuple], chunk: int) -> float:
    """Raw sqlite3 into our schema (same indexes): what the store itself costs."""
    from buildrunner.store import open_store

    path = root / ".buildrunner" / "buildrunner.db"
    open_store(url=str(path)).close()
    return raw_insert(path, rows, chunk, [])


def ingest_bare(root: Path, rows: list[tuple], chunk: int) -> float:
    """Raw sqlite3 into a bare events table (primary key only): the floor, as in the issue's 570k/s."""
    columns = "ts REAL, type TEXT, session_id TEXT, task_id TEXT, worker_id TEXT, duration_ms REAL, cost REAL, error TEXT, message TEXT, data TEXT, error_key TEXT"
    return raw_insert(root / "bare.db", rows, chunk, [f"CREATE TABLE events (id INTEGER PRIMARY KEY, {columns})"])


def command_s(br: str, root: Path, args: list[str], runs: int) -> tuple[float, float]:
    """(median, best) wall time of `br args` in `root` (best is the least disturbed by load)."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("BR_DATABASE_URL", None)
    subprocess.run([br, *args], cwd=root, capture_output=True, env=env, check=True)
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run([br, *args], cwd=root, capture_output=True, env=env, check=True)
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000, help="events per collect_batch call")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    br = shutil.which("br", path=str(Path(sys.executable).parent)) or shutil.which("br")
    if br is None:
        sys.exit("br is not installed in this environment: pip install -e .")
    os.environ.pop("BR_DATABASE_URL", None)
    print(f"load before: {os.getloadavg()[0]:.2f}  nproc: {os.cpu_count()}")
    events = make_events(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        ours_root, raw_root = project_dir(Path(tmp) / "ours"), project_dir(Path(tmp) / "raw")
        rows = raw_rows(raw_root, events)
        bare = ingest_bare(Path(tmp), rows, args.chunk)
        raw = ingest_raw(raw_root, rows, args.chunk)
        del rows
        ours = ingest_ours(ours_root, events, args.chunk)
        n = len(events)
        print(f"raw sqlite3, bare table        : {n / bare:>10,.0f} events/s ({bare:.2f} s)")
        print(f"raw sqlite3, our schema+indexes: {n / raw:>10,.0f} events/s ({raw:.2f} s)")
        print(f"EventCollector.collect_batch   : {n / ours:>10,.0f} events/s ({ours:.2f} s)  "
              f"{ours / raw:.2f}x the raw time on the same schema, {ours / bare:.2f}x the bare table; target >= 100,000/s")
        for label, cmd in (
            ("br telemetry summary --hours 720", ["telemetry", "summary", "--hours", "720"]),
            ("br telemetry performance", ["telemetry", "performance"]),
            ("br telemetry performance --hours 720", ["telemetry", "performance", "--hours", "720"]),
        ):
            took, best = command_s(br, ours_root, cmd, args.runs)
            print(f"{label:<38}: {took:6.3f} s median of {args.runs}, best {best:.3f} s; target <= 1 s")
        bare, _ = command_s(sys.executable, ours_root, ["-c", "pass"], args.runs)
        help_s, _ = command_s(br, ours_root, ["--version"], args.runs)
        print(f"{'python -c pass / br --version (scale)':<38}: {bare:6.3f} s / {help_s:.3f} s")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
