"""`br routing costs --period month` over 1M cost records on SQLite (target: <= 0.5 s).

Builds a throw-away project whose store holds N records (default 1,000,000) spread over the
current month, then times, on the same database in one run:

- ours: the real `br routing costs --period month` (a subprocess, so Python start-up and
  imports are included) and `CostTracker.get_summary("month")` alone;
- floor: `br --version`, the same start-up with no work, to show what the command adds;
- peer: the obvious implementation, fetching the month's rows and summing in Python.

Also checks both give the same total. Usage: python bench/routing_costs.py [N]
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7


def populate(root: Path, count: int) -> float:
    from buildrunner.project import Project
    from buildrunner.routing.cost_tracker import period_start

    start = period_start("month")
    assert start is not None
    end = time.time()
    rng = random.Random(7)
    tiers = [("haiku", "claude-haiku-4-5", 1.0, 5.0), ("sonnet", "claude-sonnet-4-5", 3.0, 15.0), ("opus", "claude-opus-4-5", 5.0, 25.0)]
    with Project(root) as project:
        store = project.store
        sql = (
            "INSERT INTO cost_records (ts, model, model_id, input_tokens, output_tokens, cost, latency_ms, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'bench')"
        )
        batch = 50_000
        for offset in range(0, count, batch):
            rows = []
            for _ in range(min(batch, count - offset)):
                tier, model_id, pin, pout = tiers[rng.randrange(3)]
                i, o = rng.randrange(1_000, 50_000), rng.randrange(100, 5_000)
                rows.append((rng.uniform(start, end), tier, model_id, i, o, (i * pin + o * pout) / 1e6, rng.uniform(300, 3000)))
            with store.transaction():
                store.executemany(sql, rows)
        store.execute("ANALYZE")
    return start


def peer_total(db: Path, start: float) -> tuple[float, float]:
    """Fetch the period's rows and aggregate in Python (what a naive tracker does)."""
    import sqlite3

    began = time.perf_counter()
    conn = sqlite3.connect(db)
    by_model: dict[str, float] = {}
    by_day: dict[str, float] = {}
    for ts, model, cost in conn.execute("SELECT ts, model, cost FROM cost_records WHERE ts >= ?", (start,)):
        by_model[model] = by_model.get(model, 0.0) + cost
        day = time.strftime("%Y-%m-%d", time.localtime(ts))
        by_day[day] = by_day.get(day, 0.0) + cost
    conn.close()
    return time.perf_counter() - began, sum(by_model.values())


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".buildrunner").mkdir()
        began = time.perf_counter()
        start = populate(root, count)
        print(f"populated {count:,} records in {time.perf_counter() - began:.1f} s")

        from buildrunner.project import Project
        from buildrunner.routing.cost_tracker import CostTracker

        env = {**os.environ, "NO_COLOR": "1"}
        env.pop("BR_DATABASE_URL", None)
        cli, lib, peer, floor = [], [], [], []
        total = peer_sum = 0.0
        for _ in range(RUNS):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "buildrunner", "routing", "costs", "--period", "month"], cwd=root, env=env, capture_output=True, text=True)
            cli.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                print(proc.stderr)
                return 1
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "buildrunner", "--version"], cwd=root, env=env, capture_output=True)
            floor.append(time.perf_counter() - t0)
            with Project(root) as project:
                t0 = time.perf_counter()
                total = CostTracker(project).get_summary("month").total_cost
                lib.append(time.perf_counter() - t0)
            seconds, peer_sum = peer_total(root / ".buildrunner" / "buildrunner.db", start)
            peer.append(seconds)
        same = abs(total - peer_sum) < 1e-6 * max(1.0, peer_sum)
        med = statistics.median
        print(f"br routing costs --period month (end to end): median {med(cli):.3f} s (min {min(cli):.3f})")
        print(f"floor: br --version (start-up, no work):      median {med(floor):.3f} s (min {min(floor):.3f})")
        print(f"CostTracker.get_summary('month') alone:       median {med(lib):.3f} s")
        print(f"peer (fetch rows, sum in Python):             median {med(peer):.3f} s")
        print(f"ratio peer / ours (library): {med(peer) / med(lib):.1f}x; totals agree: {same} (${total:,.2f})")
        print(f"target <= 0.5 s end to end: {'met' if med(cli) <= 0.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
