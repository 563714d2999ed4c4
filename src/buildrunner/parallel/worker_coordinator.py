"""The state of a session's tasks and workers: claims, results, retries, heartbeats, lost workers.

Every state change is one transaction. A claim takes the write lock first
(SQLite `BEGIN IMMEDIATE`; PostgreSQL `FOR UPDATE SKIP LOCKED`), so no task is
claimed twice. A result is a conditional update on (task, attempt, worker): a
worker declared lost whose task was requeued cannot complete it a second time.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from buildrunner.errors import NotFoundError, ParallelError
from buildrunner.parallel.models import FINAL_SESSION_STATES, Task, WorkerHealth
from buildrunner.project import ensure_project
from buildrunner.store import now

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.store import Store

T = TypeVar("T")

# A task whose worker died this many times is failed rather than requeued (it may be what kills them).
MAX_LOST_REQUEUES = 3


def log_path_for(project: "Project", session_id: str, task_id: str, attempt: int) -> str:
    """Where one attempt's output goes: `.buildrunner/logs/<session>/<task>.<attempt>.log`."""
    return str(project.paths.logs_dir / session_id / f"{task_id}.{attempt}.log")


def process_started(pid: int) -> float | None:
    """When process `pid` on this machine started, by this machine's clock; None when it is gone."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def process_alive(pid: int, started: float | None) -> bool:
    """Whether `pid` on this machine is still the process that registered having started at `started`.

    Not a zombie, and not another process that was given the same pid later (unknown `started`:
    a worker registered before migration 0007, matched by pid alone).
    """
    now_started = process_started(pid)
    return now_started is not None and (started is None or abs(now_started - started) < 1.0)


class WorkerCoordinator:
    """Coordinate workers and task distribution for one session."""

    def __init__(self, session_id: str, project: "Project | None" = None) -> None:
        project = ensure_project(project)
        self.project = project
        self.session_id = session_id
        self.settings = project.config.parallel
        self._collector: Any = None
        self._dependencies: bool | None = None
        # Inside `record_and_claim`: events wait to be written together, and the end-of-session
        # check waits to see whether there was a next task to claim.
        self._batch: list[dict[str, Any]] | None = None
        self._finish_due = False

    @property
    def store(self) -> "Store":
        return self.project.store

    def _q(self, name: str) -> str:
        return self.store.query("parallel", name)

    def emit(self, *events: dict[str, Any]) -> None:
        """Telemetry events, written in the caller's transaction so they commit with the change they describe."""
        if self._batch is not None:
            self._batch.extend(events)
            return
        self._write_events(list(events))

    def _write_events(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self._collector is None:
            from buildrunner.telemetry.event_collector import EventCollector

            self._collector = EventCollector(self.project)
        self._collector.collect_batch([{"session_id": self.session_id, **event} for event in events])

    # -- workers ---------------------------------------------------------------------------------

    def register_worker(self, name: str | None = None) -> str:
        """Add this process as a worker of the session; returns its id."""
        with self.store.transaction():
            session = self.store.fetchone(self._q("lock_session"), {"session_id": self.session_id})
            if session is None:
                raise NotFoundError(f"session {self.session_id}: not found", hint="list sessions with `br parallel list`")
            if session["status"] in FINAL_SESSION_STATES:
                raise ParallelError(f"session {self.session_id} is {session['status']}; a worker cannot join it")
            count = int(self.store.scalar(self._q("count_workers"), {"session_id": self.session_id}) or 0)
            worker_id = f"{self.session_id}-w{count + 1}-{uuid.uuid4().hex[:6]}"
            self.store.execute(
                self._q("insert_worker"),
                {
                    "id": worker_id,
                    "session_id": self.session_id,
                    "name": name or f"worker-{count + 1}",
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "process_started": process_started(os.getpid()),
                },
            )
        return worker_id

    def unregister_worker(self, worker_id: str, status: str = "stopped") -> None:
        self.store.execute(self._q("mark_worker"), {"worker_id": worker_id, "status": status})

    def heartbeat(self, worker_id: str, cpu_seconds: float = 0.0, peak_rss_bytes: int = 0) -> bool:
        """Record that the worker is alive (and its resource use); False if it was declared lost or stopped."""
        with self.store.transaction():  # takes its turn with the other writers rather than racing them for the lock
            return bool(
                self.store.execute(
                    self._q("heartbeat"),
                    {"worker_id": worker_id, "cpu_seconds": cpu_seconds, "peak_rss_bytes": int(peak_rss_bytes)},
                )
            )

    def control(self, worker_id: str) -> tuple[str, str, float | None]:
        """(worker state, session state, stop grace): what a worker's watcher thread polls."""
        row = self.store.fetchone(self._q("worker_control"), {"worker_id": worker_id})
        if row is None:
            return "lost", "stopped", 0.0
        return row["worker_status"], row["session_status"], row["stop_grace"]

    def _health(self, row: dict[str, Any], ts: float) -> WorkerHealth:
        silent = max(0.0, ts - row["last_heartbeat"])
        live = row["status"] in ("active", "idle") and silent <= self.settings.heartbeat_timeout
        return WorkerHealth(
            worker_id=row["id"],
            name=row["name"],
            session_id=row["session_id"],
            status=row["status"] if live else "offline",
            state=row["status"],
            hostname=row["hostname"],
            pid=int(row["pid"]),
            current_task=row["current_task"],
            tasks_completed=int(row["tasks_completed"]),
            started_at=row["started_at"],
            last_heartbeat=row["last_heartbeat"],
            seconds_since_heartbeat=silent,
            cpu_seconds=float(row["cpu_seconds"]),
            peak_rss_bytes=int(row["peak_rss_bytes"]),
            healthy=live,
        )

    def get_worker_health(self, worker_id: str) -> WorkerHealth:
        """Status active/idle while heartbeating, offline once stopped, lost or silent too long."""
        row = self.store.fetchone(self._q("get_worker"), {"worker_id": worker_id})
        if row is None:
            raise NotFoundError(f"worker {worker_id}: not found", hint="list workers with `br parallel workers SESSION_ID`")
        return self._health(row, self.store.clock())

    def list_workers(self) -> list[WorkerHealth]:
        ts = self.store.clock()
        return [self._health(row, ts) for row in self.store.fetchall(self._q("list_workers"), {"session_id": self.session_id})]

    def has_live_worker(self) -> bool:
        """Whether some worker still heartbeats (one on this machine also has its process running)."""
        ts, host = self.store.clock(), socket.gethostname()
        return any(
            row["last_heartbeat"] >= ts - self.settings.heartbeat_timeout
            and (row["hostname"] != host or process_alive(int(row["pid"]), row["process_started"]))
            for row in self.store.fetchall(self._q("live_workers"), {"session_id": self.session_id})
        )

    def reap_lost_workers(self) -> list[str]:
        """Declare lost the workers that stopped heartbeating; requeue their tasks.

        A worker on this machine whose process is gone is declared lost as soon as it has
        missed one heartbeat, without waiting for the timeout. (The missed heartbeat guards
        against another machine with the same host name: its live workers never miss one.)
        Heartbeats are stamped and judged by the database's clock, so machines whose own
        clocks disagree do not declare each other's workers lost.
        """
        ts = self.store.clock()
        host = socket.gethostname()
        cutoff = ts - self.settings.heartbeat_timeout
        missed = ts - self.settings.effective_heartbeat_interval * 1.5
        lost = []
        for row in self.store.fetchall(self._q("live_workers"), {"session_id": self.session_id}):
            if row["last_heartbeat"] < cutoff:
                lost.append((row, f"no heartbeat for {ts - row['last_heartbeat']:.0f}s"))
            elif (
                row["hostname"] == host and row["last_heartbeat"] < missed and row["pid"] != os.getpid()
                and not process_alive(int(row["pid"]), row["process_started"])
            ):
                lost.append((row, f"process {row['pid']} on {host} is gone"))
        reaped = []
        for row, reason in lost:
            with self.store.transaction():
                self._lock_session()
                if not self.store.execute(self._q("mark_worker"), {"worker_id": row["id"], "status": "lost"}):
                    continue  # another worker reaped it first
                events: list[dict[str, Any]] = [
                    {"type": "worker_lost", "worker_id": row["id"], "error": reason, "description": f"{row['name']} lost: {reason}"}
                ]
                for task in self.store.fetchall(self._q("running_tasks_of_worker"), {"session_id": self.session_id, "worker_id": row["id"]}):
                    events += self._requeue_lost(row["id"], task["task_id"], int(task["attempts"]), f"worker {row['name']} lost: {reason}")
                self.emit(*events)
                self._maybe_finish()
            reaped.append(row["id"])
        return reaped

    def _requeue_lost(self, worker_id: str, task_id: str, attempt: int, reason: str) -> list[dict[str, Any]]:
        params = {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "now": now()}
        self.store.execute(
            self._q("finish_attempt"), {**params, "status": "lost", "exit_code": None, "error": reason, "duration_ms": None, "cost": 0.0, "model": None, "pid": None}
        )
        lost_count = int(self.store.scalar(self._q("lost_attempts"), params) or 0)
        failed = {"type": "task_failed", "task_id": task_id, "worker_id": worker_id, "error": reason, "attempt": attempt}
        if lost_count > MAX_LOST_REQUEUES:
            return [failed, *self._fail_final(worker_id, task_id, attempt, f"{reason} ({lost_count} workers lost on it)", None, 0.0, None)]
        self.store.execute(
            self._q("requeue_task"),
            {**params, "worker_id": worker_id, "delay": None, "error": reason, "exit_code": None, "cost": 0.0},
        )
        return [failed, {"type": "task_retry", "task_id": task_id, "attempt": attempt + 1, "max_attempts": None, "error": reason}]

    # -- tasks -----------------------------------------------------------------------------------

    def get_next_task(self, worker_id: str) -> Task | None:
        """Atomically claim the first ready task, or None when nothing is ready (or the session is not running)."""
        ts = now()
        with self.store.transaction():
            if self.store.row_locks:
                # Session before task rows, as everywhere: a claim's SKIP LOCKED scan can keep a lock on a row
                # another worker is completing, so without this a claim and a result could deadlock.
                self.store.fetchone(self._q("share_session"), {"session_id": self.session_id})
            row = self.store.fetchone(self._q("claim_task"), {"session_id": self.session_id, "worker_id": worker_id, "now": ts})
            if row is None:
                return None
            task = Task.from_row(row)
            params = {"session_id": self.session_id, "task_id": task.task_id, "attempt": task.attempt, "worker_id": worker_id, "now": ts}
            self.store.execute(self._q("insert_attempt"), {**params, "log_path": log_path_for(self.project, self.session_id, task.task_id, task.attempt)})
            self.store.execute(self._q("worker_busy"), params)
            self.emit(
                {"type": "task_started", "task_id": task.task_id, "worker_id": worker_id, "attempt": task.attempt, "description": task.description or task.task_id}
            )
        return task

    def _current_attempt(self, task_id: str) -> int:
        row = self.store.fetchone(self._q("get_task"), {"session_id": self.session_id, "task_id": task_id})
        if row is None:
            raise NotFoundError(f"task {task_id}: not in session {self.session_id}")
        return int(row["attempts"])

    def complete_task(
        self,
        worker_id: str,
        task_id: str,
        attempt: int | None = None,
        *,
        exit_code: int | None = 0,
        duration_ms: float | None = None,
        cost: float = 0.0,
        model: str | None = None,
        pid: int | None = None,
    ) -> bool:
        """Mark the attempt completed; False (and nothing changed) if this worker no longer holds it."""
        attempt = self._current_attempt(task_id) if attempt is None else attempt
        ts = now()
        params = {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "worker_id": worker_id, "now": ts}
        with self.store.transaction():
            self._lock_session()
            done = self.store.execute(self._q("finish_task"), {**params, "status": "completed", "exit_code": exit_code, "error": None, "cost": cost, "model": model})
            if not done:
                return False
            self.store.execute(
                self._q("finish_attempt"),
                {**params, "status": "completed", "exit_code": exit_code, "error": None, "duration_ms": duration_ms, "cost": cost, "model": model, "pid": pid},
            )
            self.store.execute(self._q("worker_idle"), {**params, "completed": 1})
            self._unblock(task_id)
            self.emit(
                {"type": "task_completed", "task_id": task_id, "worker_id": worker_id, "duration_ms": duration_ms, "cost": cost, "attempt": attempt, "model": model}
            )
            self._maybe_finish()
        return True

    def fail_task(
        self,
        worker_id: str,
        task_id: str,
        attempt: int,
        error: str,
        *,
        exit_code: int | None = None,
        status: str = "failed",
        duration_ms: float | None = None,
        cost: float = 0.0,
        model: str | None = None,
        pid: int | None = None,
    ) -> str:
        """Record a failed attempt (`status` failed or timeout); requeue it while retries remain.

        Returns "retry", "failed", or "stale" when this worker no longer holds the attempt.
        """
        ts = now()
        params = {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "worker_id": worker_id, "now": ts}
        with self.store.transaction():
            self._lock_session()
            row = self.store.fetchone(self._q("get_task"), params)
            if row is None or row["status"] != "running" or row["worker_id"] != worker_id or int(row["attempts"]) != attempt:
                return "stale"
            self.store.execute(
                self._q("finish_attempt"),
                {**params, "status": status, "exit_code": exit_code, "error": error, "duration_ms": duration_ms, "cost": cost, "model": model, "pid": pid},
            )
            self.store.execute(self._q("worker_idle"), {**params, "completed": 0})
            failures = attempt - int(self.store.scalar(self._q("lost_attempts"), params) or 0)
            max_attempts = int(row["max_retries"]) + 1
            failed = {
                "type": "task_failed", "task_id": task_id, "worker_id": worker_id, "error": error, "attempt": attempt,
                "duration_ms": duration_ms, "cost": cost, "exit_code": exit_code, "timed_out": status == "timeout",
            }
            if failures < max_attempts:
                delay = min(self.settings.retry_backoff * 2 ** (failures - 1), self.settings.retry_backoff_max)
                self.store.execute(
                    self._q("requeue_task"), {**params, "delay": delay, "error": error, "exit_code": exit_code, "cost": cost}
                )
                self.emit(failed, {"type": "task_retry", "task_id": task_id, "attempt": attempt + 1, "max_attempts": max_attempts, "delay_s": delay})
                return "retry"
            self.emit(failed, *self._fail_final(worker_id, task_id, attempt, error, exit_code, cost, model))
            self._maybe_finish()
        return "failed"

    def _fail_final(
        self, worker_id: str, task_id: str, attempt: int, error: str, exit_code: int | None, cost: float, model: str | None
    ) -> list[dict[str, Any]]:
        self.store.execute(
            self._q("finish_task"),
            {
                "session_id": self.session_id, "task_id": task_id, "attempt": attempt, "worker_id": worker_id, "now": now(),
                "status": "failed", "exit_code": exit_code, "error": error, "cost": cost, "model": model,
            },
        )
        return self._skip_dependents(task_id)

    def cancel_task(
        self, worker_id: str, task_id: str, attempt: int, reason: str, duration_ms: float | None = None, pid: int | None = None
    ) -> bool:
        """The session was stopped while this attempt ran: record it cancelled."""
        params = {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "worker_id": worker_id, "now": now()}
        with self.store.transaction():
            if not self.store.execute(self._q("finish_task"), {**params, "status": "cancelled", "exit_code": None, "error": reason, "cost": 0.0, "model": None}):
                return False
            self.store.execute(
                self._q("finish_attempt"), {**params, "status": "cancelled", "exit_code": None, "error": reason, "duration_ms": duration_ms, "cost": 0.0, "model": None, "pid": pid}
            )
            self.store.execute(self._q("worker_idle"), {**params, "completed": 0})
        return True

    def release_task(self, worker_id: str, task_id: str, attempt: int) -> bool:
        """Give a claimed task back untried (the session paused itself before it ran): the attempt does not count."""
        params = {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "worker_id": worker_id, "now": now()}
        with self.store.transaction():
            if not self.store.execute(self._q("unclaim_task"), params):
                return False
            self.store.execute(self._q("delete_attempt"), params)
            self.store.execute(self._q("worker_idle"), {**params, "completed": 0})
        return True

    def abandon_task(self, worker_id: str, task_id: str, attempt: int, reason: str) -> bool:
        """This worker is shutting down mid-task: requeue it as if the worker were lost (not the task's fault)."""
        with self.store.transaction():
            self._lock_session()
            row = self.store.fetchone(self._q("get_task"), {"session_id": self.session_id, "task_id": task_id})
            if row is None or row["status"] != "running" or row["worker_id"] != worker_id or int(row["attempts"]) != attempt:
                return False
            self.emit(*self._requeue_lost(worker_id, task_id, attempt, reason))
            self._maybe_finish()
        return True

    def record_and_claim(self, worker_id: str, record: Callable[[], T]) -> tuple[T, Task | None]:
        """Record a result and claim the next task in one transaction: one lock round per task instead of two.

        When the claim finds a task the session is plainly not over, so the end-of-session
        check runs only when it does not; the events of both steps are written in one batch.
        """
        with self.store.transaction():
            self._batch, self._finish_due = [], False
            try:
                outcome = record()
                task = self.get_next_task(worker_id)
                events = self._batch
            finally:
                self._batch = None
            self._write_events(events)
            if task is None and self._finish_due:
                self._maybe_finish()
            return outcome, task

    def _has_dependencies(self) -> bool:
        """Whether any task of the session waits on another (a plan never changes once stored)."""
        if self._dependencies is None:
            self._dependencies = self.store.fetchone(self._q("dependent_task"), {"session_id": self.session_id}) is not None
        return self._dependencies

    def _unblock(self, task_id: str) -> None:
        """Make claimable the blocked tasks whose last unfinished dependency was `task_id`."""
        if not self._has_dependencies():
            return
        waiting = [
            (row["task_id"], json.loads(row["depends_on"]))
            for row in self.store.fetchall(self._q("blocked_tasks"), {"session_id": self.session_id})
        ]
        candidates = [(tid, deps) for tid, deps in waiting if task_id in deps]
        if not candidates:
            return
        completed = {row["task_id"] for row in self.store.fetchall(self._q("completed_among"), {"session_id": self.session_id})}
        for tid, deps in candidates:
            if all(dep in completed for dep in deps):
                self.store.execute(
                    self._q("set_task_status"),
                    {"session_id": self.session_id, "task_id": tid, "status": "pending", "error": None, "finished_at": None, "from_status": "blocked"},
                )

    def _skip_dependents(self, failed_id: str) -> list[dict[str, Any]]:
        """Mark skipped every blocked task that (transitively) depends on `failed_id`."""
        waiting = {
            row["task_id"]: json.loads(row["depends_on"])
            for row in self.store.fetchall(self._q("blocked_tasks"), {"session_id": self.session_id})
        }
        gone = {failed_id: f"dependency {failed_id!r} failed"}
        events = []
        changed = True
        while changed:
            changed = False
            for tid, deps in list(waiting.items()):
                culprit = next((dep for dep in deps if dep in gone), None)
                if culprit is None:
                    continue
                reason = f"dependency {culprit!r} failed" if culprit == failed_id else f"dependency {culprit!r} was skipped"
                self.store.execute(
                    self._q("set_task_status"),
                    {"session_id": self.session_id, "task_id": tid, "status": "skipped", "error": reason, "finished_at": now(), "from_status": "blocked"},
                )
                events.append({"type": "task_skipped", "task_id": tid, "error": reason})
                gone[tid] = reason
                del waiting[tid]
                changed = True
        return events

    def _lock_session(self) -> None:
        """Lock the session row (PostgreSQL) before any task row a result changes.

        One lock order everywhere (session, then tasks) keeps a result, a stop and a
        lost-worker requeue from deadlocking; on SQLite the write lock already serialises them.
        """
        if self.store.row_locks:
            self.store.fetchone(self._q("lock_session"), {"session_id": self.session_id})

    def check_finished(self) -> None:
        """End the session if its last task ended (an idle worker's safety net); reads before taking the write lock."""
        if self.store.fetchone(self._q("unfinished_task"), {"session_id": self.session_id}):
            return
        with self.store.transaction():
            self._maybe_finish()

    def _maybe_finish(self) -> None:
        """End the session when no task is left to run: completed, or failed if any task failed.

        The session row is locked first (PostgreSQL), so of two results committing at
        once the second sees the first and exactly one of them ends the session.
        """
        if self._batch is not None:
            self._finish_due = True
            return
        self._lock_session()
        if self.store.fetchone(self._q("unfinished_task"), {"session_id": self.session_id}):
            return
        counts = {row["status"]: (int(row["n"]), float(row["cost"])) for row in self.store.fetchall(self._q("task_counts"), {"session_id": self.session_id})}
        failed = counts.get("failed", (0, 0.0))[0]
        final = "failed" if failed else "completed"
        ts = now()
        for from_status in ("running", "paused"):
            changed = self.store.execute(
                self._q("set_session_status"),
                {"session_id": self.session_id, "status": final, "reason": f"{failed} task(s) failed" if failed else None,
                 "now": ts, "from_status": from_status, "stop_grace": None},
            )
            if changed:
                session = self.store.fetchone(self._q("get_session"), {"session_id": self.session_id}) or {}
                self.emit(
                    {
                        "type": "session_completed",
                        "duration_ms": (ts - (session.get("started_at") or ts)) * 1000,
                        "cost": sum(cost for _, cost in counts.values()),
                        "description": f"session {final}: {failed} task(s) failed" if failed else f"session {final}",
                        "status": final,
                        "completed": counts.get("completed", (0, 0.0))[0],
                        "failed": failed,
                        "skipped": counts.get("skipped", (0, 0.0))[0],
                    }
                )
                return
