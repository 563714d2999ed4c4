"""The one owner of session, task, attempt and worker state.

Every write to those four goes through this class, as a move of their state machines
(`parallel.states`), in one transaction with the events that describe it. A claim takes the
write lock first (SQLite `BEGIN IMMEDIATE`; PostgreSQL `FOR UPDATE SKIP LOCKED`), so no task
is claimed twice. A result is a compare-and-set on (task, attempt, worker): once a worker
is declared lost, its late result is a move from a state the task is no longer in, and
changes nothing. Dependencies are edges (`task_deps`): a result touches only the tasks that
wait on it, so a session costs O(tasks + edges) however its graph is shaped.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import psutil

from buildrunner.errors import ConfigError, NotFoundError, ParallelError
from buildrunner.money import usd
from buildrunner.parallel.branches import session_component
from buildrunner.parallel.executor import agent_name
from buildrunner.parallel.models import Session, Task, WorkerHealth, default_description
from buildrunner.parallel.record import AttemptFiles
from buildrunner.parallel.states import (
    ENDED_OUTCOMES,
    FINAL_SESSION_STATES,
    LIVE_SESSION_STATES,
    LIVE_WORKER_STATES,
    AttemptOutcome,
    AttemptState,
    SessionState,
    TaskState,
    WorkerState,
    check_move,
)
from buildrunner.project import ensure_project
from buildrunner.security.masking import mask_secrets
from buildrunner.store import now
from buildrunner.telemetry.events import (
    SessionCompleted,
    SessionPaused,
    SessionResumed,
    SessionStalled,
    SessionStarted,
    SessionStopped,
    TaskCancelled,
    TaskCompleted,
    TaskFailed,
    TaskRetry,
    TaskSkipped,
    TaskStarted,
    TelemetryEvent,
    WorkerLost,
)
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.parallel.plan import Plan
    from buildrunner.project import Project
    from buildrunner.store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class AttemptDetail:
    """What an attempt of a prompt task was on the ladder, and where its work is."""

    agent: str | None = None
    tier: str | None = None
    outcome: str | None = None  # passed | agent_error | verify_failed | security | budget_exceeded | ...
    verify_exit: int | None = None
    branch: str | None = None
    commit_sha: str | None = None
    worktree: str | None = None
    turns: int | None = None
    last_action: str | None = None

# A session's status reason when `stop` is asked for by a user (a halt gives its own).
STOPPED_BY_REQUEST = "stopped by request"
# A task whose worker died this many times is failed rather than requeued (it may be what kills them).
MAX_LOST_REQUEUES = 3


@lru_cache(maxsize=None)
def machine_key(logs_dir: Path) -> str:
    """Where this process can see a worker's processes and read its attempt records: the host, that host's boot, the
    PID namespace and the project's logs folder. A hostname alone is not enough: two checkouts on one host, or a
    container that shares the host's name, are different places (each reads its own records, sees its own pids)."""
    parts = [socket.gethostname(), str(logs_dir.resolve())]
    for source in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(Path(source).read_text().strip() if source.endswith("boot_id") else str(os.stat(source).st_ino))
        except OSError:
            parts.append("")  # not Linux: the host and the folder
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def process_started(pid: int) -> float | None:
    """When process `pid` on this machine started, by this machine's clock; None when it is gone."""
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


def task_rows(project: "Project", session_id: str, plan: "Plan") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A plan's tasks as stored (each default resolved: the plan's, else the configuration's), and their dependencies."""
    settings = project.config.parallel
    tasks: list[dict[str, Any]] = []
    deps: list[dict[str, Any]] = []
    for position, task in enumerate(plan.tasks):
        agent, template = agent_name(task.agent, plan.agent, plan.agent_command, project.config) if task.kind == "prompt" else (None, None)
        tasks.append(
            {
                "session_id": session_id,
                "task_id": task.id,
                "position": position,
                "description": mask_secrets(task.description) if task.description else default_description(task.command or task.prompt or ""),
                "kind": task.kind,
                "command": task.command,
                "prompt": task.prompt,
                "model": task.model,
                "depends_on": json.dumps(task.depends_on),
                "timeout": task.timeout or plan.timeout or settings.task_timeout,
                "max_retries": next(r for r in (task.retries, plan.retries, settings.retries) if r is not None),
                "env": json.dumps(task.env),
                "cwd": task.cwd,
                "isolation": plan.isolation_of(task),
                "status": TaskState.BLOCKED if task.depends_on else TaskState.PENDING,
                "cost_limit": task.cost_limit,
                "waiting_on": len(task.depends_on),
                "agent_command": template,
                "agent": agent,
                "verify": task.verify or plan.verify,
                "escalate": int(plan.escalates(task)),
            }
        )
        deps += [{"session_id": session_id, "task_id": task.id, "depends_on": dep} for dep in task.depends_on]
    return tasks, deps


def refuse_name_in_use(store: "Store", name: str, this: str | None = None) -> None:
    """Refuse a session `name` that a live session other than `this` holds, or whose branches it would share.

    Takes the name's lock (PostgreSQL) for the rest of the transaction: of two starts of one name, one wins.
    """
    component = session_component(name)
    store.fetchone(store.query("parallel", "lock_session_name"), {"name": component})
    for live in store.fetchall(store.query("parallel", "live_sessions")):
        if live["id"] == this:
            continue
        if live["name"] == name:  # `stop NAME` would reach only one of them, and both would commit to br/NAME/<task>
            raise ConfigError(
                f"session name {name!r}: session {live['id']} of that name is {live['status']}",
                hint=f"give this session another name, or end that one first: br parallel stop {live['id']}",
            )
        if session_component(live["name"]) == component:
            raise ConfigError(
                f"session name {name!r}: session {live['id']} ({live['name']!r}, {live['status']}) would share its branches "
                f"(br/{component}/<task>)",
                hint=f"give this session another name, or end that one first: br parallel stop {live['id']}",
            )


@dataclass(frozen=True)
class Retried:
    """What `retry_failed` sent back to run: the failed tasks, the tasks skipped for them that wait again, and the tasks
    a stop cancelled."""

    tasks: tuple[str, ...]
    dependents: tuple[str, ...]
    cancelled: tuple[str, ...] = ()  # a stopped session's: they run again too


class WorkerCoordinator:
    """Coordinate workers and task distribution for one session."""

    def __init__(self, session_id: str, project: "Project | None" = None) -> None:
        project = ensure_project(project)
        self.project = project
        self.session_id = session_id
        self.settings = project.config.parallel
        self._dependencies: bool | None = None
        self._halt: bool | None = None
        # Inside `record_and_claim`: events wait to be written together, and the end-of-session
        # check waits to see whether there was a next task to claim.
        self._batch: list[TelemetryEvent] | None = None
        self._finish_due = False

    @property
    def store(self) -> "Store":
        return self.project.store

    def _q(self, name: str) -> str:
        return self.store.query("parallel", name)

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"session_id": self.session_id, "now": now(), **extra}

    def emit(self, *events: TelemetryEvent) -> None:
        """Telemetry events, written in the caller's transaction so they commit with the change they describe."""
        if self._batch is not None:
            self._batch.extend(events)
            return
        self._write_events(list(events))

    def _write_events(self, events: list[TelemetryEvent]) -> None:
        if events:
            self.project.events.collect_batch([event.model_copy(update={"session_id": self.session_id}) for event in events])

    # -- sessions --------------------------------------------------------------------------------

    @classmethod
    def create_session(
        cls, project: "Project", name: str, plan: "Plan", workers: int, cost_limit: float | None, *,
        base: tuple[str | None, str | None] = (None, None), prompts_held: str | None = None,
    ) -> Session:
        """Store a validated plan as a new running session: its tasks, their dependencies, resolved defaults.

        `base`: the (branch, commit) the project's repository is at (worktrees branch from it; merges land on it).
        `prompts_held`: why prompt tasks must wait from the start (a budget already spent), if they must.
        """
        session_id = f"session-{secrets.token_hex(4)}"
        ts = now()
        tasks, deps = task_rows(project, session_id, plan)
        plan_json = json.dumps({
            "source": plan.source, "name": plan.name, "workers": workers, "timeout": plan.timeout, "retries": plan.retries, "cost_limit": cost_limit,
            "halt_on_failure": plan.halt_on_failure,
        })
        store = project.store
        with store.transaction():
            refuse_name_in_use(store, name)
            store.execute(
                store.query("parallel", "insert_session"),
                {
                    "id": session_id, "name": name, "plan": plan_json, "project_root": str(project.paths.root),
                    "total_tasks": len(tasks), "num_workers": workers, "cost_limit": cost_limit, "now": ts,
                    "base_branch": base[0], "base_commit": base[1], "setup": plan.setup, "merge_on_pass": int(plan.merge),
                    "prompts_held": prompts_held,
                },
            )
            store.executemany(store.query("parallel", "insert_task"), tasks)
            if deps:
                store.executemany(store.query("parallel", "insert_dep"), deps)
            cls(session_id, project).emit(SessionStarted(description=name, tasks=len(tasks), workers=workers))
        return Session(session_id, name, SessionState.RUNNING, len(tasks), workers, ts, cost_limit)

    def _move_session(self, source: SessionState, target: SessionState, reason: str | None = None, stop_grace: float | None = None) -> bool:
        check_move(source, target)
        return bool(
            self.store.execute(
                self._q("set_session_status"),
                self._params(status=target, reason=reason, from_status=source, stop_grace=stop_grace),
            )
        )

    def _session_row(self) -> dict[str, Any]:
        row = self.store.fetchone(self._q("get_session"), {"session_id": self.session_id})
        if row is None:
            raise NotFoundError(f"session {self.session_id}: not found", hint="list sessions with `br parallel list`")
        return row

    def pause(self, reason: str | None = None) -> bool:
        """running -> paused: no new claims; running tasks finish. False if it was not running."""
        with self.store.transaction():
            self._lock_session()
            if not self._move_session(SessionState.RUNNING, SessionState.PAUSED, reason):
                return False
            self.emit(SessionPaused(error=reason, description=reason or "paused"))
        return True

    def resume(self) -> bool:
        """paused -> running. False if it was not paused."""
        with self.store.transaction():
            self._lock_session()
            if not self._move_session(SessionState.PAUSED, SessionState.RUNNING):
                return False
            self.emit(SessionResumed(description="resumed"))
        return True

    def retry_failed(self) -> Retried:
        """failed tasks -> pending with their retries anew, the tasks skipped for them -> blocked, and a failed session
        -> running; a stopped session's cancelled tasks run too (-> pending, or blocked while a dependency is unfinished),
        as GNU parallel's --resume runs what did not finish. A completed session has nothing to retry."""
        with self.store.transaction():
            self._lock_session()
            session = self._session_row()  # read under the lock; says "not found" itself
            state = SessionState(session["status"])
            if state not in (SessionState.FAILED, SessionState.STOPPED, *LIVE_SESSION_STATES):
                raise ParallelError(f"session {self.session_id} is {state}: no failed task to retry", hint="start a new session to run it again")
            if state is SessionState.STOPPED and self.store.fetchone(self._q("unfinished_task"), {"session_id": self.session_id}):
                raise ParallelError(f"session {self.session_id} is still ending its running tasks", hint="try again in a moment")
            if state in FINAL_SESSION_STATES:
                refuse_name_in_use(self.store, session["name"], self.session_id)
            limit = session.get("cost_limit")
            spent = float(self.store.scalar(self._q("session_cost"), {"session_id": self.session_id}) or 0.0)
            if limit is not None and spent >= float(limit):
                raise ParallelError(
                    f"session {self.session_id}: its max_cost of {usd(float(limit))} is spent ({usd(spent)}); a retry would stop at once",
                    hint="start a new session for the failed tasks (with a higher max_cost if they need it)",
                )
            check_move(TaskState.FAILED, TaskState.PENDING)
            failed = self.store.fetchall(self._q("retry_failed_tasks"), {"session_id": self.session_id})
            cancelled: list[dict[str, Any]] = []
            if state is SessionState.STOPPED:
                check_move(TaskState.CANCELLED, TaskState.PENDING)
                check_move(TaskState.CANCELLED, TaskState.BLOCKED)
                cancelled = self.store.fetchall(self._q("rerun_cancelled_tasks"), {"session_id": self.session_id})
            if not failed and not cancelled:
                raise ParallelError(f"session {self.session_id} has no failed task to retry", hint="br parallel status shows its tasks")
            check_move(TaskState.SKIPPED, TaskState.BLOCKED)
            dependents = self.store.fetchall(self._q("unskip_tasks"), {"session_id": self.session_id})
            if state in FINAL_SESSION_STATES:
                check_move(state, SessionState.RUNNING)
                self.store.execute(self._q("reopen_session"), self._params())
            self.emit(
                *(TaskRetry(task_id=r["task_id"], attempt=int(r["attempts"]) + 1, description="retried by hand") for r in failed + cancelled),
                SessionResumed(description=f"retrying {plural(len(failed), 'failed task')}" + (f" and {plural(len(cancelled), 'cancelled task')}" if cancelled else "")),
            )
        return Retried(tuple(r["task_id"] for r in failed), tuple(r["task_id"] for r in dependents), tuple(r["task_id"] for r in cancelled))

    def stop(self, *, force: bool = False, reason: str = STOPPED_BY_REQUEST) -> bool:
        """running|paused -> stopped: waiting tasks are cancelled; workers end running ones (TERM, then KILL after the grace)."""
        grace = 0.0 if force else self.settings.kill_grace
        with self.store.transaction():
            row = self._lock_session()
            source = SessionState(row["status"]) if row else None
            if source not in LIVE_SESSION_STATES:
                return False
            self._move_session(source, SessionState.STOPPED, reason, stop_grace=grace)
            said = reason if reason != STOPPED_BY_REQUEST else "stopped"
            events: list[TelemetryEvent] = [SessionStopped(description=said + (" (forced)" if force else ""), force=force)]
            events += [
                # its failed attempt was its last, so the task ends failed; that attempt's error is counted already
                TaskFailed(task_id=r["task_id"], attempt=int(r["attempts"]), description="session stopped before its retry", outcome=AttemptState.CANCELLED)
                for r in self.store.fetchall(self._q("retries_waiting"), {"session_id": self.session_id})
            ]
            self.store.execute(self._q("cancel_waiting_tasks"), self._params(error="session stopped"))
            self.emit(*events)
        return True

    def unfinished_count(self) -> int:
        """Tasks waiting, blocked or running."""
        return int(self.store.scalar(self._q("unfinished_count"), {"session_id": self.session_id}) or 0)

    def note_stalled(self) -> bool:
        """Say once (telemetry) that the session runs with tasks left and no live worker; True when newly noted."""
        with self.store.transaction():
            remaining = self.unfinished_count()
            if not remaining or not self.store.execute(self._q("mark_stalled"), self._params()):
                return False
            self.emit(SessionStalled(remaining=remaining, description=f"no live worker; {plural(remaining, 'task')} remain (run `br parallel resume`)"))
        return True

    def delete(self) -> bool:
        """Remove a finished session and everything of it from the store; False when it is not finished (any more)."""
        with self.store.transaction():
            return bool(self.store.execute(self._q("delete_session"), {"session_id": self.session_id}))

    # -- workers ---------------------------------------------------------------------------------

    def register_worker(self, name: str | None = None) -> str:
        """Add this process as a worker of the session; returns its id."""
        with self.store.transaction():
            session = self._lock_session()
            if session is None:
                raise NotFoundError(f"session {self.session_id}: not found", hint="list sessions with `br parallel list`")
            if session["status"] in FINAL_SESSION_STATES:
                raise ParallelError(f"session {self.session_id} is {session['status']}; a worker cannot join it")
            if name is not None and name in {w.name for w in self.list_workers() if w.healthy}:  # they could not be told apart
                raise ConfigError(f"worker name {name!r}: a live worker of session {self.session_id} has it", hint="give this worker another --name")
            count = int(self.store.scalar(self._q("count_workers"), {"session_id": self.session_id}) or 0)
            worker_id = f"{self.session_id}-w{count + 1}-{uuid.uuid4().hex[:6]}"
            self.store.execute(
                self._q("insert_worker"),
                {
                    "id": worker_id,
                    "session_id": self.session_id,
                    "name": name or f"worker-{count + 1}",
                    "hostname": socket.gethostname(),
                    "machine": self.machine,
                    "pid": os.getpid(),
                    "process_started": process_started(os.getpid()),
                },
            )
            self.store.execute(self._q("clear_stalled"), {"session_id": self.session_id})
        return worker_id

    def _move_worker(self, worker_id: str, target: WorkerState) -> bool:
        """A live worker -> stopped | lost (compare-and-set: only one reaper declares a worker lost)."""
        check_move(WorkerState.IDLE, target)
        return bool(self.store.execute(self._q("mark_worker"), {"worker_id": worker_id, "status": target}))

    def unregister_worker(self, worker_id: str, status: str = WorkerState.STOPPED) -> None:
        with self.store.transaction():
            self._move_worker(worker_id, WorkerState(status))

    def declare_lost(self, worker_id: str, reason: str, name: str) -> bool:
        """A live worker -> lost; its attempts wait for a reaper (`reaper.settle`). False if already done."""
        with self.store.transaction():
            self._lock_session()
            if not self._move_worker(worker_id, WorkerState.LOST):
                return False
            self.emit(WorkerLost(worker_id=worker_id, error=reason, description=f"{name} lost: {reason}"))
        return True

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
        """(worker state, session state, stop grace): what a worker checks between heartbeats."""
        row = self.store.fetchone(self._q("worker_control"), {"worker_id": worker_id})
        if row is None:
            return WorkerState.LOST, SessionState.STOPPED, 0.0
        return row["worker_status"], row["session_status"], row["stop_grace"]

    def _health(self, row: dict[str, Any], ts: float) -> WorkerHealth:
        """Live while it heartbeats; one on this machine also needs its process (a crash shows at once)."""
        silent = max(0.0, ts - row["last_heartbeat"])
        live = (
            row["status"] in LIVE_WORKER_STATES and silent <= self.settings.heartbeat_timeout
            and (not self.is_here(row) or process_alive(int(row["pid"]), row["process_started"]))
        )
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

    @property
    def machine(self) -> str:
        """This process's place (`machine_key`): workers with the same one are seen and settled from here."""
        return machine_key(self.project.paths.logs_dir)

    def is_here(self, row: Mapping[str, Any]) -> bool:
        """Whether the worker of `row` runs where this process can see its pids and read its records (one registered
        before migration 0018 has no place stored: matched by its hostname)."""
        return row["machine"] == self.machine if row.get("machine") else row["hostname"] == socket.gethostname()

    def place(self, row: Mapping[str, Any]) -> str:
        """The place a worker row runs at, as `is_here` compares it."""
        return row.get("machine") or f"host:{row['hostname']}"

    def live_worker_rows(self) -> list[dict[str, Any]]:
        return self.store.fetchall(self._q("live_workers"), {"session_id": self.session_id})

    def has_live_worker(self) -> bool:
        """Whether some worker still heartbeats (one on this machine also has its process running)."""
        ts = self.store.clock()
        return any(self._health(row, ts).healthy for row in self.live_worker_rows())

    def orphaned_attempts(self) -> list[dict[str, Any]]:
        """Running tasks held by workers declared lost (for `reaper.settle`)."""
        return self.store.fetchall(self._q("orphaned_attempts"), {"session_id": self.session_id})

    # -- tasks -----------------------------------------------------------------------------------

    def log_files(self, task_id: str, attempt: int) -> AttemptFiles:
        return AttemptFiles.of(self.project.paths.logs_dir, self.session_id, task_id, attempt)

    def get_next_task(self, worker_id: str) -> Task | None:
        """Atomically claim the first ready task, or None when nothing is ready (or the session is not running)."""
        check_move(TaskState.PENDING, TaskState.RUNNING)
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
            self.store.execute(self._q("insert_attempt"), {**params, "log_path": str(self.log_files(task.task_id, task.attempt).log)})
            self.store.execute(self._q("worker_busy"), params)
            self.emit(TaskStarted(task_id=task.task_id, worker_id=worker_id, attempt=task.attempt, description=task.description or task.task_id))
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
        outcome = self.finish_attempt(
            worker_id, task_id, attempt, AttemptState.COMPLETED, exit_code=exit_code, duration_ms=duration_ms, cost=cost, model=model, pid=pid
        )
        return outcome == AttemptOutcome.COMPLETED

    def fail_task(
        self,
        worker_id: str,
        task_id: str,
        attempt: int,
        error: str,
        *,
        exit_code: int | None = None,
        status: str = AttemptState.FAILED,
        duration_ms: float | None = None,
        cost: float = 0.0,
        model: str | None = None,
        pid: int | None = None,
    ) -> AttemptOutcome:
        """Record a failed attempt (`status` failed or timeout); returns RETRY, FAILED or STALE."""
        return self.finish_attempt(
            worker_id, task_id, attempt, AttemptState(status), error=error, exit_code=exit_code, duration_ms=duration_ms, cost=cost, model=model, pid=pid
        )

    def finish_attempt(
        self,
        worker_id: str,
        task_id: str,
        attempt: int,
        status: AttemptState,
        *,
        error: str | None = None,
        exit_code: int | None = None,
        duration_ms: float | None = None,
        cost: float | None = 0.0,
        model: str | None = None,
        pid: int | None = None,
        detail: AttemptDetail | None = None,
        escalate_to: str | None = None,
        context: str | None = None,
        hold: str | None = None,
        unchecked: bool = False,
    ) -> AttemptOutcome:
        """Record how an attempt ended and move its task on; the one way an attempt ends.

        `cost`: what the attempt spent; None keeps the live cost its progress recorded (a reaper does not know more).
        `detail`: the rung of a prompt task's ladder (agent, tier, why it failed, verify, branch).
        `escalate_to`: a failed attempt's next attempt runs on this tier (it is not a retry);
        `context`: what the failed check said, for the next attempt's prompt. `hold`: a budget ran
        out mid-attempt: the task goes back to the queue without a failure and prompt tasks are
        held (with this reason) while shell tasks go on. `unchecked`: the task's command exited but the attempt's checks
        did not finish (with `LOST`: its worker was lost; with `FAILED`: a step of ours failed): the next attempt adopts this
        one's work (or the work this one adopted) and runs only the checks. Returns what happened to the task
        (`AttemptOutcome`): STALE when `worker_id` no longer holds this attempt (it was declared lost, or another reaper
        settled it first).
        """
        check_move(AttemptState.RUNNING, status)
        params = self._params(task_id=task_id, attempt=attempt, worker_id=worker_id)
        with self.store.transaction():
            session = self._lock_session()
            row = self.store.fetchone(self._q("get_task"), params)
            if row is None or row["status"] != TaskState.RUNNING or row["worker_id"] != worker_id or int(row["attempts"]) != attempt:
                return AttemptOutcome.STALE
            adopt = (row.get("adopt_attempt") or attempt) if unchecked else row.get("adopt_attempt")
            detail = detail or AttemptDetail()
            if cost is None:  # the live cost the attempt's progress recorded (the agent's spend until its worker was lost)
                spend = self.store.fetchone(self._q("attempt_spend"), params)
                cost = float(spend["cost"] or 0.0) if spend else 0.0
            self.store.execute(
                self._q("finish_attempt"),
                {
                    **params, "status": status, "exit_code": exit_code, "error": error, "duration_ms": duration_ms, "cost": cost, "model": model,
                    "pid": pid, **vars(detail),  # flat: no deep copy (asdict) on every result
                },
            )
            self.store.execute(self._q("worker_idle"), {**params, "completed": int(status == AttemptState.COMPLETED)})
            stopped = session is not None and session["status"] == SessionState.STOPPED
            if status == AttemptState.COMPLETED:
                outcome = self._complete(params, duration_ms, cost, model)
            elif status == AttemptState.CANCELLED or (stopped and status in (AttemptState.LOST, AttemptState.BUDGET_EXCEEDED)):
                outcome = self._cancel(params, error or "session stopped", cost)
            elif status == AttemptState.LOST:
                outcome = self._requeue_lost(params, error or "worker lost", adopt, cost)
            elif status == AttemptState.BUDGET_EXCEEDED and hold is not None:
                outcome = self._hold(params, error or hold, cost, hold)
            elif escalate_to is not None and not stopped:
                outcome = self._escalate(params, status, error or "failed", exit_code, duration_ms, cost, escalate_to, context, model)
            else:
                outcome = self._fail(
                    params, row, status, error or "failed", exit_code, duration_ms, cost, model,
                    retry=not stopped and status != AttemptState.BUDGET_EXCEEDED, context=context, adopt=adopt if unchecked else None,
                )
            if outcome in ENDED_OUTCOMES:
                self._maybe_finish()
        return outcome

    def _escalate(
        self, params: dict[str, Any], status: AttemptState, error: str, exit_code: int | None, duration_ms: float | None, cost: float,
        tier: str, context: str | None, model: str | None = None,
    ) -> AttemptOutcome:
        """A failed rung of the ladder: the next attempt runs one tier up, with what the check said."""
        self._move_task(
            TaskState.RUNNING, TaskState.PENDING, "requeue_task",
            {**params, "delay": None, "error": error, "exit_code": exit_code, "cost": cost, "next_tier": tier, "context": context, "adopt_attempt": None},
        )
        self.emit(
            TaskFailed(
                task_id=params["task_id"], worker_id=params["worker_id"], error=error, attempt=params["attempt"], duration_ms=duration_ms,
                cost=cost, exit_code=exit_code, outcome=status, model=model,
            ),
            TaskRetry(task_id=params["task_id"], attempt=params["attempt"] + 1, description=f"escalated to {tier}"),
        )
        return AttemptOutcome.RETRY

    def _hold(self, params: dict[str, Any], error: str, cost: float, reason: str) -> AttemptOutcome:
        """A budget ran out mid-attempt: back to the queue (not a failure), and prompt tasks wait while shell tasks go on."""
        self._move_task(
            TaskState.RUNNING, TaskState.PENDING, "requeue_task",
            {**params, "delay": None, "error": error, "exit_code": None, "cost": cost, "next_tier": None, "context": None, "adopt_attempt": None},
        )
        self.store.execute(self._q("set_prompts_held"), {"session_id": self.session_id, "reason": reason})
        self.emit(
            TaskFailed(task_id=params["task_id"], worker_id=params["worker_id"], error=error, attempt=params["attempt"], cost=cost, outcome=AttemptState.BUDGET_EXCEEDED),
            TaskRetry(task_id=params["task_id"], attempt=params["attempt"] + 1, description="waits for budget"),
        )
        return AttemptOutcome.REQUEUED

    def hold_prompts(self, reason: str | None) -> None:
        """Hold prompt tasks back (a budget is spent: `reason` says which), or let them run again (None)."""
        with self.store.transaction():
            self.store.execute(self._q("set_prompts_held"), {"session_id": self.session_id, "reason": reason})

    def pause_if_only_held(self) -> bool:
        """Pause the session (for budget) when nothing but held prompt tasks is left to run; True if it did."""
        with self.store.transaction():
            session = self._lock_session()
            if session is None or session["status"] != SessionState.RUNNING:
                return False
            row = self._session_row()
            if not row.get("prompts_held") or int(self.store.scalar(self._q("runnable_count"), {"session_id": self.session_id}) or 0):
                return False
            if not self.store.fetchone(self._q("unfinished_task"), {"session_id": self.session_id}):
                return False
            if not self._move_session(SessionState.RUNNING, SessionState.PAUSED, row["prompts_held"]):
                return False
            self.emit(SessionPaused(error=row["prompts_held"], description=row["prompts_held"]))
        return True

    def progress(self, task_id: str, attempt: int, *, agent: str, tier: str | None, model: str | None, turns: int, last_action: str | None, cost: float) -> None:
        """A running prompt attempt's live progress (turns, last action, cost so far), for status and the dashboard."""
        with self.store.transaction():
            self.store.execute(
                self._q("attempt_progress"),
                {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "agent": agent, "tier": tier, "model": model,
                 "turns": turns, "last_action": last_action, "cost": cost},
            )

    def lost_spend(self, task_id: str, attempt: int) -> dict[str, Any] | None:
        """A settled attempt's live spend that the cost tracker does not hold yet (its worker died before the agent's
        result arrived): None when there is none. Recorded by the reaper so that caps and budgets count it."""
        row = self.store.fetchone(self._q("attempt_spend"), {"session_id": self.session_id, "task_id": task_id, "attempt": attempt})
        return row if row and float(row["cost"] or 0) > 0 and not row["cost_recorded"] else None

    def cost_recorded(self, task_id: str, attempt: int, cost: float) -> None:
        """The running attempt's cost is recorded by the cost tracker: the budgets count it there from now on."""
        with self.store.transaction():
            self.store.execute(self._q("attempt_cost_recorded"), {"session_id": self.session_id, "task_id": task_id, "attempt": attempt, "cost": cost})

    def adoptable(self, task_id: str, attempt: int) -> dict[str, Any] | None:
        """The attempt whose exited work a task's next attempt checks: its worker, machine, tier, and whether its spend is recorded."""
        return self.store.fetchone(self._q("adoptable_attempt"), {"session_id": self.session_id, "task_id": task_id, "adopt_attempt": attempt})

    def forget_adoption(self, worker_id: str, task_id: str, attempt: int) -> None:
        """This attempt cannot reach the work it was to adopt: it runs the task afresh (and is what a later attempt adopts)."""
        with self.store.transaction():
            self.store.execute(self._q("forget_adoption"), self._params(task_id=task_id, attempt=attempt, worker_id=worker_id))

    def ladder(self, task_id: str) -> list[dict[str, Any]]:
        """The attempts of a task, in order (the tiers it climbed)."""
        return self.store.fetchall(self._q("task_ladder"), {"session_id": self.session_id, "task_id": task_id})

    def ladders(self) -> dict[str, list[dict[str, Any]]]:
        """Every task's attempts, by task id, in order (`ladder` of each at once)."""
        by_task: dict[str, list[dict[str, Any]]] = {}
        for row in self.store.fetchall(self._q("session_ladders"), {"session_id": self.session_id}):
            by_task.setdefault(row["task_id"], []).append(row)
        return by_task

    def keep_routing_estimate(self, task_id: str, estimate: str) -> None:
        """Keep the estimate (ComplexityResult JSON) routing first picked the task's tier on; later ones are not kept."""
        with self.store.transaction():
            self.store.execute(self._q("keep_routing_estimate"), {"session_id": self.session_id, "task_id": task_id, "estimate": estimate})

    def routing_estimate(self, task_id: str) -> str | None:
        """The estimate the task was routed on (JSON), None when routing never picked its tier."""
        row = self.store.fetchone(self._q("task_routing_estimate"), {"session_id": self.session_id, "task_id": task_id})
        return row["routing_estimate"] if row else None

    def _move_task(self, source: TaskState, target: TaskState, query: str, params: dict[str, Any]) -> int:
        check_move(source, target)
        return self.store.execute(self._q(query), params)

    def _complete(self, params: dict[str, Any], duration_ms: float | None, cost: float, model: str | None) -> AttemptOutcome:
        self._move_task(
            TaskState.RUNNING, TaskState.COMPLETED, "finish_task",
            {**params, "status": TaskState.COMPLETED, "exit_code": 0, "error": None, "cost": cost, "model": model},
        )
        if self._has_dependencies():
            self._move_task(TaskState.BLOCKED, TaskState.PENDING, "unblock_dependents", params)
        self.emit(
            TaskCompleted(
                task_id=params["task_id"], worker_id=params["worker_id"], duration_ms=duration_ms, cost=cost, attempt=params["attempt"], model=model
            )
        )
        return AttemptOutcome.COMPLETED

    def _cancel(self, params: dict[str, Any], reason: str, cost: float) -> AttemptOutcome:
        self._move_task(
            TaskState.RUNNING, TaskState.CANCELLED, "finish_task",
            {**params, "status": TaskState.CANCELLED, "exit_code": None, "error": reason, "cost": cost, "model": None},
        )
        self.emit(TaskCancelled(task_id=params["task_id"], worker_id=params["worker_id"], attempt=params["attempt"], error=reason))
        return AttemptOutcome.CANCELLED

    def _requeue_lost(self, params: dict[str, Any], reason: str, adopt: int | None, cost: float = 0.0) -> AttemptOutcome:
        """Back to the queue, not the task's fault; `adopt`: the attempt whose exited work the next attempt checks instead of
        running again; `cost`: what the lost attempt spent (its agent's live spend), counted in the task's cost as on its rung."""
        lost_count = int(self.store.scalar(self._q("lost_attempts"), params) or 0)
        failed = TaskFailed(task_id=params["task_id"], worker_id=params["worker_id"], error=reason, attempt=params["attempt"], outcome=AttemptState.LOST)
        if lost_count > MAX_LOST_REQUEUES:
            self.emit(failed, *self._fail_final(params, f"{reason} ({lost_count} workers lost on it)", None, cost, None))
            return AttemptOutcome.FAILED
        self._move_task(
            TaskState.RUNNING, TaskState.PENDING, "requeue_task",
            {**params, "delay": None, "error": reason, "exit_code": None, "cost": cost, "next_tier": None, "context": None, "adopt_attempt": adopt},
        )
        self.emit(failed, TaskRetry(task_id=params["task_id"], attempt=params["attempt"] + 1, error=reason))
        return AttemptOutcome.REQUEUED

    def _fail(
        self, params: dict[str, Any], row: dict[str, Any], status: AttemptState, error: str, exit_code: int | None,
        duration_ms: float | None, cost: float, model: str | None, *, retry: bool, context: str | None = None, adopt: int | None = None,
    ) -> AttemptOutcome:
        attempt = params["attempt"]
        # Retries count the failures on this attempt's tier: the rungs a prompt task climbed to get here do not use them up.
        ladder = self.ladder(params["task_id"])
        tier = next((r["tier"] for r in ladder if int(r["attempt"]) == attempt), None)
        since = int(row.get("retry_from") or 0)  # failures before a retry by hand no longer count
        failures = sum(
            1 for r in ladder
            if int(r["attempt"]) > since and r["tier"] == tier and r["status"] in (AttemptState.FAILED, AttemptState.TIMEOUT, AttemptState.BUDGET_EXCEEDED)
        )
        max_attempts = int(row["max_retries"]) + 1
        failed = TaskFailed(
            task_id=params["task_id"], worker_id=params["worker_id"], error=error, attempt=attempt, duration_ms=duration_ms, cost=cost,
            exit_code=exit_code, timed_out=status == AttemptState.TIMEOUT, outcome=status, model=model,
        )
        if retry and failures < max_attempts:
            delay = min(self.settings.retry_backoff * 2 ** (failures - 1), self.settings.retry_backoff_max)
            self._move_task(
                TaskState.RUNNING, TaskState.PENDING, "requeue_task",
                {**params, "delay": delay, "error": error, "exit_code": exit_code, "cost": cost, "next_tier": None, "context": context, "adopt_attempt": adopt},
            )
            self.emit(failed, TaskRetry(task_id=params["task_id"], attempt=attempt + 1, max_attempts=max_attempts, delay_s=delay))
            return AttemptOutcome.RETRY
        self.emit(failed, *self._fail_final(params, error, exit_code, cost, model))
        return AttemptOutcome.FAILED

    def _fail_final(self, params: dict[str, Any], error: str, exit_code: int | None, cost: float, model: str | None) -> list[TelemetryEvent]:
        self._move_task(
            TaskState.RUNNING, TaskState.FAILED, "finish_task",
            {**params, "status": TaskState.FAILED, "exit_code": exit_code, "error": error, "cost": cost, "model": model},
        )
        skipped: list[TelemetryEvent] = []
        if self._has_dependencies():
            check_move(TaskState.BLOCKED, TaskState.SKIPPED)
            rows = self.store.fetchall(self._q("skip_dependents"), {**params, "error": f"dependency {params['task_id']!r} failed"})
            skipped = [TaskSkipped(task_id=r["task_id"], error=r["error"]) for r in rows]
        if self._halts_on_failure():  # fail fast (GNU parallel's --halt now,fail=1), in the failure's own transaction
            self.stop(reason=f"halted: task {params['task_id']} failed")
        return skipped

    def release_task(self, worker_id: str, task_id: str, attempt: int, reason: str) -> bool:
        """Give a claimed task back untried (the session paused, a budget ran out): the attempt does not count. Its
        task_started is answered by a task_retry of the same attempt, so no event stream shows it running for ever."""
        params = self._params(task_id=task_id, attempt=attempt, worker_id=worker_id)
        with self.store.transaction():
            if not self._move_task(TaskState.RUNNING, TaskState.PENDING, "unclaim_task", params):
                return False
            self.store.execute(self._q("delete_attempt"), params)
            self.store.execute(self._q("worker_idle"), {**params, "completed": 0})
            self.emit(TaskRetry(task_id=task_id, worker_id=worker_id, attempt=attempt, description=f"given back before it started: {reason}"))
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

    def _halts_on_failure(self) -> bool:
        """Whether the plan asked to stop the session at its first task that fails for good (read once: a plan never changes)."""
        if self._halt is None:
            plan = self._session_row().get("plan")
            self._halt = bool(json.loads(plan).get("halt_on_failure")) if plan else False
        return self._halt

    def _has_dependencies(self) -> bool:
        """Whether any task of the session waits on another (a plan never changes once stored)."""
        if self._dependencies is None:
            self._dependencies = self.store.fetchone(self._q("has_dependencies"), {"session_id": self.session_id}) is not None
        return self._dependencies

    def _lock_session(self) -> dict[str, Any] | None:
        """The session row, locked (PostgreSQL) before any task row a change touches.

        One lock order everywhere (session, then tasks) keeps a result, a stop and a
        lost-worker requeue from deadlocking; on SQLite the write lock already serialises them.
        """
        return self.store.fetchone(self._q("lock_session"), {"session_id": self.session_id})

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
        session = self._lock_session()
        if session is None or session["status"] not in LIVE_SESSION_STATES:
            return
        if self.store.fetchone(self._q("unfinished_task"), {"session_id": self.session_id}):
            return
        counts = {row["status"]: (int(row["n"]), float(row["cost"])) for row in self.store.fetchall(self._q("task_counts"), {"session_id": self.session_id})}
        failed = counts.get(TaskState.FAILED, (0, 0.0))[0]
        final = SessionState.FAILED if failed else SessionState.COMPLETED
        ts = now()
        if self._move_session(SessionState(session["status"]), final, f"{plural(failed, 'task')} failed" if failed else None):
            self.emit(
                SessionCompleted(
                    duration_ms=(ts - (self._session_row().get("started_at") or ts)) * 1000,
                    cost=sum(cost for _, cost in counts.values()),
                    description=f"session {final}: {plural(failed, 'task')} failed" if failed else f"session {final}",
                    status="failed" if failed else "completed",
                    completed=counts.get(TaskState.COMPLETED, (0, 0.0))[0],
                    failed=failed,
                    skipped=counts.get(TaskState.SKIPPED, (0, 0.0))[0],
                )
            )
