"""The worker loop (`br parallel worker SESSION_ID`): claim, run, record, repeat.

State changes all go through `WorkerCoordinator`; this module only loops. A
watcher thread with its own database connection heartbeats, records the
process's CPU time and peak memory, reaps lost workers, and notices a stop.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from buildrunner.errors import BuildRunnerError, RoutingError
from buildrunner.parallel.executor import ExecutionResult, Executor, StopRequest
from buildrunner.parallel.models import FINAL_SESSION_STATES, Task
from buildrunner.parallel.worker_coordinator import WorkerCoordinator
from buildrunner.project import ensure_project

if TYPE_CHECKING:
    from buildrunner.project import Project


@dataclass
class WorkerReport:
    worker_id: str | None
    completed: int
    failed: int
    reason: str

    def __str__(self) -> str:
        return f"worker {self.worker_id or '-'}: {self.reason}; {self.completed} completed, {self.failed} failed"


class _Watcher(threading.Thread):
    """Heartbeats and watches for stop/lost on its own connection, so a long task never silences the worker."""

    def __init__(self, worker: "Worker") -> None:
        super().__init__(name="br-heartbeat", daemon=True)
        self.worker = worker
        self.done = threading.Event()
        self.peak_rss = 0

    def _usage(self) -> tuple[float, int]:
        import psutil

        proc = psutil.Process()
        times = proc.cpu_times()
        self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
        return times.user + times.system + times.children_user + times.children_system, self.peak_rss

    def run(self) -> None:
        from buildrunner.project import Project
        from buildrunner.store import open_store

        parent = self.worker.project
        settings = parent.config.parallel
        project = Project(parent.paths.root, config=parent.config, store=open_store(parent.paths))
        coordinator = WorkerCoordinator(self.worker.session_id, project)
        last_beat = 0.0
        try:
            while not self.done.is_set():
                try:
                    if time.monotonic() - last_beat >= settings.effective_heartbeat_interval:
                        cpu, rss = self._usage()
                        coordinator.heartbeat(self.worker.worker_id or "", cpu, rss)
                        coordinator.reap_lost_workers()
                        last_beat = time.monotonic()
                    worker_state, session_state, grace = coordinator.control(self.worker.worker_id or "")
                    if worker_state not in ("active", "idle"):
                        self.worker.lost = True
                        self.worker.stop.set(f"worker declared {worker_state}", 0.0)
                    elif session_state == "stopped":
                        self.worker.stop.set("session stopped", grace)
                except BuildRunnerError:
                    pass  # the database is briefly unreachable: try again next round
                self.done.wait(min(settings.poll_interval, settings.effective_heartbeat_interval))
        finally:
            project.store.close()


class Worker:
    """One worker process of a session."""

    def __init__(self, session_id: str, project: "Project | None" = None, name: str | None = None) -> None:
        project = ensure_project(project)
        self.project = project
        self.session_id = session_id
        self.name = name
        self.settings = project.config.parallel
        self.coordinator = WorkerCoordinator(session_id, project)
        self.stop = StopRequest()
        self.worker_id: str | None = None
        self.lost = False
        self._quitting = False
        self.executor = Executor(
            project.paths.root, project.paths.logs_dir, grace=self.settings.kill_grace, timeout=self.settings.task_timeout,
            agent_command=self.settings.agent_command, stop=self.stop,
        )
        self._tracker: Any = None

    def _session(self) -> dict[str, Any]:
        from buildrunner.errors import NotFoundError

        row = self.project.store.fetchone(self.project.store.query("parallel", "get_session"), {"session_id": self.session_id})
        if row is None:
            raise NotFoundError(f"session {self.session_id}: not found", hint="list sessions with `br parallel list`")
        return row

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._quitting = True
        self.stop.set(f"worker received {signal.Signals(signum).name}", self.settings.kill_grace)

    def run(self) -> WorkerReport:
        """Work until the session ends, is stopped, or this worker is told to quit."""
        session = self._session()
        if session["status"] in FINAL_SESSION_STATES:
            return WorkerReport(None, 0, 0, f"session {self.session_id} is {session['status']}; nothing to do")
        # The plan's agent_command (stored with the session) wins over the config's.
        plan_agent = json.loads(session["plan"] or "{}").get("agent_command")
        if plan_agent:
            self.executor.agent_command = plan_agent
        self.worker_id = self.coordinator.register_worker(self.name)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        watcher = _Watcher(self)
        watcher.start()
        completed = failed = 0
        reason = "session finished"
        task: Task | None = None
        try:
            while True:
                if self.stop.is_set():
                    reason = self.stop.reason
                    break
                if task is None:
                    task = self.coordinator.get_next_task(self.worker_id)
                if task is None:
                    session = self._session()
                    if session["status"] in FINAL_SESSION_STATES or session["status"] == "paused":
                        # A paused session releases its workers; `resume` starts new ones.
                        reason = f"session {session['status']}"
                        break
                    self.coordinator.reap_lost_workers()
                    self.coordinator.check_finished()
                    self.stop.wait(self._idle_wait())
                    continue
                outcome, task = self._run_task(task)
                completed += outcome == "completed"
                failed += outcome == "failed"
        finally:
            watcher.done.set()
            watcher.join(timeout=10)
            if task is not None and not self.lost:
                self._hand_back(task)
            if not self.lost:
                self.coordinator.unregister_worker(self.worker_id)
        return WorkerReport(self.worker_id, completed, failed, reason)

    def _hand_back(self, task: Task) -> None:
        """A task claimed together with the last result but never started: cancel it if stopped, else requeue it untried."""
        assert self.worker_id is not None
        if self._session()["status"] == "stopped":
            self.coordinator.cancel_task(self.worker_id, task.task_id, task.attempt, "session stopped")
        else:
            self.coordinator.release_task(self.worker_id, task.task_id, task.attempt)

    def _idle_wait(self) -> float:
        """Until the next retry becomes due, at most the poll interval."""
        store = self.project.store
        due_in = store.scalar(store.query("parallel", "next_ready_in"), {"session_id": self.session_id})
        wait = self.settings.poll_interval
        if due_in is not None:
            wait = min(wait, max(0.01, float(due_in)))
        return wait

    # -- one task --------------------------------------------------------------------------------

    def _cost_tracker(self) -> Any:
        if self._tracker is None:
            from buildrunner.routing.cost_tracker import CostTracker

            self._tracker = CostTracker(self.project)
        return self._tracker

    def _pause_for_budget(self) -> None:
        from buildrunner.parallel.session_manager import SessionManager

        tracker = self._cost_tracker()
        SessionManager(self.project).pause_for_budget(self.session_id, tracker.spent("day"), tracker.budget_limit("day"))

    def _budget_left(self) -> float | None:
        return self._cost_tracker().remaining_budget()

    def _select_model(self, task: Task) -> Any:
        from buildrunner.routing.model_selector import ModelSelector

        limits = [limit for limit in (task.cost_limit, self._session()["cost_limit"]) if limit is not None]
        selection = ModelSelector(self.project).select_model(
            task.description or task.prompt or task.task_id, cost_limit=min(limits) if limits else None, model=task.model
        )
        self.coordinator.emit(
            {
                "type": "model_selected", "task_id": task.task_id, "worker_id": self.worker_id, "model": selection.name,
                "model_id": selection.model_id, "cost": selection.estimated_cost, "description": "; ".join(selection.reasoning)[:500],
            }
        )
        return selection

    def _run_task(self, task: Task) -> tuple[str, Task | None]:
        """Run one claimed attempt and record its outcome (completed, failed, retry, cancelled, released or stale).

        Also returns the next task, claimed in the same transaction as the result.
        """
        assert self.worker_id is not None
        selection = None
        if task.kind == "prompt":
            left = self._budget_left()
            if left is not None and left <= 0:
                self.coordinator.release_task(self.worker_id, task.task_id, task.attempt)
                self._pause_for_budget()
                return "released", None
            try:
                selection = self._select_model(task)
            except RoutingError as exc:
                return self._record(task, ExecutionResult("failed", None, 0.0, f"routing: {exc}"), None), None
            if left is not None and selection.estimated_cost > left:
                # The budget is not a reason to run the task on a tier it is not trusted with: wait for more budget.
                self.coordinator.release_task(self.worker_id, task.task_id, task.attempt)
                self._pause_for_budget()
                return "released", None
        worktree = None
        if task.isolation == "worktree":
            from buildrunner.parallel.isolation import Worktree

            try:
                worktree = Worktree.prepare(self.project, task)
            except BuildRunnerError as exc:
                return self._record(task, ExecutionResult("failed", None, 0.0, str(exc)), None), None
        result = self.executor.run(
            task,
            workdir=worktree.path if worktree else None,
            model_id=selection.model_id if selection else None,
            model=selection.name if selection else None,
        )
        cost = 0.0
        if selection is not None and result.agent_result is not None:
            record = self._cost_tracker().track_claude_code_result(
                result.agent_result, model=selection.name, session_id=self.session_id, task_id=task.task_id
            )
            cost = float(record.cost)
        if worktree is not None:
            finding = worktree.finish(result.status == "completed")
            if finding and result.status == "completed":
                result = ExecutionResult("failed", result.exit_code, result.duration_ms, finding, pid=result.pid)
        if selection is not None:
            outcome = self._record(task, result, selection.name, cost)
            left = self._budget_left()
            if left is not None and left <= 0:
                self._pause_for_budget()
            return outcome, None
        if self.stop.is_set():
            return self._record(task, result, None, cost), None
        return self.coordinator.record_and_claim(self.worker_id, lambda: self._record(task, result, None, cost))

    def _record(self, task: Task, result: ExecutionResult, model: str | None, cost: float = 0.0) -> str:
        assert self.worker_id is not None
        args = (self.worker_id, task.task_id, task.attempt)
        if result.status == "completed":
            done = self.coordinator.complete_task(
                *args, exit_code=result.exit_code, duration_ms=result.duration_ms, cost=cost, model=model, pid=result.pid
            )
            return "completed" if done else "stale"
        if result.status == "cancelled":
            if self.lost:
                return "stale"
            if self._quitting:
                self.coordinator.abandon_task(*args, f"worker {self.worker_id} shut down: {result.error}")
                return "cancelled"
            self.coordinator.cancel_task(*args, result.error or "session stopped", result.duration_ms, result.pid)
            return "cancelled"
        return self.coordinator.fail_task(
            *args, result.error or "failed", exit_code=result.exit_code, status=result.status,
            duration_ms=result.duration_ms, cost=cost, model=model, pid=result.pid,
        )
