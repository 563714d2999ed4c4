"""What happened to routed tasks: the one place routing learns from (`br routing calibrate` reads it).

The escalation loop records each finished prompt task once, with `record_outcome`: the estimate it was
routed on, the tier it started on, every attempt (the ladder) and the tier that passed, if any.
`load_outcomes` is the one documented function that routing reads outcomes through.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from buildrunner.errors import ConfigError
from buildrunner.routing.complexity_estimator import ComplexityFactor
from buildrunner.routing.levels import LEVELS
from buildrunner.routing.models import TIERS

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.routing.complexity_estimator import ComplexityResult

# What an attempt's outcome says about its tier: "passed"; "failed" (the tier's work did not pass
# verification or review: evidence the tier was not capable enough); "error" (the attempt ended for a
# reason that says nothing about the tier, such as an agent crash or an API outage: calibration ignores it).
ATTEMPT_OUTCOMES = ("passed", "failed", "error")


@dataclass(frozen=True)
class LadderStep:
    """One attempt of a task: the tier and concrete model it ran on, what it cost and how it ended."""

    tier: str
    model: str
    cost: float
    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class TaskOutcome:
    """A finished prompt task as routing sees it. `passed_tier` is None when no attempt passed."""

    session_id: str
    task_id: str
    description: str
    score: int
    level: str
    start_tier: str
    passed_tier: str | None
    attempts: int
    ladder: tuple[LadderStep, ...]
    cost: float
    finished_at: float
    agent: str | None = None
    factors: tuple[ComplexityFactor, ...] = ()
    source: str = "heuristic"
    calibration: str | None = None  # the calibration routing used for this task (ComplexityResult.calibration)

    @classmethod
    def from_attempts(
        cls,
        estimate: "ComplexityResult",
        ladder: Iterable[LadderStep],
        *,
        session_id: str,
        task_id: str,
        finished_at: float,
        agent: str | None = None,
    ) -> "TaskOutcome":
        """The outcome of a task routed on `estimate` whose attempts were `ladder`, in order: start tier,
        passing tier, attempt count and total cost follow from the ladder."""
        steps = tuple(ladder)
        if not steps:
            raise ConfigError(f"task {task_id}: an outcome needs at least one attempt", hint="record the task after its first attempt ends")
        return cls(
            session_id=session_id,
            task_id=task_id,
            description=estimate.task_description,
            score=estimate.complexity_score,
            level=estimate.complexity_level,
            start_tier=steps[0].tier,
            passed_tier=next((s.tier for s in steps if s.outcome == "passed"), None),
            attempts=len(steps),
            ladder=steps,
            cost=round(sum(s.cost for s in steps), 6),
            finished_at=finished_at,
            agent=agent,
            factors=tuple(estimate.factors),
            source=estimate.source,
            calibration=estimate.calibration,
        )


def _check(outcome: TaskOutcome) -> None:
    where = f"outcome of task {outcome.session_id}/{outcome.task_id}"
    problems = []
    if not outcome.session_id or not outcome.task_id:
        problems.append("session_id and task_id are required")
    if isinstance(outcome.score, bool) or not isinstance(outcome.score, int) or not 0 <= outcome.score <= 100:
        problems.append(f"score {outcome.score!r} is not a whole number from 0 to 100")
    if outcome.level not in {name for _, name in LEVELS}:
        problems.append(f"level {outcome.level!r} is not one of {', '.join(name for _, name in LEVELS)}")
    for label, tier in (("start_tier", outcome.start_tier), ("passed_tier", outcome.passed_tier)):
        if tier is not None and tier not in TIERS:
            problems.append(f"{label} {tier!r} is not one of {', '.join(TIERS)}")
    if outcome.attempts < 1 or outcome.attempts < len(outcome.ladder):
        problems.append(f"attempts {outcome.attempts} is below the {len(outcome.ladder)} steps of the ladder or 1")
    for step in outcome.ladder:
        if step.tier not in TIERS or step.outcome not in ATTEMPT_OUTCOMES:
            problems.append(f"ladder step {step.tier!r}/{step.outcome!r}: tier one of {', '.join(TIERS)}, outcome one of {', '.join(ATTEMPT_OUTCOMES)}")
    if outcome.passed_tier is not None and outcome.ladder and outcome.passed_tier not in {s.tier for s in outcome.ladder if s.outcome == "passed"}:
        problems.append(f"passed_tier {outcome.passed_tier} has no passed attempt in the ladder")
    if not all(math.isfinite(v) and v >= 0 for v in (outcome.cost, outcome.finished_at, *(s.cost for s in outcome.ladder))):
        problems.append("cost and finished_at must be finite and not negative")
    if problems:
        raise ConfigError(f"{where}: {problems[0]}", hint="fix the outcome before recording it")


def record_outcome(project: "Project", outcome: TaskOutcome) -> None:
    """Store `outcome` (one transaction). Idempotent: recording the same task again replaces its row.

    Raises ConfigError (naming the field) for an outcome that would mislead calibration.
    """
    _check(outcome)
    store = project.store
    row = {
        "session_id": outcome.session_id,
        "task_id": outcome.task_id,
        "description": outcome.description,
        "agent": outcome.agent,
        "score": outcome.score,
        "level": outcome.level,
        "factors": json.dumps([asdict(f) for f in outcome.factors]),
        "source": outcome.source,
        "calibration": outcome.calibration,
        "start_tier": outcome.start_tier,
        "passed_tier": outcome.passed_tier,
        "attempts": outcome.attempts,
        "ladder": json.dumps([asdict(s) for s in outcome.ladder]),
        "cost": float(outcome.cost),
        "finished_at": float(outcome.finished_at),
    }
    with store.transaction():
        store.execute(store.query("routing", "upsert_outcome"), row)


def _outcome(row: Mapping[str, Any]) -> TaskOutcome:
    return TaskOutcome(
        session_id=row["session_id"],
        task_id=row["task_id"],
        description=row["description"],
        score=int(row["score"]),
        level=row["level"],
        start_tier=row["start_tier"],
        passed_tier=row["passed_tier"],
        attempts=int(row["attempts"]),
        ladder=tuple(LadderStep(**step) for step in json.loads(row["ladder"] or "[]")),
        cost=float(row["cost"]),
        finished_at=float(row["finished_at"]),
        agent=row["agent"],
        factors=tuple(ComplexityFactor.from_dict(f) for f in json.loads(row["factors"] or "[]")),
        source=row["source"],
        calibration=row["calibration"],
    )


def load_outcomes(project: "Project", *, since: float | None = None) -> list[TaskOutcome]:
    """Every recorded outcome finished at or after `since` (epoch seconds; None: all), oldest first."""
    store = project.store
    rows = store.fetchall(store.query("routing", "outcomes_since"), {"since": float(since) if since is not None else 0.0})
    return [_outcome(row) for row in rows]
