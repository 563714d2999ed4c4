"""The events BuildRunner itself emits, one small class per type, validated when they are made.

The parallel runner and the router build these instead of dict literals, so a misspelt key
or a negative cost fails where the event is made, not when it is read back. They are
stored by `EventCollector` like any event: the shared fields have their own columns
(`session_id`, `task_id`, `worker_id`, `duration_ms`, `cost`, `error`, `description` as the
message) and the rest goes into the event's JSON metadata under the same names.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class TelemetryEvent(BaseModel):
    """Fields every event may carry; `type` is the class's, not the caller's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ClassVar[str]
    session_id: str | None = None
    task_id: str | None = None
    worker_id: str | None = None
    duration_ms: Amount | None = None
    cost: Amount | None = None
    error: str | None = None
    description: str | None = None

    def record(self) -> dict[str, Any]:
        """The event as `EventCollector` stores it: its type and every field that is set."""
        return {"type": self.type, **self.model_dump(exclude_none=True)}


class SessionStarted(TelemetryEvent):
    type: ClassVar[str] = "session_started"
    tasks: int
    workers: int


class SessionPaused(TelemetryEvent):
    type: ClassVar[str] = "session_paused"


class SessionResumed(TelemetryEvent):
    type: ClassVar[str] = "session_resumed"


class SessionStopped(TelemetryEvent):
    type: ClassVar[str] = "session_stopped"
    force: bool = False


class SessionStalled(TelemetryEvent):
    """A running session with unfinished tasks and no live worker: nothing moves until someone acts."""

    type: ClassVar[str] = "session_stalled"
    remaining: int


class SessionCompleted(TelemetryEvent):
    type: ClassVar[str] = "session_completed"
    status: Literal["completed", "failed"]
    completed: int
    failed: int
    skipped: int


class TaskStarted(TelemetryEvent):
    type: ClassVar[str] = "task_started"
    attempt: int


class TaskCompleted(TelemetryEvent):
    type: ClassVar[str] = "task_completed"
    attempt: int
    model: str | None = None


class TaskFailed(TelemetryEvent):
    type: ClassVar[str] = "task_failed"
    attempt: int
    model: str | None = None  # the attempt's model, as TaskCompleted's (a prompt task's rungs each have their own)
    exit_code: int | None = None
    timed_out: bool = False
    outcome: str = "failed"


class TaskRetry(TelemetryEvent):
    type: ClassVar[str] = "task_retry"
    attempt: int
    max_attempts: int | None = None
    delay_s: Amount | None = None


class TaskSkipped(TelemetryEvent):
    type: ClassVar[str] = "task_skipped"


class TaskCancelled(TelemetryEvent):
    type: ClassVar[str] = "task_cancelled"
    attempt: int | None = None


class WorkerLost(TelemetryEvent):
    type: ClassVar[str] = "worker_lost"


class StoreOutage(TelemetryEvent):
    """A worker lost its database connection for a while and carried on (written once it is back)."""

    type: ClassVar[str] = "store_outage"
    seconds: Amount


class AgentActivity(TelemetryEvent):
    """Something a running agent did: a turn, a tool call or command, a message, usage (tokens, cost so far), its result."""

    type: ClassVar[str] = "agent_activity"
    attempt: int
    agent: str
    kind: str
    model: str | None = None
    turns: int = 0


class VerifyResult(TelemetryEvent):
    """A task's `verify` command ran after its attempt: passed or not."""

    type: ClassVar[str] = "verify_result"
    attempt: int
    passed: bool
    exit_code: int | None = None


class MergeFailed(TelemetryEvent):
    """`merge: true`: a passing task's branch did not land on the target (a conflict, a failing verify)."""

    type: ClassVar[str] = "merge_failed"


class ModelSelected(TelemetryEvent):
    type: ClassVar[str] = "model_selected"
    model: str
    model_id: str


EVENT_CLASSES: tuple[type[TelemetryEvent], ...] = (
    SessionStarted, SessionPaused, SessionResumed, SessionStopped, SessionStalled, SessionCompleted,
    TaskStarted, TaskCompleted, TaskFailed, TaskRetry, TaskSkipped, TaskCancelled,
    WorkerLost, StoreOutage, ModelSelected, AgentActivity, VerifyResult, MergeFailed,
)
# The event types BuildRunner itself emits; `br telemetry events --type` checks against these.
KNOWN_EVENT_TYPES: tuple[str, ...] = tuple(cls.type for cls in EVENT_CLASSES)

__all__ = [cls.__name__ for cls in EVENT_CLASSES] + ["EVENT_CLASSES", "KNOWN_EVENT_TYPES", "TelemetryEvent"]
