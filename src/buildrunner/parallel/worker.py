"""The worker loop (`br parallel worker SESSION_ID`): claim, run, record, repeat.

State changes all go through `WorkerCoordinator`; this module only loops. A worker process
is the child of its supervisor (`parallel.supervisor`), which settles its running attempt if
it dies. The worker is one thread: while an attempt runs (`parallel.attempt`) it streams the
task's output, heartbeats, tells its supervisor it is alive, watches for a stop or for being
declared lost, and reaps other workers. When the store is out of reach it keeps the attempt running and retries with
backoff for `parallel.store_outage_window` seconds; an attempt's result waits meanwhile (its
supervisor has also recorded it on disk). A task that cannot be started fails alone.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from buildrunner.errors import BuildRunnerError, ExitCode, NotFoundError, RoutingError, StoreError, StoreUnavailable
from buildrunner.parallel.attempt import Attempt, RecordFile
from buildrunner.parallel.executor import ExecutionResult, Executor, LaunchError
from buildrunner.parallel.models import Task
from buildrunner.parallel.reaper import reap
from buildrunner.parallel.record import open_record, record_path
from buildrunner.parallel.states import FINAL_SESSION_STATES, LIVE_WORKER_STATES, AttemptState, SessionState
from buildrunner.parallel.supervisor import Link, supervise
from buildrunner.parallel.worker_coordinator import WorkerCoordinator
from buildrunner.project import ensure_project
from buildrunner.telemetry.events import ModelSelected, StoreOutage

if TYPE_CHECKING:
    from buildrunner.project import Project

T = TypeVar("T")

_STATUS = {
    "completed": AttemptState.COMPLETED, "failed": AttemptState.FAILED, "timeout": AttemptState.TIMEOUT,
    "cancelled": AttemptState.CANCELLED, "lost": AttemptState.LOST,
}


@dataclass
class WorkerReport:
    worker_id: str | None
    completed: int
    failed: int
    reason: str

    def __str__(self) -> str:
        return f"worker {self.worker_id or '-'}: {self.reason}; {self.completed} completed, {self.failed} failed"


class _GiveUp(Exception):
    """The store stayed out of reach for the whole outage window."""


class Worker:
    """One worker process of a session."""

    def __init__(self, session_id: str, project: "Project | None" = None, name: str | None = None) -> None:
        project = ensure_project(project)
        self.project = project
        self.session_id = session_id
        self.name = name
        self.settings = project.config.parallel
        self.coordinator = WorkerCoordinator(session_id, project)
        self.executor = Executor(project.paths.root, project.paths.logs_dir, grace=self.settings.kill_grace)
        self.worker_id: str | None = None
        self.link: Link | None = None
        self.record: RecordFile | None = None
        self.attempt: Attempt | None = None
        self.rules: Any = None
        self.lost = False
        self._quit = threading.Event()
        self._quit_reason = ""
        self._stop_reason: str | None = None  # why the running attempt is being ended by us
        self._next_beat = 0.0
        self._next_control = 0.0
        self._outage_since: float | None = None
        self._connected_since = time.monotonic()  # since the store last came back (or the worker started)
        # When the store last confirmed this worker still live (a heartbeat or a claim began): no reaper can
        # have taken its attempt before this plus the heartbeat timeout; an attempt older than that is not started.
        self._alive_at = time.monotonic()
        self._next_try = 0.0
        self._tracker: Any = None
        self._peak_rss = 0

    # -- the store, through outages --------------------------------------------------------------

    def _db(self, call: Callable[[], T]) -> T:
        """`call()`, retried with backoff while the store is unreachable; `_GiveUp` after the outage window."""
        while True:
            try:
                result = call()
            except StoreUnavailable as exc:
                self._in_outage(exc)
                continue
            self._back_from_outage()
            return result

    def _in_outage(self, exc: StoreError) -> None:
        """Wait before the next try (keeping a running attempt's lease); give up after the window."""
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._backoff = 0.25
        elif now - self._outage_since > self.settings.store_outage_window:
            raise _GiveUp(f"the store has been unreachable for {now - self._outage_since:.0f}s ({exc.message})")
        self._backoff = min(self._backoff * 2, self._max_backoff())
        self._next_try = now + self._backoff
        self._pause(self._backoff)

    def _back_from_outage(self) -> None:
        if self._outage_since is None:
            return
        seconds = time.monotonic() - self._outage_since
        self._outage_since = None
        self._connected_since = time.monotonic()
        self._next_beat = 0.0
        try:
            self.coordinator.emit(StoreOutage(worker_id=self.worker_id, seconds=seconds, description=f"store unreachable for {seconds:.1f}s; the worker carried on"))
        except StoreError:
            pass

    def _max_backoff(self) -> float:
        """Retry about as often as the worker heartbeats, so it is back soon after the store is."""
        return max(0.25, self.settings.effective_heartbeat_interval)

    def _judges_silence(self) -> bool:
        """Whether this worker has been connected long enough to take others' silence for their death."""
        return time.monotonic() - self._connected_since >= self.settings.heartbeat_timeout

    def _pause(self, seconds: float) -> None:
        """Sleep, renewing the running attempt's lease; wakes early when the worker is told to quit."""
        deadline = time.monotonic() + seconds
        while not self._quit.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._alive()
            self._quit.wait(min(left, self._tick_interval()))

    # -- the loop --------------------------------------------------------------------------------

    def _session(self) -> dict[str, Any]:
        store = self.project.store
        row = store.fetchone(store.query("parallel", "get_session"), {"session_id": self.session_id})
        if row is None:
            raise NotFoundError(f"session {self.session_id}: not found", hint="list sessions with `br parallel list`")
        return row

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._quit_reason = f"worker received {signal.Signals(signum).name}"
        self._quit.set()

    def run(self) -> WorkerReport:
        """Work until the session ends, is stopped, or this worker is told to quit (in a supervised child process)."""
        session = self._session()
        if session["status"] in FINAL_SESSION_STATES:
            return WorkerReport(None, 0, 0, f"session {self.session_id} is {session['status']}; nothing to do")
        self.project.close()  # the child opens its own connection; none is carried across the fork
        code, report = supervise(self._work, self.settings.heartbeat_timeout, self.settings.kill_grace)
        if report is None:
            return WorkerReport(None, 0, 0, f"the worker process ended unexpectedly (exit code {code}); its task was settled by its supervisor")
        if "error" in report:
            error = BuildRunnerError(report["error"])
            error.exit_code = ExitCode(report["exit_code"])
            raise error
        return WorkerReport(**report)

    def _work(self, link: Link) -> int:
        """The worker child's life: register, loop, and send the report to the supervisor."""
        self.link = link
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        try:
            report = self._loop()
        except BuildRunnerError as exc:
            link.report({"error": str(exc), "exit_code": int(exc.exit_code)})
            return int(exc.exit_code)
        link.report({"worker_id": report.worker_id, "completed": report.completed, "failed": report.failed, "reason": report.reason})
        return 0

    def _loop(self) -> WorkerReport:
        self.worker_id = self.coordinator.register_worker(self.name)
        self._open_record()
        self.project.events.prune_if_due()
        completed = failed = 0
        reason = "session finished"
        task: Task | None = None
        try:
            while True:
                self._tick()
                if self._quit.is_set() or self.lost:
                    reason = self._quit_reason or "declared lost"
                    break
                if task is None:
                    task = self._db(self._claim)
                if task is None:
                    state = self._db(lambda: self._session()["status"])
                    if state in FINAL_SESSION_STATES or state == SessionState.PAUSED:
                        reason = f"session {state}"  # a paused session releases its workers; `resume` starts new ones
                        break
                    self._db(lambda: reap(self.coordinator, judge_silence=self._judges_silence()))
                    self._db(self.coordinator.check_finished)
                    self._pause(self._idle_wait())
                    continue
                outcome, task = self._run_task_safely(task)
                completed += outcome == "completed"
                failed += outcome == "failed"
        except _GiveUp as exc:
            reason = f"{exc}; gave up (server {self.project.store.url})"
            task = None
        finally:
            self._shut_down(task)
        return WorkerReport(self.worker_id, completed, failed, reason)

    def _alive(self) -> None:
        if self.link is not None:
            self.link.alive()

    def _claim(self) -> Task | None:
        began = time.monotonic()
        task = self.coordinator.get_next_task(self.worker_id or "")
        if task is not None:
            self._alive_at = began
        return task

    def _open_record(self) -> None:
        from buildrunner.security.rules import rules_for, ruleset

        self.rules = ruleset(rules_for(self.project.config.security))
        path = record_path(self.project.paths.logs_dir, self.session_id, self.worker_id or "")
        assert self.link is not None
        self.record = RecordFile(path, open_record(path), self.link.supervisor, self.link.supervisor_started)
        self.link.record(str(path))

    def _shut_down(self, task: Task | None) -> None:
        if self.lost or self.worker_id is None:
            return
        try:
            if task is not None:
                self._hand_back(task)
            self.coordinator.unregister_worker(self.worker_id)
        except StoreError:
            pass  # the store is gone: the reaper will find this worker silent and settle what it held

    def _hand_back(self, task: Task) -> None:
        """A task claimed together with the last result but never started: cancel it if stopped, else requeue it untried."""
        assert self.worker_id is not None
        if self._session()["status"] == SessionState.STOPPED:
            self.coordinator.finish_attempt(self.worker_id, task.task_id, task.attempt, AttemptState.CANCELLED, error="session stopped")
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

    def _tick_interval(self) -> float:
        return min(self.settings.poll_interval, self.settings.effective_heartbeat_interval)

    def _tick(self) -> None:
        """Heartbeat, reap and watch for a stop when they are due; an outage only delays them."""
        self._alive()
        now = time.monotonic()
        if self._outage_since is not None and now < self._next_try:
            return
        try:
            if now >= self._next_beat:
                self._next_beat = now + self.settings.effective_heartbeat_interval
                if not self.coordinator.heartbeat(self.worker_id or "", *self._usage()):
                    self._declared_lost()
                    return
                self._alive_at = now
                reap(self.coordinator, judge_silence=self._judges_silence())
            if now >= self._next_control:
                self._next_control = now + self.settings.poll_interval
                worker_state, session_state, grace = self.coordinator.control(self.worker_id or "")
                if worker_state not in LIVE_WORKER_STATES:
                    self._declared_lost()
                elif session_state == SessionState.STOPPED:
                    self._end_attempt("session stopped", force=grace == 0)
        except StoreUnavailable as exc:
            if self._outage_since is None:
                self._outage_since, self._backoff = now, 0.25
            elif now - self._outage_since > self.settings.store_outage_window:
                self._end_attempt(f"the store is unreachable ({exc.message})", force=True)
                raise _GiveUp(f"the store has been unreachable for {now - self._outage_since:.0f}s ({exc.message})") from None
            self._backoff = min(self._backoff * 2, self._max_backoff())
            self._next_try = now + self._backoff
        else:
            self._back_from_outage()

    def _declared_lost(self) -> None:
        """Another worker declared this one lost (it was frozen or cut off): end the attempt at once, record nothing."""
        self.lost = True
        self._end_attempt("worker declared lost", force=True)

    def _end_attempt(self, reason: str, *, force: bool = False) -> None:
        if self.attempt is not None and self._stop_reason is None:
            self._stop_reason = reason
            self.attempt.stop(reason, force=force)

    def _usage(self) -> tuple[float, int]:
        """CPU seconds of the worker and the tasks it ran; its peak memory."""
        me = psutil.Process()
        times = me.cpu_times()
        self._peak_rss = max(self._peak_rss, me.memory_info().rss)
        return times.user + times.system + times.children_user + times.children_system, self._peak_rss

    # -- one task --------------------------------------------------------------------------------

    def _cost_tracker(self) -> Any:
        if self._tracker is None:
            from buildrunner.routing.cost_tracker import CostTracker

            self._tracker = CostTracker(self.project)
        return self._tracker

    def _pause_for_budget(self) -> None:
        tracker = self._cost_tracker()
        self.coordinator.pause_for_budget(tracker.spent("day"), tracker.budget_limit("day"))
        from buildrunner.telemetry.alerts import AlertManager

        AlertManager(self.project).check()

    def _budget_left(self) -> float | None:
        return self._cost_tracker().remaining_budget()

    def _select_model(self, task: Task) -> Any:
        from buildrunner.routing.model_selector import ModelSelector

        limits = [limit for limit in (task.cost_limit, self._session()["cost_limit"]) if limit is not None]
        selection = ModelSelector(self.project).select_model(
            task.description or task.prompt or task.task_id, cost_limit=min(limits) if limits else None, model=task.model
        )
        self.coordinator.emit(
            ModelSelected(
                task_id=task.task_id, worker_id=self.worker_id, model=selection.name, model_id=selection.model_id,
                cost=selection.estimated_cost, description="; ".join(selection.reasoning)[:500],
            )
        )
        return selection

    def _run_task_safely(self, task: Task) -> tuple[str, Task | None]:
        """`_run_task`; whatever goes wrong with one task fails that attempt, never the worker."""
        try:
            return self._run_task(task)
        except (_GiveUp, StoreUnavailable):
            raise
        except Exception as exc:  # noqa: BLE001 - one task's fault must not take the worker (and the session) down
            error = f"internal error running the task: {type(exc).__name__}: {exc}"
            return self._record(task, ExecutionResult("failed", None, 0.0, error[:500]), None), None

    def _run_task(self, task: Task) -> tuple[str, Task | None]:
        """Run one claimed attempt and record its outcome; also returns the next task when it was claimed with the result."""
        assert self.worker_id is not None
        selection = None
        if task.kind == "prompt":
            left = self._db(self._budget_left)
            if left is not None and left <= 0:
                self._db(lambda: self.coordinator.release_task(self.worker_id or "", task.task_id, task.attempt))
                self._db(self._pause_for_budget)
                return "released", None
            try:
                selection = self._db(lambda: self._select_model(task))
            except RoutingError as exc:
                return self._record(task, ExecutionResult("failed", None, 0.0, f"routing: {exc}"), None), None
            if left is not None and selection.estimated_cost > left:
                # The budget is not a reason to run the task on a tier it is not trusted with: wait for more budget.
                self._db(lambda: self.coordinator.release_task(self.worker_id or "", task.task_id, task.attempt))
                self._db(self._pause_for_budget)
                return "released", None
        worktree = None
        if task.isolation == "worktree":
            from buildrunner.parallel.isolation import Worktree

            try:
                worktree = Worktree.prepare(self.project, task)
            except BuildRunnerError as exc:
                return self._record(task, ExecutionResult("failed", None, 0.0, str(exc)), None), None
        result = self._execute(task, worktree.path if worktree else None, selection)
        if self.lost:
            return "stale", None
        cost = 0.0
        if selection is not None and result.agent_result is not None:
            record = self._db(
                lambda: self._cost_tracker().track_claude_code_result(
                    result.agent_result, model=selection.name, session_id=self.session_id, task_id=task.task_id
                )
            )
            cost = float(record.cost)
        if worktree is not None:
            finding = worktree.finish(result.status == "completed")
            if finding and result.status == "completed":
                result = ExecutionResult("failed", result.exit_code, result.duration_ms, finding, pid=result.pid)
        if selection is not None:
            outcome = self._record(task, result, selection.name, cost)
            left = self._db(self._budget_left)
            if left is not None and left <= 0:
                self._db(self._pause_for_budget)
            return outcome, None
        if self._quit.is_set() or self._stop_reason is not None:
            return self._record(task, result, None, cost), None
        began = time.monotonic()
        outcome, claimed = self._db(lambda: self.coordinator.record_and_claim(self.worker_id or "", lambda: self._record_now(task, result, None, cost)))
        if claimed is not None:
            self._alive_at = began
        return outcome, claimed

    def _execute(self, task: Task, workdir: Any, selection: Any) -> ExecutionResult:
        """Run the attempt, ticking meanwhile."""
        assert self.record is not None
        self._stop_reason = None
        try:
            launch = self.executor.launch(
                task, workdir=workdir, model_id=selection.model_id if selection else None, model=selection.name if selection else None
            )
        except LaunchError as exc:
            return ExecutionResult("failed", None, 0.0, str(exc))
        if self._quit.is_set():
            return ExecutionResult("lost", None, 0.0, f"worker {self.worker_id} shut down before the task started: {self._quit_reason}")
        attempt = Attempt(launch, self.rules, self.record, claimed=self._alive_at, lease=self.settings.heartbeat_timeout)
        self.attempt = attempt
        try:
            attempt.start()
            while not attempt.wait(self._tick_interval()):
                if self._quit.is_set():
                    self._end_attempt(self._quit_reason)
                try:
                    self._tick()
                except _GiveUp:
                    attempt.stop("the store is unreachable", force=True)
                    while not attempt.wait(1.0):
                        pass
                    raise
        finally:
            self.attempt = None
        stopped = self._stop_reason if self._stop_reason is not None and not self.lost else None
        result = self.executor.result(task, attempt.result(), stopped)
        if result.status == "cancelled" and self._quit.is_set():
            # This worker is shutting down (not the session): the attempt is lost, the task goes back to the queue.
            result = ExecutionResult("lost", result.exit_code, result.duration_ms, f"worker {self.worker_id} shut down: {self._quit_reason}", pid=result.pid)
        return result

    def _record(self, task: Task, result: ExecutionResult, model: str | None, cost: float = 0.0) -> str:
        return self._db(lambda: self._record_now(task, result, model, cost))

    def _record_now(self, task: Task, result: ExecutionResult, model: str | None, cost: float = 0.0) -> str:
        return self.coordinator.finish_attempt(
            self.worker_id or "", task.task_id, task.attempt, _STATUS[result.status], error=result.error, exit_code=result.exit_code,
            duration_ms=result.duration_ms, cost=cost, model=model, pid=result.pid,
        )
