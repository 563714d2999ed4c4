"""Parallel sessions: throughput against xargs -P 3 and GNU parallel -j 3, dependency scaling, kill -9, big-plan start.

Run: python bench/parallel.py [--runs 3] [--mode throughput --mode deps --mode kill --mode start]

Modes (default: all of them, in one run):
  throughput  1,000 `true` tasks on 3 workers against `xargs -P 3` and GNU `parallel -j 3`
              (target, issues 6 and 11: >= 0.5x xargs; >= 2x GNU parallel), and a session of one
              task: the fixed cost, against which the time 0.5x leaves for the other tasks is shown
  deps        a 10,000-task fan-in (10,000 tasks and one that depends on all of them) against the
              same 10,001 tasks without dependencies, and a 5,000-task chain against the same
              5,000 tasks without dependencies, each with 3 workers and with 1 worker
              (target, issue 11: each <= 1.5x the wall time of its flat run)
  kill        0 lost and 0 duplicated completions under random kill -9 of workers (1,000 tasks)
  start       wall time of `br parallel start` of a 10,000-task plan

Throughput and dependency runs are interleaved (`--runs` rounds, each measuring every pair, the
order of each pair alternating between rounds), so a burst of load from elsewhere hits ours and
the peer alike; figures are medians. Each figure also gives the CPU seconds of the run and of
everything it started (the bench is a child subreaper, so it reaps the detached workers and
their tasks): unlike wall time on a shared machine, that does not move with other load. A chain cannot run in parallel: with 3 workers its ratio
to the flat run is bounded by the parallelism the flat run gets, not by the cost of
dependencies, which the 1-worker pair isolates.

Each run happens in a fresh temporary git project with its own SQLite store, using the
real `br` (python -m buildrunner parallel start ... --wait) and real worker processes.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import resource
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


MODES = ("throughput", "deps", "kill", "start")


def plan(root: Path, count: int, command: str, shape: str = "flat") -> Path:
    """`count` tasks running `command`; `shape` "fanin": the last depends on all others; "chain": each on the one before."""
    tasks: list[dict[str, object]] = [{"id": f"t{i:05d}", "command": command} for i in range(count)]
    if shape == "fanin":
        tasks[-1]["depends_on"] = [task["id"] for task in tasks[:-1]]
    elif shape == "chain":
        for before, task in zip(tasks, tasks[1:]):
            task["depends_on"] = [before["id"]]
    path = root / "plan.json"
    path.write_text(json.dumps({"tasks": tasks}))
    return path


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BR_")} | {"NO_COLOR": "1"}


def become_subreaper() -> None:
    """Orphans of our runs (the detached workers, their supervisors and tasks) become our children, so we reap them
    and their CPU time is counted in ours (RUSAGE_CHILDREN): the CPU a run costs, whatever else the machine runs."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str] | str, cwd: Path | None = None, shell: bool = False, cpu: list[float] | None = None) -> float:
    """Wall seconds of `cmd`; with `cpu`, also appends the CPU seconds of it and of everything it started."""
    cpu_started = children_cpu()
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, shell=shell, check=True, env=env(), stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    while True:  # the workers it left, once they have exited (after the clock stopped)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    if cpu is not None:
        cpu.append(children_cpu() - cpu_started)
    return seconds


def ours(base: Path, tasks: int, workers: int, shape: str = "flat", name: str = "throughput") -> tuple[float, dict[str, float]]:
    """Wall time of `br parallel start --wait` on a fresh project, and what it persisted and its CPU seconds (`cpu_seconds`)."""
    root = project(base, name)
    path = plan(root, tasks, "true", shape)
    cpu: list[float] = []
    seconds = timed([*BR, "parallel", "start", "bench", "--config", str(path), "--workers", str(workers), "--wait"], cwd=root, cpu=cpu)
    from buildrunner.store import open_store

    with open_store(url=str(root / ".buildrunner" / "buildrunner.db")) as store:
        counts = {
            "completed_tasks": store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'completed'"),
            "attempt_rows": store.scalar("SELECT COUNT(*) FROM task_attempts"),
            "events": store.scalar("SELECT COUNT(*) FROM events"),
            "log_files": len(list((root / ".buildrunner" / "logs").glob("*/*.log"))),
            "cpu_seconds": round(cpu[0], 3),
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


def median_line(label: str, values: list[float], tasks: int, cpu: list[float]) -> str:
    m = statistics.median(values)
    return (f"{label}: {tasks} tasks in {m:6.2f} s  ({tasks / m:7.1f} tasks/s)  median of {len(values)}: {fmt(values)}; "
            f"CPU {statistics.median(cpu):6.2f} s ({fmt(cpu)})")


def throughput_round(base: Path, run: int, n: int, w: int, has_gnu: bool, runs: dict[str, list[float]], cpu: dict[str, list[float]]) -> dict[str, float]:
    """One round: xargs, xargs with a shell, GNU parallel and ours, in an order that alternates by round."""
    # `true` is run directly by xargs (-n 1) and by us (a command without shell syntax skips the
    # shell, as make does); `xargs_sh` shows the cost of a shell per task for reference.
    peers = [("xargs", f"seq {n} | xargs -P {w} -n 1 true"), ("xargs_sh", f"seq {n} | xargs -P {w} -I{{}} sh -c true")]
    if has_gnu:
        peers.append(("gnu", f"seq {n} | parallel -j {w} true"))
    counts: dict[str, float] = {}

    def run_ours() -> None:
        seconds, found = ours(base / f"throughput{run}", n, w)
        runs["ours"].append(seconds)
        cpu.setdefault("ours", []).append(found["cpu_seconds"])
        counts.update(found)

    def run_one() -> None:  # the fixed cost of a session: start-up, storing, launching, waiting, the final status
        seconds, found = ours(base / f"one{run}", 1, w, name="one")
        runs.setdefault("one", []).append(seconds)
        cpu.setdefault("one", []).append(found["cpu_seconds"])

    steps = [*[(lambda key=key, cmd=cmd: runs[key].append(timed(cmd, shell=True, cpu=cpu.setdefault(key, [])))) for key, cmd in peers], run_ours, run_one]
    for step in steps if run % 2 == 0 else reversed(steps):
        step()
    return counts


def throughput_report(runs: dict[str, list[float]], cpu: dict[str, list[float]], n: int, w: int, has_gnu: bool, counts: dict[str, float]) -> None:
    print(f"== throughput: {n} `true` tasks (CPU: of the run and all it started, whatever else the machine runs)")
    print(median_line(f"xargs -P {w} -n 1 true", runs["xargs"], n, cpu["xargs"]))
    print(median_line(f"xargs -P {w} sh -c true", runs["xargs_sh"], n, cpu["xargs_sh"]))
    if has_gnu:
        print(median_line(f"GNU parallel -j {w}", runs["gnu"], n, cpu["gnu"]))
    print(median_line(f"br parallel ({w} workers)", runs["ours"], n, cpu["ours"]))
    print(f"  persisted (last run): {counts}")
    seconds = statistics.median(runs["ours"])
    xargs, xargs_sh = statistics.median(runs["xargs"]), statistics.median(runs["xargs_sh"])
    print(f"ratio vs xargs: {xargs / seconds:.2f}x throughput (target >= 0.5x); vs xargs with a shell per task: {xargs_sh / seconds:.2f}x; "
          f"CPU ours / xargs: {statistics.median(cpu['ours']) / statistics.median(cpu['xargs']):.2f}x")
    if has_gnu:
        print(f"ratio vs GNU parallel: {statistics.median(runs['gnu']) / seconds:.2f}x throughput (target >= 2x)")
    one = statistics.median(runs["one"])
    print(median_line("br parallel, a 1-task session", runs["one"], 1, cpu["one"]))
    left = 2 * xargs - one
    print(f"floor: 0.5x xargs means {n} tasks in {2 * xargs:.2f} s; a session of one task takes {one:.2f} s, which leaves "
          + (f"{left * 1000 / (n - 1):.2f} ms per further task (xargs spends {xargs * 1000 / n:.2f} ms per task)" if left > 0 else "nothing for the others"))


# (name, tasks, shape): each dependency run is paired with the same tasks without dependencies.
DEP_CASES = (("fanin", 10_001, "fanin"), ("chain", 5_000, "chain"))


def deps_round(base: Path, run: int, worker_counts: list[int], scale: float, runs: dict[str, list[float]], cpu: dict[str, list[float]]) -> None:
    """One round: every (case, workers) pair, dependency run and flat run back to back, order alternating by round."""
    for workers in worker_counts:
        for case, count, shape in DEP_CASES:
            count = max(2, int(count * scale))
            pair = [(f"{case}/{workers}/deps", shape), (f"{case}/{workers}/flat", "flat")]
            for key, kind in pair if run % 2 == 0 else reversed(pair):
                seconds, found = ours(base / f"deps{run}-{case}-{workers}-{kind}", count, workers, kind, name="deps")
                if found["completed_tasks"] != count:
                    raise SystemExit(f"{key}: {found['completed_tasks']} of {count} tasks completed")
                runs.setdefault(key, []).append(seconds)
                cpu.setdefault(key, []).append(found["cpu_seconds"])


def deps_report(runs: dict[str, list[float]], cpu: dict[str, list[float]], worker_counts: list[int], scale: float) -> None:
    print("== dependency scaling (target: each <= 1.5x its flat run)")
    for workers in worker_counts:
        for case, count, shape in DEP_CASES:
            count = max(2, int(count * scale))
            deps, flat = runs[f"{case}/{workers}/deps"], runs[f"{case}/{workers}/flat"]
            deps_cpu, flat_cpu = cpu[f"{case}/{workers}/deps"], cpu[f"{case}/{workers}/flat"]
            ratio = statistics.median(deps) / statistics.median(flat)
            print(median_line(f"{case} ({workers} workers)", deps, count, deps_cpu))
            print(median_line(f"  same tasks, no deps ({workers} workers)", flat, count, flat_cpu))
            print(f"  ratio {case}/{workers} workers: {ratio:.2f}x the flat run's wall time (target <= 1.5x); "
                  f"CPU {statistics.median(deps_cpu) / statistics.median(flat_cpu):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", action="append", choices=MODES, help="what to measure (repeatable; default: all)")
    parser.add_argument("--tasks", type=int, default=1000, help="throughput tasks")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--dep-workers", type=int, action="append", help="worker counts of the dependency runs (default: 3 and 1)")
    parser.add_argument("--dep-scale", type=float, default=1.0, help="scale the 10,001-task fan-in and 5,000-task chain (for a quick try)")
    parser.add_argument("--big", type=int, default=10000)
    parser.add_argument("--kill-tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    modes = args.mode or list(MODES)
    dep_workers = args.dep_workers or [args.workers, 1]
    base = Path(tempfile.mkdtemp(prefix="br-bench-parallel-"))
    try:
        print(f"machine: nproc {os.cpu_count()}, {cpu_model()}; {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load {load()}")
        n, w = args.tasks, args.workers
        has_gnu = shutil.which("parallel") is not None
        if "throughput" in modes and not has_gnu:
            print("GNU parallel: not installed, skipped (apt-get install parallel)")
        runs: dict[str, list[float]] = {"xargs": [], "xargs_sh": [], "gnu": [], "ours": []}
        cpu: dict[str, list[float]] = {}
        counts: dict[str, float] = {}
        become_subreaper()
        for run in range(args.runs):
            # Interleaved: every pair is measured in every round, so load from elsewhere hits all alike.
            if "throughput" in modes:
                counts = throughput_round(base, run, n, w, has_gnu, runs, cpu)
            if "deps" in modes:
                deps_round(base, run, dep_workers, args.dep_scale, runs, cpu)
            print(f"round {run + 1} of {args.runs} done, load {load()}", file=sys.stderr)
        if "throughput" in modes:
            throughput_report(runs, cpu, n, w, has_gnu, counts)
        if "deps" in modes:
            deps_report(runs, cpu, dep_workers, args.dep_scale)
        print(f"load after the interleaved runs: {load()}")
        if "kill" in modes:
            print("kill -9 run:", json.dumps(kill_run(base, args.kill_tasks, w)))
        if "start" in modes:
            print("big plan start:", json.dumps(big_start(base, args.big)))
        print(f"load at the end: {load()}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
