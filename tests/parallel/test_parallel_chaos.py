"""Chaos: 1,000 tasks while workers are killed, frozen past the heartbeat timeout, and their tasks' children killed.

Each task appends its id to a file once its work is done, so the file counts what tasks *did*, not only what
the store says: every id must be there exactly once (0 lost, 0 duplicated side effects), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from parallel_helpers import wait_for, write_config

from buildrunner.parallel.plan import validate_plan
from buildrunner.parallel.session_manager import SessionManager
from buildrunner.parallel.supervisor import FINISHING_S
from buildrunner.parallel.worker_coordinator import MAX_LOST_REQUEUES
from buildrunner.project import Project

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

TASKS = 1000
CHECKED_TASKS = 150  # each makes, checks, commits and removes a git worktree
HEARTBEAT_TIMEOUT = 2.0
CHAOS_ACTIONS = 45
LONG_EVERY = 40


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return ""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


def _git(root: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, input=input).stdout


def _chaos(pproject: Project, tasks: list[dict[str, object]], out: Path, rng: random.Random) -> tuple[Project, str]:
    """Run `tasks` on three workers while killing, freezing and thawing them and killing their tasks' `sleep`s;
    assert every task completed once and appended its id to `out` exactly once."""
    write_config(pproject.paths.root, heartbeat_timeout=HEARTBEAT_TIMEOUT, heartbeat_interval=0.25, kill_grace=0.5)
    project = Project(pproject.paths.root, store=pproject.store)
    manager = SessionManager(project)
    session = manager.create_session("chaos", plan=validate_plan({"tasks": tasks}, "chaos"), num_workers=3)
    sid = session.session_id
    store = project.store
    stats: Counter[str] = Counter()
    frozen: dict[int, float] = {}

    def live_workers() -> list[int]:
        rows = store.fetchall("SELECT pid FROM workers WHERE session_id = ? AND status IN ('active', 'idle')", (sid,))
        return [r["pid"] for r in rows if r["pid"] not in frozen and _alive(r["pid"])]

    def killable(workers: list[int]) -> list[int]:
        """Workers whose task has not lost MAX_LOST_REQUEUES workers yet: one more would fail it on purpose (a task that
        keeps killing its workers may be the cause, tested elsewhere), which is not what this test measures. On a loaded
        machine slow worktree tasks are otherwise caught by kill after kill."""
        spent = store.fetchall(
            "SELECT w.pid FROM workers w WHERE w.session_id = ? AND w.current_task IS NOT NULL AND (SELECT COUNT(*) FROM task_attempts a "
            "WHERE a.session_id = w.session_id AND a.task_id = w.current_task AND a.status = 'lost') >= ?", (sid, MAX_LOST_REQUEUES),
        )
        return [pid for pid in workers if pid not in {r["pid"] for r in spent}]

    def finished() -> bool:
        return store.scalar("SELECT status FROM sessions WHERE id = ?", (sid,)) in ("completed", "failed", "stopped")

    try:
        wait_for(lambda: store.scalar("SELECT COUNT(*) FROM tasks WHERE session_id = ? AND status = 'completed'", (sid,)) >= 20, 120, "work to start")
        for _ in range(CHAOS_ACTIONS):
            if finished():
                break
            now = time.monotonic()
            for pid, thaw_at in list(frozen.items()):
                if now >= thaw_at:
                    _signal(pid, signal.SIGCONT)
                    del frozen[pid]
            workers = live_workers()
            # The chaos the assertions below need comes first (three kills, a freeze, three children killed), then chance:
            # on a loaded machine a session could end before chance dealt enough of one kind.
            unmet = [a for a, n in (("kill", 3), ("stop", 1), ("child", 3)) if stats[a] < n]
            action = rng.choice(unmet or ["kill", "kill", "stop", "child", "child", "child"])
            if action == "stop" and frozen:
                action = "child"
            if action in ("kill", "stop") and killable(workers):
                pid = rng.choice(killable(workers))
                if not _signal(pid, signal.SIGKILL if action == "kill" else signal.SIGSTOP):
                    continue  # it had just exited
                if action == "stop":  # silent past the heartbeat timeout: declared lost, then woken
                    frozen[pid] = now + HEARTBEAT_TIMEOUT + 1.5
                stats[action] += 1
                manager.start_workers(sid, 1)  # keep three at work
            elif action == "child":
                for _ in range(20):  # a task's `sleep` lives a few tens of milliseconds: look again until one is there
                    sleeps = [p for w in workers for p in _descendants(w) if _name(p) == "sleep"]
                    if sleeps:
                        try:
                            rng.choice(sleeps).kill()  # the task fails (`&&`) and is retried
                            stats["child"] += 1
                            break
                        except psutil.Error:
                            pass
                    time.sleep(0.01)
            time.sleep(rng.uniform(0.15, 0.5))
    finally:
        for pid in frozen:
            _signal(pid, signal.SIGCONT)
    if not finished() and not live_workers():
        manager.start_workers(sid, 3)
    wait_for(finished, 600, "the session to end")
    status = manager.get_session_status(sid)
    failed_attempts = store.fetchall(
        "SELECT a.task_id, a.attempt, a.status, a.worker_id, a.error, a.started_at, a.finished_at FROM task_attempts a JOIN tasks t "
        "ON t.session_id = a.session_id AND t.task_id = a.task_id WHERE a.session_id = ? AND t.status <> 'completed'", (sid,),
    )
    assert (status.status, status.completed_tasks) == ("completed", len(tasks)), "\n".join(
        f"{r['task_id']} #{r['attempt']} {r['status']}: {r['error']}" for r in failed_attempts
    )
    ran = Counter(out.read_text().split())
    missing = [t["id"] for t in tasks if t["id"] not in ran]
    repeated = {tid: n for tid, n in ran.items() if n > 1}
    detail = store.fetchall(
        "SELECT task_id, attempt, status, worker_id, error, started_at, finished_at FROM task_attempts WHERE session_id = ? AND task_id IN ("
        + ",".join("?" * len(repeated or {"-": 0})) + ") ORDER BY task_id, attempt", (sid, *(repeated or {"-": 0})),
    )
    assert (missing, repeated) == ([], {}), "\n".join(  # every attempt of a repeated task, its error whole (a dict's repr is cut short)
        f"{r['task_id']} #{r['attempt']} {r['status']} on {r['worker_id']}: {r['error']}" for r in detail
    )
    per_task = store.fetchall("SELECT COUNT(*) AS n FROM task_attempts WHERE session_id = ? AND status = 'completed' GROUP BY task_id", (sid,))
    assert len(per_task) == len(tasks) and {r["n"] for r in per_task} == {1}
    lost = store.scalar("SELECT COUNT(*) FROM task_attempts WHERE session_id = ? AND status = 'lost'", (sid,))
    lost_workers = store.scalar("SELECT COUNT(*) FROM workers WHERE session_id = ? AND status = 'lost'", (sid,))
    assert stats["kill"] >= 3 and stats["stop"] >= 1 and stats["child"] >= 3 and lost_workers >= 1, (stats, lost_workers)  # the chaos hit the workers
    wait_for(
        lambda: not [p for p in psutil.process_iter(["cmdline"]) if str(out) in " ".join(p.info["cmdline"] or [])],
        30, "no task process left behind",
    )
    print(f"chaos on {store.dialect}: {dict(stats)}, {lost_workers} workers and {lost} attempts lost, all {len(tasks)} side effects exactly once")
    return project, sid


def _seed() -> random.Random:
    return random.Random(int(os.environ.get("BR_CHAOS_SEED", "20261202")))


def _short(rng: random.Random) -> str:
    return f"0.0{rng.randint(3, 9)}"


def _long() -> str:
    return f"{FINISHING_S + 0.3:.1f}"


def test_chaos_loses_nothing_and_repeats_no_side_effect(pproject: Project) -> None:
    out = pproject.paths.root / "side-effects.txt"
    rng = _seed()
    # One task in LONG_EVERY outlasts the time a task whose worker died is given to finish: it is ended and runs again.
    tasks: list[dict[str, object]] = [
        {"id": f"t{i:04d}", "command": f"sleep {_long() if i % LONG_EVERY == 0 else _short(rng)} && echo $BR_TASK_ID >> {out}", "retries": 10}
        for i in range(TASKS)
    ]
    _chaos(pproject, tasks, out, rng)


def test_chaos_of_checked_tasks_repeats_no_side_effect_and_lands_every_result(pproject: Project) -> None:
    """Worktree tasks with a verify: a worker lost after the command exited has its work checked by the next attempt, not redone.

    The verify holds no `sleep`, so a child kill only ever fails a command (before its side effect), never a check after it.
    """
    root = pproject.paths.root
    out = root / "side-effects.txt"
    (root / ".gitignore").write_text(".buildrunner/\nside-effects.txt\n")
    (root / "work.txt").write_text("base\n")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    rng = _seed()
    tasks: list[dict[str, object]] = [
        {
            "id": f"c{i:03d}", "isolation": "worktree", "retries": 10,
            # A tenth of a second or more per task: the session outlasts the chaos loop even where a round is slow (a loaded machine).
            "command": f"sleep 0.{rng.randint(1, 3)} && echo $BR_TASK_ID >> {out} && echo $BR_TASK_ID > work.txt",
            "verify": "grep -qx $BR_TASK_ID work.txt && i=0 && while [ $i -lt 3000 ]; do i=$((i+1)); done",
        }
        for i in range(CHECKED_TASKS)
    ]
    _, sid = _chaos(pproject, tasks, out, rng)
    wanted = "".join(f"br/chaos/{task['id']}:work.txt\n" for task in tasks)
    landed = [line for line in _git(root, "cat-file", "--batch", input=wanted).splitlines() if line and " blob " not in line]  # contents (or "missing")
    assert landed == [str(task["id"]) for task in tasks]  # every result committed on its branch, each its own
    adopted = pproject.store.scalar("SELECT COUNT(*) FROM task_attempts WHERE session_id = ? AND error LIKE '%checks its work'", (sid,))
    print(f"{adopted} attempts' work was checked by the next attempt instead of run again")
