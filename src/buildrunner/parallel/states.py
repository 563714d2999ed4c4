"""The states of sessions, tasks, attempts and workers, and the moves allowed between them.

`WorkerCoordinator` is the only writer of these states, and every write it makes is one of
the moves below, applied as a compare-and-set on the stored state (and, for a task, on the
attempt and worker holding it). A move not in the table is a programming error
(`IllegalTransition`); a move whose stored state has moved on — a lost worker's late
result, a second reaper resolving the same attempt — changes nothing and returns False.
"""

from __future__ import annotations

import sys
from enum import Enum

from buildrunner.errors import ParallelError

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


class SessionState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"


class TaskState(StrEnum):
    BLOCKED = "blocked"  # waits for its dependencies
    PENDING = "pending"  # claimable (once `not_before` has passed)
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed
    CANCELLED = "cancelled"  # the session was stopped


class AttemptState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    LOST = "lost"  # its worker died, froze or shut down: not the task's fault
    BUDGET_EXCEEDED = "budget_exceeded"  # ended when its running cost would cross a spend cap


class AttemptOutcome(StrEnum):
    """What recording an attempt's end did to its task (`WorkerCoordinator.finish_attempt`)."""

    COMPLETED = "completed"
    FAILED = "failed"  # for good: no retry left
    CANCELLED = "cancelled"
    RETRY = "retry"  # pending again, after its back-off
    REQUEUED = "requeued"  # given back untried: a lost worker's, or a prompt task held while a budget is spent
    STALE = "stale"  # the task had moved on (a lost worker's late result): nothing was written


# The tasks' ends a worker counts, and after which a prompt task's outcome is recorded for routing.
ENDED_OUTCOMES = (AttemptOutcome.COMPLETED, AttemptOutcome.FAILED, AttemptOutcome.CANCELLED)


class CheckKind(StrEnum):
    """Why a prompt task's attempt failed (stored as the attempt's outcome)."""

    AGENT_ERROR = "agent_error"  # the agent worked and did not pass (it gave up, hit its turn limit, a tool failed)
    AGENT_UNAVAILABLE = "agent_unavailable"  # it could not work: signed out, no credit, rate limits, an outage, a crash
    VERIFY_FAILED = "verify_failed"
    SECURITY = "security"
    TIMEOUT = "timeout"
    BUDGET_EXCEEDED = "budget_exceeded"
    NOT_LANDED = "not_landed"

    @property
    def blames_tier(self) -> bool:
        """A stronger tier may pass where this one failed (so it escalates, and calibration counts it against the
        tier); a spent cap or work that could not land says nothing about the model."""
        return self in (CheckKind.AGENT_ERROR, CheckKind.VERIFY_FAILED, CheckKind.SECURITY, CheckKind.TIMEOUT)


TIER_FAULTS = frozenset(kind for kind in CheckKind if kind.blames_tier)


class WorkerState(StrEnum):
    IDLE = "idle"
    ACTIVE = "active"
    STOPPED = "stopped"
    LOST = "lost"


LIVE_SESSION_STATES = (SessionState.RUNNING, SessionState.PAUSED)
FINAL_SESSION_STATES = (SessionState.COMPLETED, SessionState.FAILED, SessionState.STOPPED)
UNFINISHED_TASK_STATES = (TaskState.BLOCKED, TaskState.PENDING, TaskState.RUNNING)
LIVE_WORKER_STATES = (WorkerState.IDLE, WorkerState.ACTIVE)

SESSION_MOVES: frozenset[tuple[SessionState, SessionState]] = frozenset(
    {
        (SessionState.RUNNING, SessionState.PAUSED),
        (SessionState.PAUSED, SessionState.RUNNING),
        *((live, final) for live in LIVE_SESSION_STATES for final in FINAL_SESSION_STATES),
        (SessionState.FAILED, SessionState.RUNNING),  # its failed tasks retried by hand (`resume --retry-failed`)
        (SessionState.STOPPED, SessionState.RUNNING),  # and a stopped session's cancelled ones
    }
)
TASK_MOVES: frozenset[tuple[TaskState, TaskState]] = frozenset(
    {
        (TaskState.BLOCKED, TaskState.PENDING),
        (TaskState.BLOCKED, TaskState.SKIPPED),
        (TaskState.BLOCKED, TaskState.CANCELLED),
        (TaskState.PENDING, TaskState.RUNNING),
        (TaskState.PENDING, TaskState.CANCELLED),
        (TaskState.RUNNING, TaskState.COMPLETED),
        (TaskState.RUNNING, TaskState.FAILED),
        (TaskState.RUNNING, TaskState.PENDING),  # a retry, a lost worker's requeue, or handed back untried
        (TaskState.RUNNING, TaskState.CANCELLED),
        (TaskState.FAILED, TaskState.PENDING),  # retried by hand, with its retries anew
        (TaskState.SKIPPED, TaskState.BLOCKED),  # its failed dependency is retried: it waits for it again
        (TaskState.CANCELLED, TaskState.PENDING),  # a stopped session resumed with --retry-failed
        (TaskState.CANCELLED, TaskState.BLOCKED),  # the same, while a dependency has not completed
    }
)
ATTEMPT_MOVES: frozenset[tuple[AttemptState, AttemptState]] = frozenset(
    (AttemptState.RUNNING, final) for final in AttemptState if final is not AttemptState.RUNNING
)
WORKER_MOVES: frozenset[tuple[WorkerState, WorkerState]] = frozenset(
    {
        (WorkerState.IDLE, WorkerState.ACTIVE),
        (WorkerState.ACTIVE, WorkerState.IDLE),
        *((live, end) for live in LIVE_WORKER_STATES for end in (WorkerState.STOPPED, WorkerState.LOST)),
    }
)

_MOVES: dict[type[StrEnum], frozenset[tuple[StrEnum, StrEnum]]] = {
    SessionState: SESSION_MOVES,
    TaskState: TASK_MOVES,
    AttemptState: ATTEMPT_MOVES,
    WorkerState: WORKER_MOVES,
}


class IllegalTransition(ParallelError):
    """A move the state machine does not have (a bug in the caller, never a race)."""


def check_move(source: StrEnum, target: StrEnum) -> None:
    """Refuse a move that is not in its state machine's table."""
    if type(source) is not type(target) or (source, target) not in _MOVES[type(source)]:
        raise IllegalTransition(f"{type(source).__name__}: no move from {source} to {target}")


__all__ = [
    "AttemptOutcome",
    "AttemptState",
    "CheckKind",
    "ENDED_OUTCOMES",
    "FINAL_SESSION_STATES",
    "IllegalTransition",
    "LIVE_SESSION_STATES",
    "LIVE_WORKER_STATES",
    "SessionState",
    "TaskState",
    "TIER_FAULTS",
    "UNFINISHED_TASK_STATES",
    "WorkerState",
    "check_move",
]
