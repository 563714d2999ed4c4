"""The outcomes store: what the escalation loop records and calibration reads (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from buildrunner.errors import ConfigError
from buildrunner.project import Project
from buildrunner.routing import LadderStep, TaskOutcome, load_outcomes, record_outcome
from buildrunner.routing.complexity_estimator import ComplexityEstimator

TASK = "Two warehouse workers can both reserve the last unit of an item and we oversell."


def _outcome(project: Project, task_id: str = "t1", *, ladder: tuple[LadderStep, ...] | None = None, finished_at: float = 1_700_000_000.0) -> TaskOutcome:
    estimate = ComplexityEstimator(project, use_ai=False).estimate(TASK)
    steps = ladder or (
        LadderStep("sonnet", "claude-sonnet-4-5", 0.12, "failed", "verify: 2 tests failed"),
        LadderStep("opus", "claude-opus-4-5", 0.61, "passed"),
    )
    return TaskOutcome.from_attempts(estimate, steps, session_id="s1", task_id=task_id, finished_at=finished_at, agent="claude")


def test_an_outcome_round_trips_with_its_ladder_and_factors(any_project: Project) -> None:
    outcome = _outcome(any_project)
    assert (outcome.start_tier, outcome.passed_tier, outcome.attempts, outcome.cost) == ("sonnet", "opus", 2, pytest.approx(0.73))
    record_outcome(any_project, outcome)
    [loaded] = load_outcomes(any_project)
    assert loaded == outcome
    assert loaded.ladder[0].reason == "verify: 2 tests failed"
    assert any(f.words for f in loaded.factors)


def test_recording_the_same_task_again_replaces_it(any_project: Project) -> None:
    record_outcome(any_project, _outcome(any_project))
    again = _outcome(any_project, ladder=(LadderStep("sonnet", "claude-sonnet-4-5", 0.2, "passed"),))
    record_outcome(any_project, again)
    record_outcome(any_project, again)
    assert load_outcomes(any_project) == [again]


def test_load_since_and_in_finishing_order(any_project: Project) -> None:
    for i, at in enumerate((300.0, 100.0, 200.0)):
        record_outcome(any_project, _outcome(any_project, f"t{i}", finished_at=at))
    assert [o.task_id for o in load_outcomes(any_project)] == ["t1", "t2", "t0"]
    assert [o.task_id for o in load_outcomes(any_project, since=200.0)] == ["t2", "t0"]


def test_a_task_no_tier_passed_has_no_passed_tier(project: Project) -> None:
    failed = _outcome(project, ladder=(LadderStep("opus", "claude-opus-4-5", 0.9, "failed", "security findings"),))
    assert failed.passed_tier is None
    record_outcome(project, failed)
    assert load_outcomes(project)[0].passed_tier is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"start_tier": "gpt"}, "start_tier 'gpt'"),
        ({"score": 140}, "score 140"),
        ({"level": "hard"}, "level 'hard'"),
        ({"passed_tier": "haiku"}, "passed_tier haiku has no passed attempt"),
        ({"attempts": 1}, "attempts 1 is below the 2 steps"),
        ({"cost": float("nan")}, "finite"),
        ({"ladder": (LadderStep("opus", "x", 0.1, "ok"),)}, "ladder step 'opus'/'ok'"),
    ],
)
def test_an_outcome_that_would_mislead_calibration_is_refused(project: Project, change: dict, needle: str) -> None:
    from dataclasses import replace

    with pytest.raises(ConfigError, match="outcome of task s1/t1") as err:
        record_outcome(project, replace(_outcome(project), **change))
    assert needle in str(err.value)
    assert load_outcomes(project) == []


def test_an_outcome_needs_an_attempt(project: Project) -> None:
    estimate = ComplexityEstimator(project, use_ai=False).estimate(TASK)
    with pytest.raises(ConfigError, match="at least one attempt"):
        TaskOutcome.from_attempts(estimate, [], session_id="s", task_id="t", finished_at=0.0)
