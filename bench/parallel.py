"""Parallel sessions against xargs -P 3 and GNU parallel -j 3, kill -9 survival, and start time of a big plan.

Run: python bench/parallel.py [--tasks 1000] [--workers 3] [--big 10000]
Targets (issue 6): throughput >= 0.5x xargs and >= 2x GNU parallel on 1,000 `true` tasks with
every state change persisted; 0 lost and 0 duplicated completions under random kill -9 of
workers; the start time of a 10,000-task plan.

Each run happens in a fresh temporary git project with its own SQLite store, using the
real `br` (python -m buildrunner) and real worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BR = [sys.executable, "-m", "buildrunner"]
# Default settings, except short heartbeats so the kill run does not wait 30 s per lost worker.
CONFIG = {"parallel": {"heartbeat_timeout": 5, "heartbeat_interval": 0.5, "retry_backoff": 0.1}}


def fmt(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def project(base: Path, name: str) -> Path:
    root = base / name
    (root / ".buildrunner").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".buildrunner" / "config.json").write_text(json.dumps(CONFIG))
    return root


def plan(root: Path, count: int, command: str) -> Path:
    path = root / "plan.json"
    path.write_text(json.dumps({"tasks": [{"id": f"t{i:05d}", "command": command} for i in range(count)]}))
    return path


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BR_")} | {"NO_COLOR": "1"}


def timed(cmd: list[str] | str, cwd: Path | None = None, shell: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, shell=shell, check=True, env=env(), stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def ours(base: Path, tasks: int, workers: int) -> tuple[float, dict[str, int]]:
    root = project(base, "throughput")
    path = plan(root, tasks, "true")
    seconds = timed([*BR, "parallel", "start", "bench", "--config", str(path), "--workers", str(workers), "--wait"], cwd=root)
    from buildrunner.store import open_store

    with open_store(url=str(root / ".buildrunner" / "buildrunner.db")) as store:
        counts = {
            "completed_tasks": store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'completed'"),
            "attempt_rows": store.scalar("SELECT COUNT(*) FROM task_attempts"),
            "events": store.scalar("SELECT COUNT(*) FROM events"),
            "log_files": len(list((root / ".buildrunner" / "logs").glob("*/*.log"))),
        }
    return seconds, counts


def kill_run(base: Path, tasks: int, workers: int, seed: int = 6) -> dict[str, float]:
    """Kill -9 a random busy worker every ~0.4 s, start a replacement; count lost and duplicated completions."""
    from buildrunner.store import open_store

    rng = random.Random(seed)
    root = project(base, "kill")
    marks = root / "marks"
    marks.mkdir()
    path = plan(root, tasks, f'sleep 0.02; echo "$BR_TASK_ID" >> {marks}/done.txt')
    out = subprocess.run([*BR, "parallel", "start", "kill", "--config", str(path), "--workers", str(workers), "--format", "json"],
                         cwd=root, env=env(), check=True, capture_output=True, text=True)
    sid = json.loads(out.stdout)["session_id"]
    store = open_store(url=str(root / ".buildrunner" / "buildrunner.db"))
    kills = 0
    replacements: list[subprocess.Popen[bytes]] = []
    started = time.perf_counter()
    while store.scalar("SELECT status FROM sessions WHERE id = ?", (sid,)) == "running":
        time.sleep(rng.uniform(0.2, 0.6))
        busy = store.fetchall("SELECT pid FROM workers WHERE session_id = ? AND status = 'active'", (sid,))
        if busy and store.scalar("SELECT status FROM sessions WHERE id = ?", (sid,)) == "running":
            try:
                os.kill(rng.choice(busy)["pid"], signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                continue
            replacements.append(subprocess.Popen([*BR, "parallel", "worker", sid], cwd=root, env=env(),
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        if time.perf_counter() - started > 600:
            raise SystemExit("kill run did not finish in 10 minutes")
    for proc in replacements:
        proc.wait(timeout=60)
    completed = store.fetchall(
        "SELECT task_id, COUNT(*) AS n FROM task_attempts WHERE session_id = ? AND status = 'completed' GROUP BY task_id", (sid,)
    )
    result = {
        "tasks": tasks,
        "kills": kills,
        "session_status": store.scalar("SELECT status FROM sessions WHERE id = ?", (sid,)),
        "lost_completions": tasks - len(completed),
        "duplicated_completions": sum(row["n"] - 1 for row in completed),
        "attempts_lost_and_rerun": store.scalar("SELECT COUNT(*) FROM task_attempts WHERE session_id = ? AND status = 'lost'", (sid,)),
        "task_side_effects_run_twice": len((marks / "done.txt").read_text().split()) - len(set((marks / "done.txt").read_text().split())),
        "seconds": round(time.perf_counter() - started, 2),
    }
    store.close()
    return result


def big_start(base: Path, count: int) -> dict[str, float]:
    """Wall time of `br parallel start` on a `count`-task plan (validate, store, launch), then stop it."""
    root = project(base, "big")
    path = plan(root, count, "true")
    out_started = time.perf_counter()
    out = subprocess.run([*BR, "parallel", "start", "big", "--config", str(path), "--workers", "3", "--format", "json"],
                         cwd=root, env=env(), check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - out_started
    sid = json.loads(out.stdout)["session_id"]
    subprocess.run([*BR, "parallel", "stop", sid, "--force"], cwd=root, env=env(), check=True, capture_output=True)
    return {"tasks": count, "start_seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--kill-tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="br-bench-parallel-"))
    try:
        print(f"machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        n, w = args.tasks, args.workers
        has_gnu = shutil.which("parallel") is not None
        if not has_gnu:
            print("GNU parallel: not installed, skipped (apt-get install parallel)")
        runs: dict[str, list[float]] = {"xargs": [], "xargs_sh": [], "gnu": [], "ours": []}
        for run in range(args.runs):
            # Interleaved, so a burst of load from elsewhere hits all alike. `true` is run directly
            # by xargs (-n 1) and by us (a command without shell syntax skips the shell, as make does);
            # `xargs_sh` shows the cost of a shell per task for reference.
            runs["xargs"].append(timed(f"seq {n} | xargs -P {w} -n 1 true", shell=True))
            runs["xargs_sh"].append(timed(f"seq {n} | xargs -P {w} -I{{}} sh -c true", shell=True))
            if has_gnu:
                runs["gnu"].append(timed(f"seq {n} | parallel -j {w} true", shell=True))
            seconds, counts = ours(base / f"run{run}", n, w)
            runs["ours"].append(seconds)
        xargs, seconds = statistics.median(runs["xargs"]), statistics.median(runs["ours"])
        gnu = statistics.median(runs["gnu"]) if has_gnu else None
        xargs_sh = statistics.median(runs["xargs_sh"])
        print(f"xargs -P {w} -n 1 true: {n} tasks in {xargs:6.2f} s  ({n / xargs:7.1f} tasks/s)  median of {args.runs}: {fmt(runs['xargs'])}")
        print(f"xargs -P {w} sh -c true: {n} tasks in {xargs_sh:6.2f} s  ({n / xargs_sh:7.1f} tasks/s)  median of {args.runs}: {fmt(runs['xargs_sh'])}")
        if gnu:
            print(f"GNU parallel -j {w}: {n} tasks in {gnu:6.2f} s  ({n / gnu:7.1f} tasks/s)  median of {args.runs}: {fmt(runs['gnu'])}")
        print(f"br parallel ({w} workers): {n} tasks in {seconds:6.2f} s  ({n / seconds:7.1f} tasks/s)  median of {args.runs}: {fmt(runs['ours'])}")
        print(f"  persisted (last run): {counts}")
        print(f"ratio vs xargs: {xargs / seconds:.2f}x throughput (target >= 0.5x); vs xargs with a shell per task: {xargs_sh / seconds:.2f}x")
        if gnu:
            print(f"ratio vs GNU parallel: {gnu / seconds:.2f}x throughput (target >= 2x)")
        print(f"load after throughput runs: {os.getloadavg()[0]:.2f}")
        print("kill -9 run:", json.dumps(kill_run(base, args.kill_tasks, w)))
        print("big plan start:", json.dumps(big_start(base, args.big)))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
