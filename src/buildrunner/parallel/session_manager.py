"""Sessions: create one from a plan, launch its workers, report, pause, resume, stop, clean up.

Reading and reporting live here; every change of state is made by `WorkerCoordinator`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.errors import APIError, ConfigError, NotFoundError, ParallelError, RoutingError, StoreError, StoreUnavailable
from buildrunner.localdays import DAY_S
from buildrunner.parallel.models import (
    BUDGET_REASON,
    MAX_WORKERS,
    NO_ISOLATION,
    WORKTREE,
    Activity,
    AgentStatus,
    LadderRung,
    PlanPreview,
    Session,
    SessionStatus,
    SessionSummary,
    Task,
    TaskFailure,
    TaskLog,
    TaskPreview,
    TaskRecord,
    WorkerHealth,
)
from buildrunner.parallel.states import FINAL_SESSION_STATES, UNFINISHED_TASK_STATES, AttemptState, SessionState, TaskState
from buildrunner.project import ensure_project
from buildrunner.store import now
from buildrunner.words import plural

# The modules that run or change sessions (plans, workers, the reaper, worktrees, agents, routing, costs) are imported
# in the methods that use them: they load pydantic, psutil and more, and `br parallel list` and `status` need none.
if TYPE_CHECKING:
    from buildrunner.parallel.landing import MergeSession
    from buildrunner.parallel.plan import Plan
    from buildrunner.parallel.settings import ParallelSettings
    from buildrunner.parallel.worker_coordinator import Retried, WorkerCoordinator
    from buildrunner.project import Project
    from buildrunner.routing.cost_tracker import SpentBudget
    from buildrunner.store import Store

# `--wait` checks this often: a few cheap reads, and the caller learns of the end promptly.
WAIT_POLL_S = 0.02
WAIT_CHECK_S = 1.0

_ACTIONS = {"running": "Started", "completed": "Completed", "failed": "Failed", "timeout": "Timed out", "lost": "Lost", "cancelled": "Cancelled"}


class SessionManager:
    """Manage parallel sessions."""

    def __init__(self, project: "Project | None" = None) -> None:
        self.project = ensure_project(project)

    @cached_property
    def settings(self) -> "ParallelSettings":
        """The config's `parallel` section (built when first needed: listing sessions needs none of it)."""
        return self.project.config.parallel

    @property
    def store(self) -> "Store":
        return self.project.store

    def _q(self, name: str) -> str:
        return self.store.query("parallel", name)

    def coordinator(self, session_id: str) -> "WorkerCoordinator":
        """The session's coordinator (imported here: its events are pydantic models, and listing sessions needs none)."""
        from buildrunner.parallel.worker_coordinator import WorkerCoordinator

        return WorkerCoordinator(session_id, self.project)

    # -- create and launch -----------------------------------------------------------------------

    def load_plan(self, config: Path | None = None) -> Plan:
        """`config`, else the project's `.buildrunner/plan.*`."""
        from buildrunner.parallel.plan import find_plan, load_plan  # pydantic: reading sessions needs no plan

        path = config or find_plan(self.project.paths.root)
        if path is None:
            raise ConfigError(
                "no plan: pass --config FILE or create .buildrunner/plan.yaml",
                hint="`br init` writes an example .buildrunner/plan.yaml to start from",
            )
        return load_plan(path)

    def create_session(
        self,
        name: str,
        total_tasks: int | None = None,
        num_workers: int | None = None,
        *,
        plan: Plan | None = None,
        config: Path | None = None,
        cost_limit: float | None = None,
        start_workers: bool = True,
        halt_on_failure: bool | None = None,
    ) -> Session:
        """Validate the plan (its first `total_tasks` tasks), store the session and start its workers on this machine.

        `halt_on_failure`, when given, replaces the plan's: stop the session at the first task that fails for good.

        The plan is `plan`, else the file `config`, else the project's `.buildrunner/plan.yaml`
        (or `.yml`, `.json`, `.toml`). With `start_workers=False` nothing runs until workers
        join (`start_workers`, or `br parallel worker SESSION_ID` on any machine).
        """
        plan, workers, base, spent = self._prepare(name, plan, config, total_tasks, num_workers, halt_on_failure)
        from buildrunner.parallel.worker_coordinator import WorkerCoordinator

        session = WorkerCoordinator.create_session(
            self.project, name, plan, workers, cost_limit if cost_limit is not None else plan.cost_limit,
            base=base, prompts_held=f"{BUDGET_REASON} {spent.describe()}" if spent else None,
        )
        session.budget_note = spent.describe() if spent else None
        session.notes = plan.notes(workers)
        if start_workers:
            session.worker_pids = self.start_workers(session.session_id, workers)
        return session

    def _prepare(
        self, name: str, plan: Plan | None, config: Path | None, total_tasks: int | None, num_workers: int | None, halt_on_failure: bool | None,
    ) -> tuple[Plan, int, tuple[str | None, str | None], "SpentBudget | None"]:
        """What `create_session` and `preview` check before anything is stored: the plan, the workers, the repository
        (for worktree tasks), the agents; returns the plan, the worker count, the repository's (branch, commit) and
        the budget already spent (prompt tasks then wait)."""
        if not name.strip():
            raise ConfigError("session name is empty", hint='give a name, e.g. br parallel start "Sprint 42"')
        if not self.settings.enabled:
            raise ConfigError("parallel.enabled is false in the config", hint="set it to true in .buildrunner/config.json to run sessions")
        plan = (plan or self.load_plan(config)).first(total_tasks)
        if halt_on_failure is not None:
            plan = replace(plan, halt_on_failure=halt_on_failure)
        # the configured default starts no more workers than tasks (a 1-task plan starts 1); a count given with
        # --workers or the plan's `workers:` is kept
        workers = num_workers if num_workers is not None else (plan.workers or min(self.settings.default_workers, max(1, len(plan.tasks))))
        _check_workers(workers)
        from buildrunner.parallel.isolation import repo_base
        from buildrunner.routing.cost_tracker import CostTracker

        base = repo_base(self.project.paths.root)
        isolated = next((task.id for task in plan.tasks if plan.isolation_of(task) == WORKTREE), None)
        if isolated is not None and base[1] is None:
            raise ConfigError(
                f"task {isolated!r}: isolation: worktree needs a git repository with at least one commit, and {self.project.paths.root} has none",
                hint="commit once (git commit --allow-empty -m init), or run the plan without isolation: worktree",
            )
        spent = None
        if plan.has_prompts:
            self._check_agents(plan)
            spent = CostTracker(self.project).spent_budget()
        return plan, workers, base, spent

    def preview(
        self, name: str, total_tasks: int | None = None, num_workers: int | None = None, *,
        config: Path | None = None, plan: Plan | None = None, halt_on_failure: bool | None = None,
    ) -> PlanPreview:
        """What `create_session` would start, checked as it checks (the same errors), with nothing stored or run:
        each task's order, and each prompt task's tier and estimated cost as routing would pick them now."""
        from buildrunner.parallel.executor import agent_of
        from buildrunner.parallel.loop import route
        from buildrunner.parallel.worker_coordinator import refuse_name_in_use, task_rows
        from buildrunner.routing.cost_tracker import CostTracker

        plan, workers, _, spent = self._prepare(name, plan, config, total_tasks, num_workers, halt_on_failure)
        refuse_name_in_use(self.store, name)
        rows, _ = task_rows(self.project, "dry-run", plan)
        waves = plan.waves()
        previews = []
        for row in rows:
            task = Task.from_row({**row, "attempts": 1})
            preview = TaskPreview(
                task_id=task.task_id, kind=task.kind, wave=waves[task.task_id], depends_on=json.loads(row["depends_on"]),
                description=task.description, agent=task.agent, tier=None, model_id=None, routed=False, escalates=False,
                estimated_cost=None, estimated_minutes=None, verify=task.verify, isolation=task.isolation, timeout=task.timeout,
                retries=task.max_retries, max_cost=task.cost_limit,
            )
            if task.kind == "prompt":
                agent = agent_of(task, self.project.config)
                caps = [cap for cap in (task.cost_limit, plan.cost_limit) if cap is not None]
                preview.routed, preview.escalates = task.model is None, task.escalate
                try:
                    selection = route(self.project, task, agent, min(caps) if caps else None)
                except RoutingError as exc:
                    preview.problem = f"routing: {exc}"
                else:
                    preview.tier, preview.model_id = selection.name, selection.model_id
                    preview.estimated_cost, preview.estimated_minutes = selection.estimated_cost, selection.estimated_time_minutes
            previews.append(preview)
        return PlanPreview(
            plan=plan.source, name=name, total_tasks=len(previews), prompt_tasks=sum(p.kind == "prompt" for p in previews),
            num_workers=workers, waves=max(waves.values(), default=0), cost_limit=plan.cost_limit,
            estimated_cost=sum(p.estimated_cost or 0.0 for p in previews), budget_remaining=CostTracker(self.project).remaining_budget(),
            budget_note=spent.describe() if spent else None, tasks=previews, notes=plan.notes(workers),
        )

    def _check_agents(self, plan: Plan) -> None:
        """Every agent the plan's prompt tasks name is installed: said at once (exit 5), not once per task."""
        from buildrunner.agents.registry import get_agent, legacy_agent, require_installed
        from buildrunner.parallel.executor import agent_name, task_path
        from buildrunner.parallel.loop import agent_tier
        from buildrunner.routing.models import PROVIDER, TIERS, catalogue, tier_of

        config = self.project.config
        names = {agent_name(task.agent, plan.agent, plan.agent_command, config) for task in plan.tasks if task.kind == "prompt"}
        path = task_path()
        agents = {}
        missing: list[APIError] = []
        for name, template in sorted(names, key=str):
            try:
                agent = agents[(name, template)] = legacy_agent(template, config) if template else get_agent(name, config)
            except ConfigError as exc:  # which task, in which file, and the name meant
                first = next(t.id for t in plan.tasks if t.kind == "prompt" and agent_name(t.agent, plan.agent, plan.agent_command, config) == (name, template))
                close = difflib.get_close_matches(str(name), config.agents.names(), n=1)
                meant = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{plan.source}: task {first!r}: {exc.message}{meant}", hint=exc.hint) from None
            try:
                require_installed(agent, path=path)
            except APIError as exc:
                if template is not None and template == plan.agent_command:  # name the plan line, not the config key
                    raise APIError(f"{exc.message} ({plan.source}: agent_command)", hint="install it, or fix the plan's agent_command line") from None
                missing.append(exc)
        if len(missing) == 1:
            raise missing[0]
        if missing:  # every one at once: installing one only to be told of the next
            raise APIError("; ".join(e.message for e in missing), hint="; ".join(dict.fromkeys(e.hint for e in missing if e.hint)))
        for index, task in enumerate(plan.tasks):  # a model no tier or agent knows fails every attempt: said now, once
            if task.kind == "prompt" and task.model is not None:
                agent = agents[agent_name(task.agent, plan.agent, plan.agent_command, config)]
                # A tier's name, or the agent's own model id; a Claude model id only for an agent that runs Claude (a
                # Gemini task given claude-opus-4-5 ran gemini-2.5-pro, shown as "opus (its model)")
                claude_id = agent.provider == PROVIDER and tier_of(task.model, catalogue(self.project)) is not None
                if task.model.strip().lower() not in TIERS and agent_tier(agent, task.model) is None and not claude_id:
                    known = ", ".join(dict.fromkeys([*TIERS, *agent.models.values()]))
                    raise ConfigError(
                        f"{plan.source}: tasks[{index}] ({task.id}): model {task.model!r} is not a tier nor a model of agent {agent.name}",
                        hint=f"use one of: {known}",
                    )

    def start_workers(self, session_id: str, count: int, *, fork: bool = False) -> list[int]:
        """Launch `count` detached workers on this machine; returns their pids.

        `fork` is for the `br` command only: see `parallel.launcher`.
        """
        from buildrunner.parallel.launcher import launch_workers  # the worker's imports: heavy, and no read needs them

        _check_workers(count)
        return launch_workers(self.project, session_id, count, fork=fork)

    # -- read ------------------------------------------------------------------------------------

    def current_session(self) -> str | None:
        """The running or paused session, else the latest; None when there is none yet."""
        found = self.store.scalar(self._q("current_session"))
        return None if found is None else str(found)

    def resolve(self, session_id: str | None) -> str:
        """A full session id from an id, a unique prefix, a session's name, or None (the running or most recent session).

        A name stands for the running or paused session of that name, else its latest (a name repeats only once its earlier session has ended).
        """
        if session_id is None:
            found = self.current_session()
            if found is None:
                raise NotFoundError("no sessions yet", hint="start one with `br parallel start NAME --config plan.yaml`")
            return found
        if self.store.fetchone(self._q("get_session"), {"session_id": session_id}):
            return session_id
        named = self.store.scalar(self._q("find_session_by_name"), {"name": session_id})
        if named is not None:  # a name before a prefix: "s" names session "s", not whichever id starts with it
            return str(named)
        matches = []
        if re.fullmatch(r"[A-Za-z0-9-]+", session_id):  # ids are `session-<hex>`: no LIKE wildcards to escape
            matches = self.store.fetchall(self._q("find_sessions_by_prefix"), {"prefix": session_id + "%"})
        if len(matches) == 1:
            return str(matches[0]["id"])
        if matches:
            raise ConfigError(
                f"session {session_id}: more than one session id starts with it ({', '.join(m['id'] for m in matches[:2])}{', ...' if len(matches) > 2 else ''})",
                hint="give more of the id, or the session's name (`br parallel list` shows both)",
            )
        raise NotFoundError(f"session {session_id}: not found", hint="list sessions with `br parallel list`")

    def _budget_allows_now(self) -> bool:
        """Whether no budget is spent now (a limit raised, a new day): held prompt tasks wait only for `resume`."""
        from buildrunner.routing.cost_tracker import CostTracker

        return CostTracker(self.project).spent_budget() is None

    def _session_row(self, session_id: str) -> dict[str, Any]:
        row = self.store.fetchone(self._q("get_session"), {"session_id": session_id})
        if row is None:
            raise NotFoundError(f"session {session_id}: not found", hint="list sessions with `br parallel list`")
        return row

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads of one moment: `status` and `list_tasks` inside it agree with each other while workers write."""
        return self.store.snapshot()

    def get_session_status(self, session_id: str, activity: int = 10) -> SessionStatus:
        with self.store.snapshot():  # the session's row, its cost and its running agents' cost from one moment
            row = self._session_row(session_id)
            if not self._left_running(row):
                return self._session_status(row, activity)
        self._settle_ended(session_id)
        with self.store.snapshot():
            return self._session_status(self._session_row(session_id), activity)

    def _left_running(self, row: dict[str, Any]) -> bool:
        """An ended session still holding a running task: its worker froze through `stop`, and no worker is left to
        notice."""
        return row["status"] in FINAL_SESSION_STATES and self.store.scalar(self._q("unfinished_task"), {"session_id": row["id"]}) is not None

    def _settle_ended(self, session_id: str) -> None:
        """Settle a session `_left_running` once it is silent past the heartbeat timeout, so `status` does not say
        "running" for ever."""
        from buildrunner.parallel.reaper import reap

        try:
            reap(self.coordinator(session_id))
        except StoreError:
            pass  # a store this user may not write (a read-only project): shown as it is

    def _session_status(self, row: dict[str, Any], activity: int) -> SessionStatus:
        session_id = row["id"]
        counts = {r["status"]: (int(r["n"]), float(r["cost"])) for r in self.store.fetchall(self._q("task_counts"), {"session_id": session_id})}

        def count(state: str) -> int:
            return counts.get(state, (0, 0.0))[0]

        cost = float(self.store.scalar(self._q("session_cost"), {"session_id": session_id}) or 0.0)
        workers = self.coordinator(session_id).list_workers()
        recent = [_activity(r) for r in self.store.fetchall(self._q("recent_attempts"), {"session_id": session_id, "limit": activity})]
        failures = [
            TaskFailure(r["task_id"], r["status"], r["error"], int(r["attempts"]))
            for r in self.store.fetchall(self._q("recent_failures"), {"session_id": session_id, "limit": 10})
        ]
        completed = count(TaskState.COMPLETED)
        remaining = count(TaskState.PENDING) + count(TaskState.BLOCKED) + count(TaskState.RUNNING)
        eta = None
        if completed and remaining and row["started_at"] and row["status"] == SessionState.RUNNING:
            eta = (now() - row["started_at"]) / completed * remaining
        return SessionStatus(
            session_id=session_id,
            name=row["name"],
            status=row["status"],
            total_tasks=int(row["total_tasks"]),
            completed_tasks=completed,
            failed_tasks=count(TaskState.FAILED),
            running_tasks=count(TaskState.RUNNING),
            pending_tasks=count(TaskState.PENDING) + count(TaskState.BLOCKED),
            skipped_tasks=count(TaskState.SKIPPED),
            cancelled_tasks=count(TaskState.CANCELLED),
            active_workers=0 if row["status"] in FINAL_SESSION_STATES else sum(1 for w in workers if w.healthy),  # the rest are leaving
            num_workers=int(row["num_workers"]),
            cost=cost,
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status_reason=row["status_reason"],
            eta_seconds=eta,
            recent_activity=recent,
            failures=failures,
            workers_ran=len(workers),
            prompts_held=row.get("prompts_held"),
            budget_allows_now=self._budget_allows_now() if row.get("prompts_held") and row["status"] not in FINAL_SESSION_STATES else None,
            next_retry_at=self.store.scalar(self._q("next_retry"), {"session_id": session_id, "now": now()}) if count(TaskState.PENDING) else None,
            agents=[
                AgentStatus(r["task_id"], int(r["attempt"]), r["agent"], r["tier"], r["model"], int(r["turns"] or 0), r["last_action"], float(r["cost"] or 0.0))
                for r in self.store.fetchall(self._q("running_prompt_attempts"), {"session_id": session_id})
            ],
        )

    def list_sessions(self, status: str | None = None) -> list[SessionSummary]:
        with self.store.snapshot():
            return [
                SessionSummary(
                    r["id"], r["name"], r["status"], int(r["total_tasks"]), int(r["completed_tasks"]), int(r["num_workers"]),
                    self._live_workers(r), r["created_at"], int(r["workers_ran"]),
                )
                for r in self.store.fetchall(self._q("list_sessions"))
                if status is None or r["status"] == status
            ]

    def _live_workers(self, row: dict[str, Any]) -> int:
        """Workers that still heartbeat (and, on this machine, run), counted as `status` counts them."""
        if row["status"] in FINAL_SESSION_STATES or not int(row["workers_registered_live"]):
            return 0
        return sum(1 for w in self.coordinator(row["id"]).list_workers() if w.healthy)

    def list_workers(self, session_id: str) -> list[WorkerHealth]:
        self._session_row(session_id)
        return self.coordinator(session_id).list_workers()

    def list_tasks(self, session_id: str) -> list[TaskRecord]:
        """Every task of the session, with the ladder of its attempts and the logs they wrote (an attempt that
        printed nothing has none)."""
        with self.store.snapshot():
            return self._list_tasks(session_id)

    def _list_tasks(self, session_id: str) -> list[TaskRecord]:
        self._session_row(session_id)
        ladders = self.coordinator(session_id).ladders()
        records = []
        for r in self.store.fetchall(self._q("list_tasks"), {"session_id": session_id}):
            attempts = ladders.get(r["task_id"], [])
            # a running task's cost is what its attempts have spent so far (the task's own figure is set as each ends)
            cost = sum(float(a["cost"] or 0.0) for a in attempts) if r["status"] == TaskState.RUNNING else float(r["cost"])
            records.append(
                TaskRecord(
                    r["task_id"], r["status"], int(r["attempts"]), r["worker_id"], r["error"], cost, r["selected_model"],
                    log_paths=[a["log_path"] for a in attempts if a["log_path"] and os.path.exists(a["log_path"])],
                    ladder=[
                        LadderRung(
                            int(a["attempt"]), a["status"], a["tier"], a["model"], a["agent"], float(a["cost"] or 0.0), a["outcome"], a["error"],
                            a["verify_exit"], a["branch"], a["commit_sha"], a["worktree"],
                        )
                        for a in attempts
                    ],
                )
            )
        return records

    def merge_plan(self, session_id: str) -> "MergeSession":
        """What `br parallel merge` lands: each passing worktree task's commit, in the order of the plan (dependencies first)."""
        from buildrunner.parallel.landing import MergeSession, MergeTask

        row = self._session_row(session_id)
        ladders = self.coordinator(session_id).ladders()
        tasks = []
        for task in self.store.fetchall(self._q("list_tasks"), {"session_id": session_id}):
            if task["status"] != TaskState.COMPLETED or (task["isolation"] or NO_ISOLATION) != WORKTREE:
                continue
            passed = next((a for a in reversed(ladders.get(task["task_id"], [])) if a["status"] == "completed"), None)
            if passed is None or not passed["branch"]:
                continue
            tasks.append(
                MergeTask(
                    task["task_id"], passed["branch"], passed["commit_sha"], verify=task["verify"],
                    depends_on=tuple(json.loads(task["depends_on"] or "[]")), env=json.loads(task["env"] or "{}"), cwd=task["cwd"],
                    timeout=task["timeout"],
                )
            )
        return MergeSession(session_id, row["name"], row["base_branch"], tuple(tasks), setup=row["setup"])

    def task_logs(self, session_id: str, task_id: str, *, steps: bool = False) -> list[TaskLog]:
        """The log of every attempt of a task, in order; with `steps`, each after the prompt its agent was given and
        followed by its agent's standard error (when it wrote any: "Invalid API key" was only on disk) and its setup and
        verify logs that exist."""
        self._session_row(session_id)
        if self.store.fetchone(self._q("get_task"), {"session_id": session_id, "task_id": task_id}) is None:
            raise NotFoundError(f"task {task_id}: not in session {session_id}", hint=f"see the task ids with `br parallel status {session_id}`")
        from buildrunner.parallel.record import PROMPT_STEP, STDERR_STEP, STEPS, AttemptFiles

        found = []
        for row in self.store.fetchall(self._q("task_attempts"), {"session_id": session_id, "task_id": task_id}):
            attempt, status = int(row["attempt"]), row["status"]
            own = TaskLog(attempt, status, Path(row["log_path"]), agent=row.get("agent"), model=row.get("model"))
            if not steps:
                found.append(own)
                continue
            prompt = AttemptFiles.of(self.project.paths.logs_dir, session_id, task_id, attempt, step=PROMPT_STEP).log
            if prompt.is_file():
                found.append(TaskLog(attempt, status, prompt, PROMPT_STEP))
            found.append(own)
            err = AttemptFiles.of(self.project.paths.logs_dir, session_id, task_id, attempt).err
            if err.is_file() and err.stat().st_size:
                found.append(TaskLog(attempt, status, err, STDERR_STEP))
            for step in STEPS:
                log = AttemptFiles.of(self.project.paths.logs_dir, session_id, task_id, attempt, step=step).log
                if log.exists():
                    found.append(TaskLog(attempt, status, log, step))
        return found

    # -- control ---------------------------------------------------------------------------------

    def pause_session(self, session_id: str, reason: str | None = None) -> SessionStatus:
        """No new claims; running tasks finish."""
        row = self._session_row(session_id)
        if row["status"] != SessionState.PAUSED and not self.coordinator(session_id).pause(reason):
            raise ParallelError(f"session {session_id} is {row['status']}; only a running session can be paused")
        return self.get_session_status(session_id)

    def resume_session(self, session_id: str, restart_workers: bool = True) -> tuple[SessionStatus, list[int]]:
        """Let workers claim again; start workers when none is alive (after a crash or reboot). Returns the new pids.

        Prompt tasks stay held while a budget is still spent (the status says which); when nothing
        else is left to run, the session is not resumed and the error says which budget to raise.
        """
        row = self._session_row(session_id)
        if row["status"] in (SessionState.FAILED, SessionState.STOPPED):
            what = "failed" if row["status"] == SessionState.FAILED else "failed and cancelled"
            raise ParallelError(f"session {session_id} is {row['status']}", hint=f"run its {what} tasks again: br parallel resume {session_id} --retry-failed")
        if row["status"] in FINAL_SESSION_STATES:
            raise ParallelError(f"session {session_id} is {row['status']}; start a new session to run it again")
        from buildrunner.parallel.reaper import reap
        from buildrunner.routing.cost_tracker import CostTracker

        coordinator = self.coordinator(session_id)
        spent = CostTracker(self.project).spent_budget()
        coordinator.hold_prompts(f"{BUDGET_REASON} {spent.describe()}" if spent else None)
        if spent is not None and not int(self.store.scalar(self._q("runnable_count"), {"session_id": session_id}) or 0):
            coordinator.pause(f"{BUDGET_REASON} {spent.describe()}")  # one reopened by a retry waits paused, as for budget
            raise ParallelError(f"session {session_id} stays paused: {spent.describe()}", hint="only prompt tasks are left, and they wait for budget")
        coordinator.resume()
        pids: list[int] = []
        if restart_workers:
            reap(coordinator)
            if not coordinator.has_live_worker():  # as at the start: no more workers than tasks left
                pids = self.start_workers(session_id, max(1, min(int(row["num_workers"]), coordinator.unfinished_count())))
        return self.get_session_status(session_id), pids

    def retry_failed(self, session_id: str) -> Retried:
        """Send a session's failed tasks back to run, with their retries anew, and the tasks skipped for them back
        to wait (a stopped session's cancelled tasks too); a failed or stopped session runs again. `resume_session`
        then starts its workers."""
        self._session_row(session_id)
        coordinator = self.coordinator(session_id)
        self._settle_lost(coordinator)  # a dead worker's "running" task: a stopped session has no live worker to settle it
        return coordinator.retry_failed()

    def stop_session(self, session_id: str, force: bool = False) -> SessionStatus:
        """Cancel waiting tasks; workers end running ones (TERM, KILL after the grace period; at once with force).

        Attempts of lost workers are settled before it returns (a stopped session has no worker left to
        do it later): a slow supervisor on this machine is waited for, up to the reaper's patience.
        """
        coordinator = self.coordinator(session_id)
        self._session_row(session_id)
        coordinator.stop(force=force)
        self._settle_lost(coordinator)
        return self.get_session_status(session_id)

    def _settle_lost(self, coordinator: "WorkerCoordinator") -> None:
        """Declare dead workers lost and settle their attempts now, waiting for a slow supervisor on this machine up to
        the reaper's patience: nobody else will when the session has no live worker."""
        from buildrunner.parallel.reaper import reap, settle, supervisor_patience

        reap(coordinator)
        deadline = time.monotonic() + supervisor_patience(self.settings) + 1.0
        while coordinator.orphaned_attempts() and time.monotonic() < deadline:
            time.sleep(0.1)
            settle(coordinator)

    def wait(
        self,
        session_id: str,
        poll: float | None = None,
        timeout: float | None = None,
        on_change: Callable[[list[Activity]], None] | None = None,
        since: float = 0.0,
    ) -> SessionStatus:
        """Block until the session ends (or pauses itself for budget); reap lost workers meanwhile.

        Each poll reads one row; the fuller check (lost workers, is anyone alive) runs once a second,
        so waiting costs the workers next to no CPU. `on_change` gets the attempts that started
        or ended since the last check (for progress lines). A session left with no live worker
        ends the wait with a `ParallelError` saying to resume it (and is noted in telemetry);
        a store out of reach is retried for `parallel.store_outage_window` seconds.
        """
        from buildrunner.parallel.reaper import reap

        poll = poll or min(self.settings.poll_interval, WAIT_POLL_S)
        deadline = None if timeout is None else time.monotonic() + timeout
        coordinator = self.coordinator(session_id)
        idle_since: float | None = None
        next_check = 0.0
        seen = since  # `on_change` hears of attempts that started or ended after this
        told = _Told()  # ... and, once each, of an attempt's start and of its end
        outage: float | None = None
        connected_since = time.monotonic()
        while True:
            try:
                row = self._session_row(session_id)
                if on_change is not None:
                    seen = self._report_changes(session_id, seen, on_change, told)
                ending = row["status"] == SessionState.STOPPED and self._still_ending(session_id, coordinator)
                if (row["status"] in FINAL_SESSION_STATES and not ending) or self._budget_paused(row):
                    if on_change is not None:  # an end whose row became visible after a later time was seen
                        self._report_changes(session_id, since, on_change, told)
                    return self.get_session_status(session_id, activity=0)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + WAIT_CHECK_S
                    reap(coordinator, judge_silence=time.monotonic() - connected_since >= self.settings.heartbeat_timeout)
                    status = self.get_session_status(session_id, activity=0)
                    if status.stalled:
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since > max(5.0, 3 * poll):
                            coordinator.note_stalled()
                            raise ParallelError(
                                f"session {session_id}: no worker is alive and {plural(status.pending_tasks + status.running_tasks, 'task')} remain",
                                hint=f"run `br parallel resume {session_id}` to start workers again",
                            )
                    else:
                        idle_since = None
                outage = None
            except StoreUnavailable:
                outage = outage or time.monotonic()
                connected_since = time.monotonic()
                if time.monotonic() - outage > self.settings.store_outage_window:
                    raise
            if deadline is not None and time.monotonic() > deadline:
                return self.get_session_status(session_id, activity=0)
            time.sleep(poll)

    def _still_ending(self, session_id: str, coordinator: "WorkerCoordinator") -> bool:
        """A stopped session whose live workers are still ending its running tasks (TERM, then KILL after the grace): a
        wait that ended now would report them running and leave them ending after the command returned."""
        return self.store.fetchone(self._q("unfinished_task"), {"session_id": session_id}) is not None and coordinator.has_live_worker()

    def _budget_paused(self, row: dict[str, Any]) -> bool:
        return row["status"] == SessionState.PAUSED and (row["status_reason"] or "").startswith(BUDGET_REASON)

    def _report_changes(self, session_id: str, since: float, on_change: Callable[[list[Activity]], None], told: "_Told") -> float:
        """Tell `on_change` of the attempts that started or ended after `since`, each start and each end once (`told`);
        the latest time seen. An attempt that started and ended between two looks gets its start line too, and so
        does one whose row became visible only after a later time had been seen (its start is stamped before its
        claim commits; its end, before its finish commits: `wait` looks once more from its own start at the end)."""
        rows = self.store.fetchall(self._q("attempt_changes"), {"session_id": session_id, "since": since})
        lines = []
        for r in rows:
            key = (r["task_id"], int(r["attempt"]))
            if r["finished_at"] and key in told.ended:
                continue
            if key not in told.started and r["started_at"]:
                told.started.add(key)
                if r["finished_at"]:
                    lines.append(Activity(r["started_at"], r["worker"] or "-", r["task_id"], _ACTIONS["running"], None, key[1], r["tier"]))
                else:
                    lines.append(_activity(r))
            if r["finished_at"]:
                told.ended.add(key)
                lines.append(_activity(r))
        if lines:
            on_change(sorted(lines, key=lambda a: a.ts))
        return max([since] + [max(r["started_at"] or 0.0, r["finished_at"] or 0.0) for r in rows])

    def cleanup(self, days: int = 7, all_sessions: bool = False) -> list[str]:
        """Delete finished sessions older than `days` (or all finished ones), with their logs; prune old events."""
        if days < 0:
            raise ConfigError(f"--days {days}: must be 0 or more", hint="pass --days 7, for example")
        from buildrunner.parallel.isolation import remove_session_worktrees

        rows = self.store.fetchall(self._q("old_sessions"), {"all": 1 if all_sessions else 0, "before": now() - days * DAY_S})
        removed = []
        for row in rows:
            if not self.coordinator(row["id"]).delete():
                continue  # retried meanwhile: it runs again
            shutil.rmtree(self.project.paths.logs_dir / row["id"], ignore_errors=True)
            remove_session_worktrees(self.project, row["id"])
            removed.append(str(row["id"]))
        self.project.events.prune()
        return removed


def _check_workers(count: int) -> None:
    if not 1 <= count <= MAX_WORKERS:
        raise ConfigError(f"--workers {count}: must be 1 to {MAX_WORKERS} on one machine", hint="pass --workers 3, for example; more machines add more workers")


@dataclass
class _Told:
    """The attempts whose start, and whose end, a wait's progress lines have told."""

    started: set[tuple[str, int]] = field(default_factory=set)
    ended: set[tuple[str, int]] = field(default_factory=set)


def _activity(row: dict[str, Any]) -> Activity:
    ended_short = row["status"] not in (AttemptState.RUNNING, AttemptState.COMPLETED)
    goes_on = int(row["task_attempts"]) > int(row["attempt"]) or row["task_status"] in UNFINISHED_TASK_STATES
    return Activity(
        row["finished_at"] or row["started_at"], row["worker"] or "-", row["task_id"], _ACTIONS.get(row["status"], row["status"]), row["error"],
        int(row["attempt"]), row["tier"], again=ended_short and goes_on,
    )
