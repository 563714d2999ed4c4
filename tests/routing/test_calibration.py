"""`br routing calibrate`: thresholds fitted to a real history in a real store, written only when better."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from buildrunner.project import Project
from buildrunner.routing import LadderStep, TaskOutcome, record_outcome
from buildrunner.routing.calibration import MIN_COST_ATTEMPTS, MIN_OUTCOMES, calibrate
from buildrunner.routing.complexity_estimator import ComplexityEstimator, estimate_cost
from buildrunner.routing.models import TIERS, catalogue

DATA = Path(__file__).parent / "data"
DESCRIPTIONS = [t["text"] for name in ("independent_tasks.yaml", "independent_tasks_2.yaml") for t in yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["tasks"]]


def run_history(
    project: Project, lowest_capable: Callable[[int], int], *, count: int | None = None, session: str = "s1",
    force: Callable[[int], str | None] = lambda s: None, spend: float = 1.0,
) -> None:
    """Record one outcome per description as the escalation loop would: start on the routed tier (or a forced
    one), climb one tier per failure; `lowest_capable(score)` is the cheapest tier that passes. Each attempt
    costs `spend` times the estimate at the task's score on its tier (1: the estimates are right)."""
    estimator = ComplexityEstimator(project, use_ai=False)
    models = catalogue(project)
    for i, text in enumerate(DESCRIPTIONS[:count]):
        estimate = estimator.estimate(text)
        start = force(estimate.complexity_score) or estimate.recommended_model
        ladder = []
        for tier in TIERS[TIERS.index(start) :]:
            ok = TIERS.index(tier) >= lowest_capable(estimate.complexity_score)
            cost = spend * estimate_cost(estimate.complexity_score, models[tier])
            ladder.append(LadderStep(tier, f"claude-{tier}", cost, "passed" if ok else "failed", "" if ok else "verify failed"))
            if ok:
                break
        record_outcome(project, TaskOutcome.from_attempts(estimate, ladder, session_id=session, task_id=f"t{i}", finished_at=1_700_000_000.0 + i))


def config(project: Project) -> dict:
    path = project.paths.config_file
    return json.loads(path.read_text()) if path.is_file() else {}


def scores(project: Project) -> list[int]:
    estimator = ComplexityEstimator(project, use_ai=False)
    return [estimator.estimate(t).complexity_score for t in DESCRIPTIONS]


def sonnet_cut(project: Project) -> int:
    """A score in the middle of sonnet's range (30-74): above it, in the histories below, sonnet fails."""
    middle = sorted({s for s in scores(project) if 30 < s <= 74})
    return middle[len(middle) // 2]


def sonnet_fails_above(cut: int) -> Callable[[int], int]:
    """The cheapest tier that passes: haiku up to 29, sonnet below `cut`, opus from there."""
    return lambda s: 0 if s <= 29 else (1 if s < cut else 2)


def test_too_few_outcomes_says_how_many_more(project: Project) -> None:
    run_history(project, lambda s: 0, count=MIN_OUTCOMES - 7)
    report = calibrate(project)
    assert (report.outcomes, report.needed, report.written) == (MIN_OUTCOMES - 7, 7, False)
    assert config(project) == {}


def test_a_tier_that_keeps_failing_gets_fewer_tasks(any_project: Project) -> None:
    # sonnet passes only the lower part of its range; above that what it is given fails and escalates to opus
    project = any_project
    cut = sonnet_cut(project)
    run_history(project, sonnet_fails_above(cut))
    report = calibrate(project)
    assert report.current == {"haiku": 29, "sonnet": 74}
    assert report.fitted["sonnet"] < cut <= 74
    assert report.better and report.written
    assert report.after.first_try_pass_rate > report.before.first_try_pass_rate
    assert report.after.escalations < report.before.escalations
    assert report.after.cost_per_passed_task < report.before.cost_per_passed_task
    written = config(project)["routing"]["calibration"]
    assert written["max_complexity"]["sonnet"] == report.fitted["sonnet"] and written["outcomes"] == report.outcomes

    reloaded = Project(project.paths.root)
    task = next(t for t, s in zip(DESCRIPTIONS, scores(project)) if cut <= s <= 74)
    result = ComplexityEstimator(reloaded, use_ai=False).estimate(task)
    assert result.recommended_model == "opus"  # was sonnet before the calibration
    assert result.calibration and f"on {report.outcomes} outcomes" in result.calibration


def test_dry_run_reports_but_leaves_the_config_alone(project: Project, write_config) -> None:
    write_config({"routing": {"default_model": "sonnet"}})
    cut = sonnet_cut(project)
    run_history(project, sonnet_fails_above(cut))
    report = calibrate(project, dry_run=True)
    assert report.better and not report.written
    assert config(project) == {"routing": {"default_model": "sonnet"}}


def test_routing_that_already_fits_the_history_is_left_alone(project: Project) -> None:
    run_history(project, lambda s: 0 if s <= 29 else (1 if s <= 74 else 2))
    report = calibrate(project)
    assert not report.better and not report.written
    assert report.after.first_try_pass_rate == pytest.approx(report.before.first_try_pass_rate) == 1.0
    assert config(project) == {}


def test_a_tier_is_never_trusted_with_scores_it_has_no_outcomes_for(project: Project) -> None:
    # every task haiku was given passed, but it was never given anything above 29: no reason to raise it
    run_history(project, lambda s: 0 if s <= 29 else 1)
    assert calibrate(project).fitted["haiku"] <= 29


def test_a_tier_that_passes_where_it_was_tried_gets_more_tasks(project: Project) -> None:
    # some tasks scored 30-45 were forced onto haiku (a plan's `model:`) and passed there
    run_history(project, lambda s: 0 if s <= 45 else 1, force=lambda s: "haiku" if 30 <= s <= 45 else None)
    report = calibrate(project)
    assert 29 < report.fitted["haiku"] <= 45
    assert report.better and report.after.cost_per_passed_task < report.before.cost_per_passed_task


def test_with_a_long_history_the_signal_weights_are_refitted_or_kept_by_cross_validation(project: Project) -> None:
    cut = sonnet_cut(project)
    for session in ("s1", "s2"):
        run_history(project, sonnet_fails_above(cut), session=session)
    report = calibrate(project)
    assert report.outcomes >= 200 and report.written
    if report.weights_refitted:
        assert report.weights and report.calibration.base is not None
        ComplexityEstimator(Project(project.paths.root), use_ai=False).estimate(DESCRIPTIONS[0])  # the config is usable
    else:
        assert report.weights == {}


def test_calibrate_command_text_and_json(run_br, project: Project) -> None:
    few = run_br("routing", "calibrate")
    assert few.returncode == 0 and f"needs at least {MIN_OUTCOMES} ({MIN_OUTCOMES} more)" in few.stdout
    cut = sonnet_cut(project)
    run_history(project, sonnet_fails_above(cut))
    dry = run_br("routing", "calibrate", "--dry-run", "--format", "json")
    data = json.loads(dry.stdout)
    assert dry.returncode == 0 and data["dry_run"] and data["better"] and not data["written"]
    assert data["before"]["first_try_pass_rate"] < data["after"]["first_try_pass_rate"]
    text = run_br("routing", "calibrate")
    assert text.returncode == 0, text.stderr
    assert "haiku trusted up to" in text.stdout and "first-try pass rate" in text.stdout
    assert "wrote routing.calibration to .buildrunner/config.json" in text.stdout
    estimate = json.loads(run_br("routing", "estimate", "Fix typo in README", "-f", "json").stdout)
    assert estimate["calibration"].startswith("thresholds calibrated ")
    select = run_br("routing", "select", "Fix typo in README")
    assert "Routing: thresholds calibrated " in select.stdout


def test_estimate_and_select_say_when_no_calibration_is_used(run_br) -> None:
    assert json.loads(run_br("routing", "estimate", "Fix typo in README", "-f", "json").stdout)["calibration"] is None
    assert json.loads(run_br("routing", "select", "Fix typo in README", "-f", "json").stdout)["calibration"] is None
    assert "Routing: default thresholds" in run_br("routing", "select", "Fix typo in README").stdout


def test_the_report_says_what_the_recorded_attempts_did_and_which_scores_moved(project: Project) -> None:
    """A new user's history of hand-built outcomes showed "first-try 100 %, 0 escalations" while 8 of its 60 tasks had
    escalated: the before/after columns model routings on today's scores; the recorded history is said beside them."""
    estimator = ComplexityEstimator(project, use_ai=False)
    models = catalogue(project)
    escalated = 0
    for i, text in enumerate(DESCRIPTIONS[:40]):
        estimate = estimator.estimate(text)
        climbs = i % 5 == 0 and estimate.recommended_model != "opus"
        start = estimate.recommended_model
        ladder = [LadderStep(start, f"claude-{start}", estimate_cost(estimate.complexity_score, models[start]), "failed" if climbs else "passed", "verify failed" if climbs else "")]
        if climbs:
            above = TIERS[TIERS.index(start) + 1]
            ladder.append(LadderStep(above, f"claude-{above}", estimate_cost(estimate.complexity_score, models[above]), "passed"))
            escalated += 1
        outcome = TaskOutcome.from_attempts(estimate, ladder, session_id="s1", task_id=f"t{i}", finished_at=1_700_000_000.0 + i)
        if i < 3:  # recorded by an older estimator: the stored score is not what today's signals give
            outcome = dataclasses.replace(outcome, score=min(100, outcome.score + 30) if outcome.score < 70 else outcome.score - 30)
        record_outcome(project, outcome)
    report = calibrate(project, dry_run=True)
    assert report.as_run is not None and report.as_run.tasks == 40
    assert report.as_run.escalations == escalated and report.as_run.first_try_pass_rate == round((40 - escalated) / 40, 4)
    assert report.rescored == 3


def test_cost_estimates_are_scaled_to_what_the_projects_attempts_cost(project: Project) -> None:
    """Agents on this project spend four times the token budget: calibration measures it per tier on held-out
    attempts, writes the scale (the routing itself already fits and stays), and estimates follow; fitting again
    does not compound it."""
    task = "Add a --verbose flag to the CLI"
    before = ComplexityEstimator(project, use_ai=False).estimate(task)
    run_history(project, lambda s: 0 if s <= 29 else (1 if s <= 74 else 2), spend=4.0)
    report = calibrate(project)
    assert not report.better and report.costs_better and report.written
    assert report.costs is not None and report.costs.scale and all(scale == pytest.approx(4.0, rel=0.01) for scale in report.costs.scale.values())
    assert report.costs.off_before == pytest.approx(4.0, rel=0.01) and report.costs.off_after == pytest.approx(1.0, abs=0.01)
    written = config(project)["routing"]["calibration"]
    assert written["max_complexity"] == {} and written["cost_scale"] == report.costs.better_scale != {}  # the thresholds in use stay

    after = ComplexityEstimator(Project(project.paths.root), use_ai=False).estimate(task)
    assert after.recommended_model == before.recommended_model
    assert after.recommended_model in report.costs.better_scale
    assert after.estimated_cost == pytest.approx(4.0 * before.estimated_cost, rel=0.02)
    assert after.calibration and after.calibration.startswith("attempt costs calibrated")

    again = calibrate(Project(project.paths.root))
    assert again.costs is not None and all(scale == pytest.approx(4.0, rel=0.01) for scale in again.costs.scale.values())
    assert not again.costs_better and not again.written  # in use already: nothing closer to write


def test_a_tier_with_too_few_attempts_keeps_its_cost_estimates(project: Project) -> None:
    estimator, models = ComplexityEstimator(project, use_ai=False), catalogue(project)
    for i, text in enumerate(DESCRIPTIONS[:MIN_OUTCOMES + MIN_COST_ATTEMPTS - 1]):
        estimate = estimator.estimate(text)
        tier = "sonnet" if i < MIN_COST_ATTEMPTS - 1 else "haiku"  # one attempt short on sonnet
        step = LadderStep(tier, f"claude-{tier}", 3.0 * estimate_cost(estimate.complexity_score, models[tier]), "passed")
        record_outcome(project, TaskOutcome.from_attempts(estimate, [step], session_id="s1", task_id=f"t{i}", finished_at=1_700_000_000.0 + i))
    report = calibrate(project, dry_run=True)
    assert report.costs is not None and report.costs.attempts == {"haiku": MIN_OUTCOMES, "sonnet": MIN_COST_ATTEMPTS - 1}
    assert report.costs.scale == {"haiku": pytest.approx(3.0, rel=0.01)}
    assert report.calibration is not None and "sonnet" not in report.calibration.cost_scale


def test_calibrate_says_what_attempts_cost_against_the_estimates(project: Project, run_br) -> None:
    run_history(project, lambda s: 0 if s <= 29 else (1 if s <= 74 else 2), spend=2.5)
    text = run_br("routing", "calibrate", "--dry-run")
    assert "Attempt costs: the estimates in use are off by x2.5" in text.stdout
    assert "Better on held-out outcomes (the cost estimates; the thresholds in use stay); --dry-run" in text.stdout
    data = json.loads(run_br("routing", "calibrate", "--dry-run", "--format", "json").stdout)
    assert data["costs_better"] is True and data["costs"]["scale"]["sonnet"] == pytest.approx(2.5, rel=0.01)


def record(project: Project, steps: list[tuple[str, float, str]], *, session: str = "s1", model_of: Callable[[str], str] = lambda tier: f"claude-{tier}") -> None:
    """One passed outcome per (tier, cost as a multiple of the estimate, description) on that tier."""
    estimator, models = ComplexityEstimator(project, use_ai=False), catalogue(project)
    for i, (tier, spend, text) in enumerate(steps):
        estimate = estimator.estimate(text)
        step = LadderStep(tier, model_of(tier), spend * estimate_cost(estimate.complexity_score, models[tier]), "passed")
        record_outcome(project, TaskOutcome.from_attempts(estimate, [step], session_id=session, task_id=f"t{i}", finished_at=1_700_000_000.0 + i))


def test_a_scale_already_in_use_is_kept_for_a_tier_with_too_few_new_attempts(project: Project, write_config) -> None:
    write_config({"routing": {"calibration": {"fitted_at": "2026-11-01T00:00Z", "outcomes": 40, "max_complexity": {}, "cost_scale": {"opus": 2.0}}}})
    record(Project(project.paths.root), [("haiku", 3.0, t) for t in DESCRIPTIONS[:MIN_OUTCOMES]] + [("opus", 5.0, DESCRIPTIONS[40])])
    report = calibrate(Project(project.paths.root))
    assert report.written and report.calibration is not None
    assert report.calibration.cost_scale == {"opus": 2.0, "haiku": pytest.approx(3.0, rel=0.01)}


def test_odd_recorded_costs_never_make_a_calibration_the_config_refuses(project: Project) -> None:
    """A scale past what the config accepts is held at its edge (no traceback, and the written config loads)."""
    record(project, [(TIERS[i % 3], 1e9, t) for i, t in enumerate(DESCRIPTIONS[:MIN_OUTCOMES])])
    report = calibrate(project)
    assert report.costs is not None and report.costs.attempts == {tier: MIN_OUTCOMES // 3 for tier in TIERS}
    assert report.written and all(0 < scale < 10_000 for scale in config(project)["routing"]["calibration"]["cost_scale"].values())
    ComplexityEstimator(Project(project.paths.root), use_ai=False).estimate("Fix a typo")  # the written config loads


def test_an_attempt_by_another_vendors_agent_is_compared_with_that_models_price(project: Project) -> None:
    """Codex ran the sonnet tier as gpt-5 and spent exactly its own estimate: the tier's scale stays 1, not the
    price gap between the two models (select prices the tier as that agent's model too)."""
    from buildrunner.routing.models import price_of_unconfigured, priced_as, provider_of

    provider = provider_of("gpt-5")
    assert provider is not None
    models = catalogue(project)
    gpt5 = priced_as(models["sonnet"], provider, "gpt-5")
    assert gpt5.input_per_mtok != models["sonnet"].input_per_mtok  # the two models' prices differ
    estimator = ComplexityEstimator(project, use_ai=False)
    for i, text in enumerate(DESCRIPTIONS[:MIN_OUTCOMES]):
        estimate = estimator.estimate(text)
        step = LadderStep("sonnet", "gpt-5", estimate_cost(estimate.complexity_score, gpt5), "passed")
        record_outcome(project, TaskOutcome.from_attempts(estimate, [step], session_id="s1", task_id=f"t{i}", finished_at=1_700_000_000.0 + i))
    report = calibrate(project, dry_run=True)
    assert report.costs is not None and report.costs.scale == {"sonnet": pytest.approx(1.0, abs=0.01)}
    assert price_of_unconfigured("gpt-5", provider=provider).input_per_mtok == gpt5.input_per_mtok


def test_scaled_costs_never_price_a_tier_above_a_more_capable_one(project: Project, run_br) -> None:
    """A new user's fake agent cost the same whatever the tier: haiku's attempts came out 18 times its estimate, and
    the scale written made haiku dearer than opus while select still called it the cheapest tier. Such a scale is
    not written, and calibrate says why; a scale that keeps the order is."""
    models = catalogue(project)
    flat = {tier: estimate_cost(50, models["opus"]) / estimate_cost(50, models[tier]) for tier in TIERS}  # every tier costs what opus does
    record(project, [(TIERS[i % 3], flat[TIERS[i % 3]] * (1.5 if TIERS[i % 3] == "haiku" else 1.0), t) for i, t in enumerate(DESCRIPTIONS[:MIN_OUTCOMES])])
    report = calibrate(project, dry_run=True)
    assert report.costs is not None and "haiku" in report.costs.inverted and "haiku" not in report.costs.better_scale
    assert report.calibration is not None
    scaled = {tier: estimate_cost(50, dataclasses.replace(model, cost_scale=report.calibration.cost_scale.get(tier, 1.0))) for tier, model in models.items()}
    assert [scaled[t] for t in TIERS] == sorted(scaled[t] for t in TIERS)
    assert "haiku x" in (text := run_br("routing", "calibrate", "--dry-run").stdout) and "it would price a tier above a more capable one" in text
