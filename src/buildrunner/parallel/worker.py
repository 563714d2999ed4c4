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

import resource
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from buildrunner.agents.registry import require_installed
from buildrunner.errors import (
    BuildRunnerError,
    ConfigError,
    ExitCode,
    NotFoundError,
    ParallelError,
    RoutingError,
    StoreError,
    StoreUnavailable,
)
from buildrunner.money import usd, usd_alike
from buildrunner.parallel.attempt import Attempt, Launch, RecordFile, write_note
from buildrunner.parallel.executor import ExecutionResult, Executor, LaunchError, agent_of, task_path
from buildrunner.parallel.isolation import Worktree, landing_lock, resolve_commit
from buildrunner.parallel.landing import MergeSession, MergeTask, merge_session
from buildrunner.parallel.loop import (
    Check,
    changed_since,
    escalation,
    load_snapshot,
    log_lines,
    prompt_with_context,
    record_outcome,
    route,
    save_snapshot,
    security_check,
    snapshot,
    tail,
)
from buildrunner.parallel.models import BUDGET_REASON, WORKTREE, Task
from buildrunner.parallel.reaper import reap
from buildrunner.parallel.record import PROMPT_STEP, VERIFY_STEP, AttemptFiles, ExitRecord, open_record, read_record, record_path
from buildrunner.parallel.states import (
    ENDED_OUTCOMES,
    FINAL_SESSION_STATES,
    LIVE_WORKER_STATES,
    AttemptOutcome,
    AttemptState,
    CheckKind,
    SessionState,
    TaskState,
)
from buildrunner.parallel.supervisor import Link, supervise
from buildrunner.parallel.worker_coordinator import AttemptDetail, WorkerCoordinator
from buildrunner.paths import atomic_write_text, make_private_dir
from buildrunner.project import ensure_project
from buildrunner.routing.cost_tracker import CostTracker
from buildrunner.security.masking import mask_secrets, masked_line
from buildrunner.security.rules import rules_for, ruleset
from buildrunner.telemetry.alerts import AlertManager
from buildrunner.telemetry.events import AgentActivity, MergeFailed, ModelSelected, StoreOutage, VerifyResult
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.agents.base import Agent
    from buildrunner.project import Project

T = TypeVar("T")

# How often a running agent's shared caps (session max_cost, budgets) are read again as other attempts spend.
CAP_RECHECK_S = 0.25
# No attempt starts with less than this share of a max_cost left (nor with less than half what the task's previous
# attempt spent): an agent's first turn costs more than such a crumb, so it was cut off at its first message and its
# spend thrown away.
MIN_ATTEMPT_SHARE = 0.1
MIN_ATTEMPT_FLOOR_USD = 0.25  # ...a tenth of a big cap is more than an attempt needs: the last $10 of $100 stay usable
# How many times a supervisor starts its worker process again after it died (a crash loop stops there).
MAX_RESTARTS = 3
RU_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # getrusage's ru_maxrss: bytes on macOS, KiB on Linux
BUDGET_CAP = "the budget"  # the cap an attempt met was a daily/weekly/monthly budget (prompt tasks are held, not failed)


@dataclass
class WorkerReport:
    worker_id: str | None
    completed: int
    failed: int
    reason: str
    died: bool = False  # its worker process ended unexpectedly (its supervisor settled what it ran)

    def __str__(self) -> str:
        if self.died:
            return f"worker: {self.reason}"
        if self.worker_id is None:  # it never joined the session
            return f"no worker ran: {self.reason}"
        return f"worker {self.worker_id}: {self.reason}; {self.completed} completed, {self.failed} failed"


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
        self._facts: dict[str, Any] | None = None
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
        self._check_checkout(session.get("base_commit"))
        self._check_agents()
        deaths: list[int] = []
        while True:
            self.project.close()  # the child opens its own connection; none is carried across the fork
            code, report = supervise(self._work, self.settings.heartbeat_timeout, self.settings.kill_grace)
            if report is not None or len(deaths) >= MAX_RESTARTS or self._session()["status"] in FINAL_SESSION_STATES:
                break
            # Its worker process died (the OOM killer, a kill -9): its supervisor settled what it ran; a new one goes on,
            # or the session lost a worker for good (with one, it sat "running" with none until someone resumed it).
            deaths.append(code)
        died = f"; its worker process died {plural(len(deaths), 'time')} before (exit code {', '.join(map(str, deaths))}) and was started again" if deaths else ""
        if report is None:
            return WorkerReport(None, 0, 0, f"its process ended unexpectedly (exit code {code}) and what it ran was settled by its supervisor{died}", died=True)
        if died and "error" not in report:
            report = {**report, "reason": report["reason"] + died}
        if "error" in report:
            error = BuildRunnerError(report["error"])
            error.exit_code = ExitCode(report["exit_code"])
            raise error
        return WorkerReport(**report)

    def _check_checkout(self, base_commit: str | None) -> None:
        """A worker runs the session's tasks in its own folder: that folder must be a checkout of the session's repository
        (on another machine, `br parallel worker` run from the home folder ran every task there and called them done)."""
        if not base_commit:
            return
        try:
            resolve_commit(self.project.paths.root, base_commit)
        except BuildRunnerError:
            raise ConfigError(
                f"{self.project.paths.root} is not a checkout of session {self.session_id}'s repository: its commit {base_commit[:12]} is not here",
                hint="run the worker in a clone of the session's repository (git fetch, so that it has the commit), or pass -C DIR",
            ) from None

    def _check_agents(self) -> None:
        """Every agent the session's prompt tasks still need is installed here, refused as `start` refuses (exit 5):
        a worker on a second machine without `codex` took every Codex task and failed each at once."""
        path, seen = task_path(), set()
        for row in self.project.store.fetchall(self.project.store.query("parallel", "list_tasks"), {"session_id": self.session_id}):
            if row["kind"] != "prompt" or row["status"] not in (TaskState.PENDING, TaskState.BLOCKED, TaskState.RUNNING):
                continue
            agent = agent_of(Task.from_row(row), self.project.config)
            if (agent.name, agent.command) not in seen:
                seen.add((agent.name, agent.command))
                require_installed(agent, path=path)

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
                    if state in FINAL_SESSION_STATES:
                        reason = f"session {state}"
                        break
                    # A paused session keeps its workers, idle, on every machine: they went away, and `resume` could
                    # start new ones only on the machine it ran on
                    self._db(lambda: reap(self.coordinator, judge_silence=self._judges_silence()))
                    self._db(self.coordinator.check_finished)
                    self._db(self.coordinator.pause_if_only_held)
                    self._pause(self._idle_wait())
                    continue
                outcome, task = self._run_task_safely(task)
                completed += outcome == AttemptOutcome.COMPLETED
                failed += outcome == AttemptOutcome.FAILED
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
        self.rules = ruleset(rules_for(self.project.config.security))
        path = record_path(self.project.paths.logs_dir, self.session_id, self.worker_id or "")
        assert self.link is not None
        self.record = RecordFile(path, open_record(path), self.link.supervisor, self.link.supervisor_started, self.link.hold)
        self.link.record(str(path))

    def _shut_down(self, task: Task | None) -> None:
        if self.lost or self.worker_id is None:
            return
        try:
            if task is not None:
                self._hand_back(task)
            self.coordinator.heartbeat(self.worker_id, *self._usage())  # the last tasks' use (a short session ends before a beat)
            self.coordinator.unregister_worker(self.worker_id)
        except StoreError:
            pass  # the store is gone: the reaper will find this worker silent and settle what it held

    def _hand_back(self, task: Task) -> None:
        """A task claimed together with the last result but never started: cancel it if stopped, else requeue it untried."""
        assert self.worker_id is not None
        if self._session()["status"] == SessionState.STOPPED:
            self.coordinator.finish_attempt(self.worker_id, task.task_id, task.attempt, AttemptState.CANCELLED, error="session stopped")
        else:
            self.coordinator.release_task(self.worker_id, task.task_id, task.attempt, "its worker shut down first")

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
        """CPU seconds of the worker and the tasks it ran (and reaped); the peak memory of the worker or of any one task."""
        me = psutil.Process()
        times = me.cpu_times()
        tasks_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * RU_MAXRSS_UNIT  # the largest reaped task
        self._peak_rss = max(self._peak_rss, me.memory_info().rss, tasks_peak)
        return times.user + times.system + times.children_user + times.children_system, self._peak_rss

    # -- one task --------------------------------------------------------------------------------

    def _cost_tracker(self) -> Any:
        if self._tracker is None:
            self._tracker = CostTracker(self.project)
        return self._tracker

    def _session_facts(self) -> dict[str, Any]:
        """What a session fixes when it is created (name, base commit, setup, caps): read once."""
        if self._facts is None:
            self._facts = self._db(self._session)
        return self._facts

    def _select_tier(self, task: Task, agent: "Agent", cap: float | None) -> str:
        """The tier this attempt runs on: the escalated one, else the one routing picks (within the cap)."""
        if task.next_tier:  # each rung of the ladder is a selection telemetry shows
            self.coordinator.emit(
                ModelSelected(
                    task_id=task.task_id, worker_id=self.worker_id, model=task.next_tier, model_id=agent.model_for(task.next_tier),
                    description=f"escalated to {task.next_tier} after attempt {task.attempt - 1} failed",
                )
            )
            return task.next_tier
        selection = route(self.project, task, agent, cap)
        self.coordinator.keep_routing_estimate(task.task_id, selection.complexity.to_json())
        self.coordinator.emit(
            ModelSelected(
                task_id=task.task_id, worker_id=self.worker_id, model=selection.name, model_id=selection.model_id,
                cost=selection.estimated_cost, description="; ".join(selection.reasoning)[:500],
            )
        )
        return str(selection.name)

    def _caps(self, task: Task) -> tuple[float | None, str | None, float | None]:
        """(USD this attempt may still spend, which cap that is, the whole of that cap when it is a max_cost): the
        task's, the session's and the budgets' together.

        The session's cap and the budgets are shared: what other attempts running now have spent so
        far counts against them too, so N agents at once cannot each spend the whole of what is left.
        Asked again while the attempt runs (`_recheck_cap`), as the others' spend grows.
        """
        store = self.project.store
        me = self._attempt_params(task)
        caps: list[tuple[float, str, float | None]] = []
        if task.cost_limit is not None:
            spent = float(store.scalar(store.query("parallel", "task_cost_since_retry"), me) or 0.0)
            caps.append((task.cost_limit - spent, f"the task's max_cost of {usd(task.cost_limit)}", task.cost_limit))
        limit = self._session_facts().get("cost_limit")
        if limit is not None:
            spent = float(store.scalar(store.query("parallel", "session_cost_except"), me) or 0.0)
            caps.append((float(limit) - spent, f"the session's max_cost of {usd(float(limit))}", float(limit)))
        left = self._cost_tracker().remaining_budget()
        if left is not None:
            caps.append((left - float(store.scalar(store.query("parallel", "running_cost_except"), me) or 0.0), BUDGET_CAP, None))
        if not caps:
            return None, None, None
        amount, which, whole = min(caps, key=lambda cap: cap[0])
        return max(0.0, amount), which, whole

    def _attempt_params(self, task: Task) -> dict[str, Any]:
        """The parameters naming this attempt in the store's queries."""
        return {"session_id": self.session_id, "task_id": task.task_id, "attempt": task.attempt}

    def _neighbours(self, task: Task) -> int:
        """How many other attempts ran in the shared checkout while this one ran."""
        store = self.project.store
        me = self._attempt_params(task)
        return int(store.scalar(store.query("parallel", "checkout_neighbours"), me) or 0)

    def _previous_cost(self, task: Task) -> float:
        """What the task's previous attempt spent: the next one, a tier up, likely needs more."""
        store = self.project.store
        me = self._attempt_params(task)
        return float(store.scalar(store.query("parallel", "previous_attempt_cost"), me) or 0.0)

    def _run_task_safely(self, task: Task) -> tuple[AttemptOutcome, Task | None]:
        """`_run_task`; whatever goes wrong with one task fails that attempt, never the worker.

        When it went wrong after the command exited, in a step of ours (a check that could not run, the
        commit, the record), the work is done and kept: the next attempt adopts it and runs only the
        checks, as after a lost worker, rather than running the command a second time.
        """
        rung = _Rung(task)
        try:
            return self._run_task(task, rung)
        except (_GiveUp, StoreUnavailable):
            raise
        except Exception as exc:  # noqa: BLE001 - one task's fault must not take the worker (and the session) down
            kept_note = "; its work is kept: a retry checks it instead of running the command again" if rung.adoptable else ""
            error = f"internal error running the task: {type(exc).__name__}: {exc}"[: 500 - len(kept_note)] + kept_note
            return self._record(task, ExecutionResult(AttemptState.FAILED, None, 0.0, error), None, unchecked=rung.adoptable), None

    def _run_task(self, task: Task, rung: "_Rung") -> tuple[AttemptOutcome, Task | None]:
        """Run one claimed attempt: prepare, run, check, land; record it and move the task on.

        An attempt whose task has work waiting to be checked (an earlier attempt's command exited,
        then its worker was lost) adopts that work and runs only the checks: the command is never
        run twice. Returns the outcome, and the next task when it was claimed with the result (command tasks).
        """
        assert self.worker_id is not None
        result = self._adopt(task, rung) if task.adopt_attempt is not None else None
        if result is None:
            ended = self._prepare(task, rung)
            if ended is not None:
                return ended, None
            result = self._execute(task, rung, rung.workdir)
        rung.exited = result.status == AttemptState.COMPLETED
        if self.lost:
            return AttemptOutcome.STALE, None
        if result.status == AttemptState.COMPLETED and task.verify:
            result = self._verify(task, rung, rung.workdir, result)
        if result.status == AttemptState.COMPLETED and task.checked:
            changed = rung.worktree.diff_files() if rung.worktree is not None else changed_since(rung.before or {}, self.project.paths.root)
            check = security_check(self.project, changed)
            if check is not None and check.outcome == CheckKind.SECURITY and rung.worktree is None and self._db(lambda: self._neighbours(task)):
                # What another task wrote meanwhile is in this attempt's changes too: it may be theirs, not this one's
                note = "; other tasks ran in this checkout meanwhile and may have written it: give prompt tasks `isolation: worktree`"
                check = replace(check, reason=(check.reason[: 500 - len(note)] + note), context=(check.context or check.reason) + note)
            if check is not None:
                rung.check = check
                result = ExecutionResult(AttemptState.FAILED, result.exit_code, result.duration_ms, check.reason, pid=result.pid)
        if rung.worktree is not None:
            result = self._land(rung, result)
        if task.kind == "prompt" or self._quit.is_set() or self._stop_reason is not None:
            outcome, claimed = self._finish(rung, result), None
        else:
            began = time.monotonic()
            outcome, claimed = self._db(lambda: self.coordinator.record_and_claim(self.worker_id or "", lambda: self._record_now(task, result, rung)))
            if claimed is not None:
                self._alive_at = began
        if outcome in ENDED_OUTCOMES:
            self._drop_snapshots(task)
        if rung.worktree is not None and result.status == AttemptState.COMPLETED and outcome != AttemptOutcome.STALE and not self.lost:
            try:
                rung.worktree.remove()  # landed and recorded: until then, were this worker lost, the next attempt would adopt it
            except (OSError, BuildRunnerError) as exc:  # the work is on its branch; the task claimed with the result must still run
                write_note(self.executor.files(task).log, f"[br] the worktree {rung.worktree.path} could not be removed ({exc}); `br parallel cleanup` removes it\n")
        return outcome, claimed

    def _prepare(self, task: Task, rung: "_Rung") -> AttemptOutcome | None:
        """Before the command or agent runs: its tier and caps (prompt tasks), its worktree, what the tree holds.

        Returns the outcome when the attempt ends here (released for budget, a cap spent, routing or setup failed).
        """
        if task.kind == "prompt":
            spent = self._db(lambda: self._cost_tracker().spent_budget())
            if spent is not None:  # the budget ran out since this task was claimable: hold prompt tasks, shell tasks go on
                reason = f"{BUDGET_REASON} {spent.describe()}"
                self._db(lambda: self.coordinator.release_task(self.worker_id or "", task.task_id, task.attempt, reason))
                self._db(lambda: self._hold_for_budget(reason))
                return AttemptOutcome.REQUEUED
            rung.cap, rung.cap_name, whole = self._db(lambda: self._caps(task))
            floor = min(whole * MIN_ATTEMPT_SHARE, MIN_ATTEMPT_FLOOR_USD) if whole is not None else 0.0
            if rung.cap is not None and whole is not None and rung.cap < max(floor, self._db(lambda: self._previous_cost(task)) / 2):
                # An attempt started on the last crumbs is cut off at its first message: its spend thrown away
                left = f" (only {usd_alike([rung.cap])[0]} left: too little to start another attempt)" if rung.cap > 0 else ""
                rung.check = Check(CheckKind.BUDGET_EXCEEDED, f"{rung.cap_name} is spent{left}")
                return self._finish(rung, ExecutionResult(AttemptState.BUDGET_EXCEEDED, None, 0.0, rung.check.reason))
            rung.agent = agent_of(task, self.project.config)
            try:
                rung.tier = self._db(lambda: self._select_tier(task, rung.agent, None if rung.cap_name == BUDGET_CAP else rung.cap))
            except RoutingError as exc:
                return self._finish(rung, ExecutionResult(AttemptState.FAILED, None, 0.0, f"routing: {exc}"))
            rung.model_id = rung.agent.model_for(rung.tier)
        if task.isolation == WORKTREE:
            facts = self._session_facts()
            try:
                rung.worktree = Worktree.prepare(
                    self.project, task, session_name=facts["name"], base_commit=self._base_for_worktree(), setup=facts.get("setup"),
                    tick=self._tick, setup_timeout=task.timeout,
                )
            except BuildRunnerError as exc:
                return self._finish(rung, ExecutionResult(AttemptState.FAILED, None, 0.0, str(exc)))
        elif task.checked:
            # What the attempt changes is what differs from this snapshot when it ends (kept on disk for an adopting attempt).
            rung.before = snapshot(self.project.paths.root)
            save_snapshot(self.executor.files(task).snapshot, rung.before)
        return None

    def _adopt(self, task: Task, rung: "_Rung") -> ExecutionResult | None:
        """Take over the work of the attempt whose command exited before its worker was lost: its result as the record
        holds it, its worktree or snapshot, an agent's result and cost read back from its log. None when that work is
        out of reach (another machine's, or gone): this attempt then runs the task afresh."""
        source = task.adopt_attempt
        assert source is not None
        row = self._db(lambda: self.coordinator.adoptable(task.task_id, source))
        adopted = replace(task, attempt=source)
        files = self.executor.files(adopted)
        record = ExitRecord()
        if row is not None and self.coordinator.is_here(row):
            record = read_record(record_path(self.project.paths.logs_dir, self.session_id, row["worker_id"]), task.task_id, source)
        if record.own_result and task.isolation == WORKTREE:
            rung.worktree = Worktree.adopt(self.project, task, source, session_name=self._session_facts()["name"], tick=self._tick)
        elif record.own_result:
            rung.before = load_snapshot(files.snapshot)
        if row is None or (rung.worktree is None and rung.before is None):
            self._db(lambda: self.coordinator.forget_adoption(self.worker_id or "", task.task_id, task.attempt))
            return None
        write_note(
            self.executor.files(task).log,
            f"[br] attempt {task.attempt} adopts attempt {source}'s work: its command exited and its checks did not finish "
            f"(its worker was lost, or a step of ours failed), so its work is checked here, not run again (its output is attempt {source}'s)\n",
        )
        result = self.executor.result(adopted, record, files=files)
        if task.kind == "prompt":
            rung.agent = agent_of(task, self.project.config)
            rung.tier = row["tier"] or task.next_tier or self._db(lambda: self._select_tier(task, rung.agent, None))
            rung.model_id = rung.agent.model_for(rung.tier)
            rung.run = rung.agent.start(rung.model_id or "")
            for line in log_lines(files.log):
                rung.run.feed(line)
            result = self._agent_result(task, rung, result, files, tracked=bool(row["cost_recorded"]))
        return result

    def _base_for_worktree(self) -> str | None:
        """The commit a new worktree starts from: the session's base, or the target's tip when passing work is merged as it passes."""
        facts = self._session_facts()
        if facts.get("merge_on_pass") and facts.get("base_branch"):
            try:
                return resolve_commit(self.project.paths.root, str(facts["base_branch"]))
            except BuildRunnerError:
                pass
        return facts.get("base_commit")

    def _execute(self, task: Task, rung: "_Rung", workdir: Any) -> ExecutionResult:
        """Run the attempt's command or agent, ticking meanwhile; for an agent, follow it live and hold its caps."""
        try:
            if rung.agent is not None:
                rung.run = rung.agent.start(rung.model_id or "")
                prompt = prompt_with_context(task.prompt or "", task.context)
                invocation = rung.agent.invocation(prompt, rung.model_id or "", max_cost_usd=rung.cap)
                self._keep_prompt(task, prompt)
                launch = self.executor.launch(task, workdir=workdir, invocation=invocation)
                launch = replace(launch, on_line=lambda line: self._agent_line(task, rung, line))
            else:
                launch = self.executor.launch(task, workdir=workdir)
        except (LaunchError, ConfigError) as exc:
            return ExecutionResult(AttemptState.FAILED, None, 0.0, masked_line(str(exc), 500))
        result = self._run_attempt(task, launch, rung)
        if rung.run is not None:
            return self._agent_result(task, rung, result, launch.files)
        return result

    def _keep_prompt(self, task: Task, prompt: str) -> None:
        """The prompt as the agent gets it, masked, for `br parallel logs` (a retry's holds what the failed check said),
        private to its owner as every log is. Not kept when it cannot be written: the attempt runs all the same."""
        path = AttemptFiles.of(self.executor.logs_dir, task.session_id, task.task_id, task.attempt, step=PROMPT_STEP).log
        try:
            atomic_write_text(make_private_dir(path.parent) / path.name, mask_secrets(prompt) + ("" if prompt.endswith("\n") else "\n"), private=True)
        except (OSError, ConfigError):  # a full disk, or a file where the logs folder must be
            pass

    def _run_attempt(self, task: Task, launch: Launch, rung: "_Rung | None" = None) -> ExecutionResult:
        """Start `launch` and wait for it, ticking (and publishing an agent's progress) meanwhile."""
        assert self.record is not None
        self._stop_reason = None
        if self._quit.is_set():
            return ExecutionResult(AttemptState.LOST, None, 0.0, f"worker {self.worker_id} shut down before the task started: {self._quit_reason}")
        attempt = Attempt(launch, self.rules, self.record, claimed=self._alive_at, lease=self.settings.heartbeat_timeout)
        self.attempt = attempt
        try:
            attempt.start()
            while not attempt.wait(self._tick_interval()):
                if self._quit.is_set():
                    self._end_attempt(self._quit_reason)
                if rung is not None and rung.run is not None:
                    self._publish(task, rung)
                try:
                    self._tick()
                except _GiveUp:
                    attempt.stop("the store is unreachable", force=True)
                    while not attempt.wait(1.0):
                        pass
                    raise
        except Exception as exc:  # ours, not the task's: it must not run on unwatched while its task is retried
            attempt.abandon(f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:
            self.attempt = None
        stopped = self._stop_reason if self._stop_reason is not None and not self.lost else None
        result = self.executor.result(task, attempt.result(), stopped, launch.files)
        if attempt.output_errors:  # the task ran on: its result stands, and the gap in its log is said
            gap = f"output not fully logged ({'; '.join(attempt.output_errors)})"
            result = replace(result, error=f"{result.error}; {gap}" if result.error else gap)
        if rung is not None and rung.capped is not None and result.status in (AttemptState.CANCELLED, AttemptState.FAILED, AttemptState.TIMEOUT):
            return ExecutionResult(AttemptState.BUDGET_EXCEEDED, result.exit_code, result.duration_ms, rung.capped, pid=result.pid)
        if result.status == AttemptState.CANCELLED and self._quit.is_set():
            # This worker is shutting down (not the session): the attempt is lost, the task goes back to the queue.
            result = ExecutionResult(AttemptState.LOST, result.exit_code, result.duration_ms, f"worker {self.worker_id} shut down: {self._quit_reason}", pid=result.pid)
        return result

    # -- an agent's attempt ----------------------------------------------------------------------

    def _agent_line(self, task: Task, rung: "_Rung", line: str) -> None:
        """One line of the agent's output (masked): its events go to telemetry, its running cost against the cap."""
        assert rung.run is not None
        for event in rung.run.feed(line):
            rung.events.append(
                AgentActivity(
                    task_id=task.task_id, worker_id=self.worker_id, attempt=task.attempt, agent=rung.run.agent.name, kind=event.kind,
                    model=rung.run.model, description=masked_line(_describe(event), 500), cost=rung.run.cost_usd, turns=rung.run.turns,
                )
            )
        self._hold_cap(rung)

    def _hold_cap(self, rung: "_Rung") -> None:
        """End the attempt the moment its running cost crosses what its caps allow it; not once the agent has given its
        final result (its last message is what crossed): that spend is done, and ending it now would only throw the
        paid-for work away unchecked."""
        if rung.cap is not None and rung.capped is None and not rung.run.answered and rung.run.cost_usd > rung.cap:
            spent, allowed = usd_alike([rung.run.cost_usd, rung.cap])
            rung.capped = f"{rung.cap_name} reached: {spent} spent of {allowed} this attempt was allowed"
            self._end_attempt(rung.capped, force=True)

    def _recheck_cap(self, task: Task, rung: "_Rung") -> None:
        """The shared caps again, at most every CAP_RECHECK_S: other attempts' spend since this one started counts."""
        if rung.cap_name is None or rung.capped is not None or time.monotonic() < rung.recheck_at:
            return
        rung.recheck_at = time.monotonic() + CAP_RECHECK_S
        cap, name, _ = self._caps(task)
        if cap is not None and (rung.cap is None or cap < rung.cap):
            rung.cap, rung.cap_name = cap, name
        self._hold_cap(rung)

    def _publish(self, task: Task, rung: "_Rung") -> None:
        """An agent's progress so far: its events to telemetry, its turns, last action and cost to the attempt's row."""
        assert rung.run is not None
        events, rung.events = rung.events, []
        progress = rung.run.progress()
        shown = (progress.turns, progress.last_action, round(progress.cost_usd, 6))
        try:
            if events:
                self.coordinator.emit(*events)
                events = []  # written: never queued again, whatever fails next
            if shown != rung.shown:
                self.coordinator.progress(
                    task.task_id, task.attempt, agent=progress.agent, tier=rung.tier, model=progress.model or rung.model_id,
                    turns=progress.turns, last_action=progress.last_action, cost=progress.cost_usd,
                )
                rung.shown = shown
        except StoreUnavailable:
            rung.events = events + rung.events  # published once the store is back
            return
        try:
            self._recheck_cap(task, rung)
        except StoreUnavailable:
            pass  # read again on the next tick; the cap known at the start still holds meanwhile

    def _record_spend(self, task: Task, agent_result: Any, tracked: bool) -> None:
        """The agent's cost into the cost records (unless `tracked` there already) and onto the attempt, in one transaction:
        a worker lost in between must leave it counted once, not twice or never."""
        with self.project.store.transaction():
            if not tracked:
                self._cost_tracker().track_agent_result(agent_result, session_id=self.session_id, task_id=task.task_id)
            self.coordinator.cost_recorded(task.task_id, task.attempt, agent_result.cost_usd)

    def _agent_result(self, task: Task, rung: "_Rung", result: ExecutionResult, files: AttemptFiles, *, tracked: bool = False) -> ExecutionResult:
        """The attempt as the agent tells it: its final result, its cost (recorded, unless `tracked` by the attempt it adopts), why it failed."""
        assert rung.run is not None
        self._publish(task, rung)
        code = result.exit_code if result.status in (AttemptState.COMPLETED, AttemptState.FAILED) else None
        agent_result = rung.run.finish(code, stderr=tail(files.err, 2000))
        rung.cost = agent_result.cost_usd
        rung.model = agent_result.model or rung.model_id
        self._db(lambda: self._record_spend(task, agent_result, tracked))
        if result.status not in (AttemptState.COMPLETED, AttemptState.FAILED) or rung.check is not None:  # ended by us: timeout, cap, stop, shutdown
            if result.status == AttemptState.TIMEOUT and rung.check is None:
                rung.check = Check(CheckKind.TIMEOUT, result.error or "timed out")
            return result
        if agent_result.outcome == "budget_exceeded":
            rung.check = Check(CheckKind.BUDGET_EXCEEDED, mask_secrets(agent_result.reason or "the agent's own spend cap was reached"))
            return ExecutionResult(AttemptState.BUDGET_EXCEEDED, result.exit_code, result.duration_ms, rung.check.reason, pid=result.pid)
        if result.status == AttemptState.FAILED or not agent_result.passed:  # the agent's own word on why, else the exit and its last line
            said = result.error if result.exit_code is None and result.error else agent_result.reason  # no exit: it never started
            reason = mask_secrets(said or result.error or f"{agent_result.agent} reported a failure")
            if agent_result.outcome == "error":  # no stronger tier would pass: retried as the plan says, never escalated
                reason += " (the agent could not work: no stronger tier is tried for it)"
                rung.check = Check(CheckKind.AGENT_UNAVAILABLE, reason)
            else:
                rung.check = Check(CheckKind.AGENT_ERROR, reason, reason)
            return ExecutionResult(AttemptState.FAILED, result.exit_code, result.duration_ms, reason[:500], pid=result.pid)
        return result

    # -- checks and landing ----------------------------------------------------------------------

    def _verify(self, task: Task, rung: "_Rung", workdir: Any, result: ExecutionResult) -> ExecutionResult:
        """Run the task's `verify` in its working folder, masked to its own log, within the task's timeout."""
        files = AttemptFiles.of(self.project.paths.logs_dir, self.session_id, task.task_id, task.attempt, step=VERIFY_STEP)
        remaining = max(1.0, task.timeout - result.duration_ms / 1000)
        try:
            launch = self.executor.launch(task, workdir=workdir, command=task.verify, files=files, timeout=remaining)
        except LaunchError as exc:
            rung.check = Check(CheckKind.VERIFY_FAILED, f"verify could not start: {exc}")
            return ExecutionResult(AttemptState.FAILED, None, result.duration_ms, rung.check.reason)
        checked = self._run_attempt(task, launch)
        rung.verify_exit = checked.exit_code
        passed = checked.status == AttemptState.COMPLETED
        self.coordinator.emit(
            VerifyResult(
                task_id=task.task_id, worker_id=self.worker_id, attempt=task.attempt, passed=passed, exit_code=checked.exit_code,
                duration_ms=checked.duration_ms, error=None if passed else checked.error, description=masked_line(f"verify: {task.verify}", 500),
            )
        )
        if passed or checked.status in (AttemptState.CANCELLED, AttemptState.LOST):
            return result if passed else checked
        rung.check = Check(CheckKind.VERIFY_FAILED, f"verify failed ({checked.error})", tail(launch.files.log) or checked.error)
        return ExecutionResult(AttemptState.FAILED, checked.exit_code, result.duration_ms + checked.duration_ms, rung.check.reason[:500], pid=result.pid)

    def _land(self, rung: "_Rung", result: ExecutionResult) -> ExecutionResult:
        """A passing attempt's work goes onto its branch (and the target, with `merge: true`); a failed one's worktree stays for inspection.

        With `merge: true` an attempt passes only once its work is on the target: the tasks after it start from there,
        so work that did not land (a conflict, a failing verify on the merged tree, uncommitted changes in the way) fails
        the attempt, its branch kept; a retry runs on the target as it is now."""
        worktree = rung.worktree
        assert worktree is not None
        rung.worktree_path = str(worktree.path)
        if result.status != AttemptState.COMPLETED:
            return result
        agent = rung.agent.name if rung.agent is not None else None
        rung.commit = worktree.commit(agent=agent, model=rung.model or rung.model_id)
        rung.branch = worktree.branch
        rung.worktree_path = None
        if not (self._session_facts().get("merge_on_pass") and rung.commit):
            return result
        failure = self._merge_now(rung)
        if failure is None:
            return result
        rung.check = Check(CheckKind.NOT_LANDED, failure)
        return ExecutionResult(AttemptState.FAILED, result.exit_code, result.duration_ms, failure[:500], pid=result.pid)

    def _merge_now(self, rung: "_Rung") -> str | None:
        """`merge: true`: land this task's branch on the session's target now (verified there); why it did not, if it did not."""
        facts = self._session_facts()
        task = rung.task
        merge = MergeSession(
            self.session_id, facts["name"], facts.get("base_branch"),
            (MergeTask(task.task_id, rung.branch or "", rung.commit, task.verify, env=task.env, cwd=task.cwd, timeout=task.timeout),),
            setup=facts.get("setup"),
        )
        try:
            with landing_lock(self.project, self.session_id, tick=self._tick):
                report = merge_session(self.project, merge, tick=self._tick)
            error, next_step = report.error, report.next_step
        except ParallelError as exc:  # the target's checkout has changes the merge would overwrite
            error, next_step = exc.message, exc.hint
        if error is None:
            return None
        error = mask_secrets(error)
        self.coordinator.emit(MergeFailed(task_id=task.task_id, worker_id=self.worker_id, error=error[:500], description=mask_secrets(next_step or "")[:500]))
        target = facts.get("base_branch")
        return (
            f"not landed ({error}); its work is kept on {rung.branch}: merge it by hand (git merge {rung.branch}), "
            f"or let a retry run the task again on {target} as it is then"
        )

    # -- recording -------------------------------------------------------------------------------

    def _finish(self, rung: "_Rung", result: ExecutionResult) -> AttemptOutcome:
        """Record the attempt (with its rung of the ladder) and, for a prompt task that ended, its outcome for routing."""
        task = rung.task
        escalate_to, hold = escalation(task, result.status, rung.check, rung.tier), None
        if result.status == AttemptState.BUDGET_EXCEEDED and rung.cap_name == BUDGET_CAP:
            spent = self._db(lambda: self._cost_tracker().spent_budget())
            hold = f"{BUDGET_REASON} {spent.describe()}" if spent else f"{BUDGET_REASON} {result.error}"
        outcome = self._record(task, result, rung, escalate_to=escalate_to, hold=hold)
        if task.kind == "prompt" and outcome in (AttemptOutcome.COMPLETED, AttemptOutcome.FAILED):
            rows = self._db(lambda: self.coordinator.ladder(task.task_id))
            routed = self._db(lambda: self.coordinator.routing_estimate(task.task_id))
            self._db(lambda: record_outcome(self.project, self.session_id, task.task_id, task.routing_text,
                                            rung.agent.name if rung.agent else task.agent, rows, time.time(), routed=routed))
        if hold is not None:
            self._db(lambda: self._hold_for_budget(None))
        return outcome

    def _drop_snapshots(self, task: Task) -> None:
        """A task that ended for good needs no attempt's snapshot (kept only for an attempt that may adopt its work): each
        can hold megabytes of digests, and a session of a thousand checked tasks left gigabytes until cleanup."""
        if not task.checked or task.isolation == WORKTREE:
            return
        for attempt in range(1, task.attempt + 1):
            AttemptFiles.of(self.executor.logs_dir, task.session_id, task.task_id, attempt).snapshot.unlink(missing_ok=True)

    def _hold_for_budget(self, reason: str | None) -> None:
        """Prompt tasks wait for budget (`reason`, unless already held); the session pauses once nothing else can run; the cost alert fires."""
        if reason is not None:
            self.coordinator.hold_prompts(reason)
        self.coordinator.pause_if_only_held()
        AlertManager(self.project).check()

    def _record(self, task: Task, result: ExecutionResult, rung: "_Rung | None" = None, **moves: Any) -> AttemptOutcome:
        return self._db(lambda: self._record_now(task, result, rung, **moves))

    def _record_now(self, task: Task, result: ExecutionResult, rung: "_Rung | None" = None, **moves: Any) -> AttemptOutcome:
        rung = rung or _Rung(task)
        check = rung.check
        if result.status == AttemptState.LOST and rung.adoptable:
            moves.setdefault("unchecked", True)  # the worker left during the checks: the command's work is done, the next attempt adopts it
        detail = AttemptDetail(
            agent=rung.agent.name if rung.agent is not None else None, tier=rung.tier,
            outcome="passed" if result.status == AttemptState.COMPLETED else (check.outcome if check else result.status),
            verify_exit=rung.verify_exit, branch=rung.branch, commit_sha=rung.commit, worktree=rung.worktree_path,
        )
        return self.coordinator.finish_attempt(
            self.worker_id or "", task.task_id, task.attempt, result.status, error=result.error, exit_code=result.exit_code,
            duration_ms=result.duration_ms, cost=rung.cost, model=rung.model or rung.model_id, pid=result.pid, detail=detail,
            context=check.context if check is not None else None, **moves,
        )


@dataclass
class _Rung:
    """One attempt of a task as the worker runs it: a rung of its ladder when it is a prompt task."""

    task: Task
    agent: Any = None
    tier: str | None = None
    model_id: str | None = None
    model: str | None = None
    cap: float | None = None
    cap_name: str | None = None
    capped: str | None = None  # why the attempt was ended at a spend cap
    recheck_at: float = 0.0  # monotonic time the shared caps are next read again
    run: Any = None
    events: list[Any] = field(default_factory=list)
    shown: tuple[Any, ...] = ()
    cost: float = 0.0
    check: Check | None = None
    worktree: Any = None
    worktree_path: str | None = None
    before: dict[str, str] | None = None  # without a worktree: digests of what the working tree held before the attempt
    verify_exit: int | None = None
    branch: str | None = None
    commit: str | None = None
    exited: bool = False  # the command (or agent) passed by itself: its work is done, and on disk until the attempt lands

    @property
    def adoptable(self) -> bool:
        """The command passed and checks follow it: were the attempt cut short now, the next one would adopt its work."""
        return self.exited and self.task.checked

    @property
    def workdir(self) -> Any:
        """Where the attempt runs: its worktree's project folder, or None for the project itself."""
        return self.worktree.workdir if self.worktree is not None else None


def _describe(event: Any) -> str:
    """An agent event in a few words, for telemetry."""
    for attribute in ("action", "text", "message", "snippet"):
        value = getattr(event, attribute, None)
        if value:
            return f"{getattr(event, 'tool', '')} {value}".strip() if attribute == "action" else str(value)
    if hasattr(event, "turn"):
        return f"turn {event.turn}"
    return event.kind
