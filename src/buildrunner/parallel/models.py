"""The dataclasses the parallel API returns (the spec's `SessionStatus`, `WorkerHealth`, ...)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from buildrunner.parallel.states import FINAL_SESSION_STATES, SessionState
from buildrunner.security.masking import mask_secrets, masked_line

# The `status_reason` of a session that paused itself because the cost budget is used up starts with this.
BUDGET_REASON = "budget:"


NO_ISOLATION = "none"
WORKTREE = "worktree"
# Workers one session starts on one machine at most: more is a typo (`--workers 100000` would fork until the machine refuses).
MAX_WORKERS = 256
DESCRIPTION_CHARS = 200


def default_description(action: str) -> str:
    """A task's description when its plan gives none: its command or prompt on one line, cut, its secrets masked."""
    return masked_line(action, DESCRIPTION_CHARS)


@dataclass
class Session:
    session_id: str
    name: str
    status: str
    total_tasks: int
    num_workers: int
    created_at: float
    cost_limit: float | None = None
    worker_pids: list[int] = field(default_factory=list)
    budget_note: str | None = None  # a budget already spent when the session started: its prompt tasks wait
    notes: list[str] = field(default_factory=list)  # what the plan does that its author may not expect (Plan.notes)


@dataclass
class TaskPreview:
    """What one task of a plan would do (`br parallel start --dry-run`): nothing is stored or run."""

    task_id: str
    kind: str  # command | prompt
    wave: int  # 1 for a task that can start at once; else one more than its latest dependency's
    depends_on: list[str]
    description: str  # as `status` will show it (secrets masked)
    agent: str | None  # prompt tasks: the agent that would run it
    tier: str | None  # prompt tasks: the tier of the first attempt (routing's pick, or the task's own model)
    model_id: str | None
    routed: bool  # the tier is routing's pick (False: the task names its model)
    escalates: bool  # a failed attempt runs again one tier up
    estimated_cost: float | None  # USD, the first attempt
    estimated_minutes: int | None
    verify: str | None
    isolation: str
    timeout: float
    retries: int
    max_cost: float | None
    problem: str | None = None  # why the first attempt would not run as planned (its cap is below every tier)


@dataclass
class PlanPreview:
    """A plan as `br parallel start` would run it, checked as start checks it, with nothing stored or run."""

    plan: str
    name: str
    total_tasks: int
    prompt_tasks: int
    num_workers: int
    waves: int  # the longest chain of dependencies, in tasks
    cost_limit: float | None  # the session's max_cost
    estimated_cost: float  # USD: the prompt tasks' first attempts, as routed
    budget_remaining: float | None  # USD left of the tightest cost budget; None with no budget set
    budget_note: str | None  # a budget already spent: prompt tasks would wait
    tasks: list[TaskPreview] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the plan does that its author may not expect (Plan.notes)


@dataclass
class Task:
    """A claimed task, as a worker runs it."""

    session_id: str
    task_id: str
    attempt: int
    kind: str
    description: str
    command: str | None
    prompt: str | None
    model: str | None
    timeout: float
    max_retries: int
    env: dict[str, str]
    cwd: str | None
    isolation: str  # none | worktree
    cost_limit: float | None
    agent_command: str | None = None
    agent: str | None = None
    verify: str | None = None
    escalate: bool = True
    next_tier: str | None = None  # the tier this attempt runs on, when an earlier one failed (escalation)
    context: str | None = None  # what the last failed attempt's check said: added to the prompt
    adopt_attempt: int | None = None  # an earlier attempt whose command exited unchecked (its worker was lost): adopt its work

    @property
    def routing_text(self) -> str:
        """What routing estimates: the plan's description, else the whole prompt (secrets masked: the estimate is stored)."""
        if self.prompt and self.description == default_description(self.prompt):
            return mask_secrets(self.prompt)
        return self.description or self.task_id

    @property
    def checked(self) -> bool:
        """Whether an attempt passes only after checks that follow its command (an agent's result, `verify`, the security check of a worktree)."""
        return self.kind == "prompt" or bool(self.verify) or self.isolation == "worktree"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Task":
        """A task row as stored: its defaults were resolved when the session was created."""
        return cls(
            session_id=row["session_id"],
            task_id=row["task_id"],
            attempt=int(row["attempts"]),
            kind=row["kind"],
            description=row["description"],
            command=row["command"],
            prompt=row["prompt"],
            model=row["model"],
            timeout=float(row["timeout"]),
            max_retries=int(row["max_retries"]),
            env=json.loads(row["env"] or "{}"),
            cwd=row["cwd"],
            isolation=row["isolation"] or NO_ISOLATION,
            cost_limit=row.get("cost_limit"),
            agent_command=row.get("agent_command"),
            agent=row.get("agent"),
            verify=row.get("verify"),
            escalate=bool(row.get("escalate", 1)),
            next_tier=row.get("next_tier"),
            context=row.get("context"),
            adopt_attempt=row.get("adopt_attempt"),
        )


@dataclass
class Activity:
    ts: float
    worker: str
    task_id: str
    action: str  # Started | Completed | Failed | Timed out | Lost | Cancelled
    error: str | None = None
    attempt: int = 1
    tier: str | None = None  # a prompt task's attempt's tier (an escalation shows climbing)
    again: bool = False  # an attempt that did not pass, after which the task runs again (a retry, an escalation, a requeue)


@dataclass
class TaskFailure:
    task_id: str
    status: str
    error: str | None
    attempts: int


@dataclass
class SessionStatus:
    session_id: str
    name: str
    status: str
    total_tasks: int
    completed_tasks: int
    failed_tasks: int
    running_tasks: int
    pending_tasks: int
    skipped_tasks: int
    cancelled_tasks: int
    active_workers: int
    num_workers: int
    cost: float
    created_at: float
    started_at: float | None
    finished_at: float | None
    status_reason: str | None
    eta_seconds: float | None
    recent_activity: list[Activity] = field(default_factory=list)
    failures: list[TaskFailure] = field(default_factory=list)
    workers_ran: int = 0
    prompts_held: str | None = None  # why prompt tasks wait (a spent budget); shell tasks go on
    agents: list["AgentStatus"] = field(default_factory=list)  # what each running prompt task's agent is doing
    budget_allows_now: bool | None = None  # with prompts held: whether the budgets, read now, would let them run
    next_retry_at: float | None = None  # when the soonest retry waiting out its back-off may start (epoch seconds)

    @property
    def stalled(self) -> bool:
        """Running with tasks left and no live worker: nothing moves until someone runs `resume`."""
        return self.status == SessionState.RUNNING and self.active_workers == 0 and (self.pending_tasks + self.running_tasks) > 0

    @property
    def progress_percent(self) -> float:
        return 100.0 * self.completed_tasks / self.total_tasks if self.total_tasks else 0.0

    @property
    def start_time(self) -> datetime:
        """When the session started (UTC), as the spec's data structure has it."""
        return datetime.fromtimestamp(self.started_at or self.created_at, tz=timezone.utc)

    @property
    def elapsed_time_seconds(self) -> int:
        """Seconds from the start to the end, or to now while it runs."""
        return max(0, int((self.finished_at or time.time()) - (self.started_at or self.created_at)))

    @property
    def finished(self) -> bool:
        return self.status in FINAL_SESSION_STATES

    @property
    def budget_paused(self) -> bool:
        """Paused itself because the cost budget is used up: nothing more happens until someone acts."""
        return self.status == "paused" and (self.status_reason or "").startswith(BUDGET_REASON)

    @property
    def halted(self) -> bool:
        """Ended, or stuck on the budget: what `--wait` and the dashboard wait for."""
        return self.finished or self.budget_paused


@dataclass
class AgentStatus:
    """A running prompt task's agent, live: for `status`, the dashboard and `logs --follow`."""

    task_id: str
    attempt: int
    agent: str | None
    tier: str | None
    model: str | None
    turns: int
    last_action: str | None
    cost: float


@dataclass
class LadderRung:
    """One attempt of a task as `status --format json` shows it: the tier it ran on and how it ended."""

    attempt: int
    status: str
    tier: str | None
    model: str | None
    agent: str | None
    cost: float
    outcome: str | None
    error: str | None
    verify_exit: int | None
    branch: str | None
    commit: str | None
    worktree: str | None


@dataclass
class SessionSummary:
    session_id: str
    name: str
    status: str
    total_tasks: int
    completed_tasks: int
    num_workers: int
    live_workers: int
    created_at: float
    workers_ran: int = 0


@dataclass
class WorkerHealth:
    worker_id: str
    name: str
    session_id: str
    status: str  # active | idle | offline (stopped or lost)
    state: str  # the stored state: active | idle | stopped | lost
    hostname: str
    pid: int
    current_task: str | None
    tasks_completed: int
    started_at: float
    last_heartbeat: float
    seconds_since_heartbeat: float
    cpu_seconds: float
    peak_rss_bytes: int
    healthy: bool


@dataclass
class TaskRecord:
    """One task of a session as stored (for `br parallel status --format json` and logs)."""

    task_id: str
    status: str
    attempts: int
    worker_id: str | None
    error: str | None
    cost: float
    selected_model: str | None
    log_paths: list[str] = field(default_factory=list)
    ladder: list[LadderRung] = field(default_factory=list)  # its attempts in order (the tiers a prompt task climbed)


@dataclass
class TaskLog:
    """One log of a task's attempt: its own output (`step` None) or a step's (setup, verify), for `br parallel logs`."""

    attempt: int
    status: str
    path: Path
    step: str | None = None
    agent: str | None = None  # the agent that ran the attempt (its own output only): its reader makes the log readable
    model: str | None = None
