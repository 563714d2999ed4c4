"""Fit routing to the project's own outcomes: tier thresholds, and with a long history the signal weights.

What an outcome says: each task has a lowest tier that can do it, `m` (haiku 0, sonnet 1, opus 2, or 3
when none can). Tiers are ordered, so a failed attempt on a tier rules out every tier below it and a pass
rules in every tier above: an outcome pins `m` to an interval. Where it leaves `m` open (a task that passed
on sonnet says nothing about haiku), the pass rate of each tier among tasks of similar score fills in,
from the training outcomes only.

Routing with thresholds (each tier's highest trusted score) starts a task on the cheapest tier trusted with
its score and climbs one tier per failure. Its cost on a set of outcomes is the money spent plus each
escalation priced at `ESCALATION_WEIGHT` typical tasks (the wait and the re-run), per passed task. Thresholds
are chosen to minimise that on training folds, scored on the held-out fold (k-fold cross-validation), and
written to the config only when they beat the routing in use on the held-out outcomes.

Cost estimates are a token budget at the task's score priced per tier; what an agent really spends on a
project can be several times more or less. Each tier's scale is the median of actual / estimated cost over
the project's attempts, checked the same way: written only when the scaled estimates come closer to what
held-out attempts cost.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Sequence, cast

from buildrunner.errors import ConfigError
from buildrunner.paths import atomic_write_text
from buildrunner.routing.complexity_estimator import estimate_cost, signals_for
from buildrunner.routing.models import TIERS, catalogue, priced_as, provider_of
from buildrunner.routing.outcomes import TaskOutcome, load_outcomes
from buildrunner.routing.settings import COST_SCALE_LIMIT, WEIGHT_LIMIT, Calibration, Tier
from buildrunner.routing.signals import SIMPLE_FLOOR_FACTOR, SignalSet, features

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.routing.models import ModelInfo

MIN_OUTCOMES = 30  # to fit thresholds
MIN_OUTCOMES_FOR_WEIGHTS = 200  # to refit signal weights as well
MAX_FOLDS = 5
BAND = 10  # score band width for a tier's pass rate
PRIOR_STRENGTH = 2.0  # pseudo-outcomes pulling a band's pass rate toward the tier's overall rate
ESCALATION_WEIGHT = 1.0  # an escalation costs this many typical passed tasks besides its tokens
MIN_GAIN = 0.02  # the fitted routing must cost at least 2 % less per passed task on held-out outcomes
FIRST_TRY_SLACK = 0.01  # ... and pass at most 1 point fewer tasks on the first try (under-rating is the costly direction)
NEAR_BEST = 0.005  # among thresholds this close to the best, keep the ones nearest the current ones
MIN_EVIDENCE = 3  # a threshold rises only to scores where the tier has this many outcomes of its own
RIDGE_PER_OUTCOME = 1.0  # strength of the pull of refitted weights toward the shipped ones, per outcome
MIN_COST_ATTEMPTS = 5  # attempts with a recorded cost a tier needs before its cost estimates are scaled
MIN_COST_SCALE, MAX_COST_SCALE = 0.001, COST_SCALE_LIMIT - 10  # 3 significant digits that stay inside what the config accepts
COST_GAIN = 0.10  # scaled estimates must be at least 10 % closer (in log terms) to what held-out attempts cost
_FITTED = TIERS[:-1]  # the top tier takes everything above the others


@dataclass(frozen=True)
class RoutingMetrics:
    """How a routing does on a set of outcomes (expected values where an outcome leaves a tier open)."""

    tasks: int
    first_try_pass_rate: float
    pass_rate: float
    cost_per_passed_task: float
    escalations: float
    objective: float  # cost per passed task with escalations priced in: what calibration minimises


@dataclass(frozen=True)
class CostFit:
    """What a project's attempts really cost against the estimate at their score, and a scale per tier."""

    scale: dict[Tier, float]  # actual / estimated cost, the median over a tier's attempts (tiers with too few absent)
    attempts: dict[Tier, int]  # attempts with a recorded cost, per tier
    off_before: float  # held out: the typical factor between estimated and actual cost (1 = exact), with the costs in use
    off_after: float  # the same with scales fitted on the other folds
    better: bool  # some tier's scale brought its held-out attempts at least COST_GAIN closer (better_scale)
    better_scale: dict[Tier, float] = field(default_factory=dict)  # those tiers' scales: what calibrate writes
    inverted: list[Tier] = field(default_factory=list)  # tiers whose closer scale was not written: it broke the tiers' price order


@dataclass
class CalibrationReport:
    """What `br routing calibrate` found; `written` says whether the config changed."""

    outcomes: int
    needed: int
    folds: int = 0
    current: dict[Tier, int] = field(default_factory=dict)
    fitted: dict[Tier, int] = field(default_factory=dict)
    before: RoutingMetrics | None = None
    after: RoutingMetrics | None = None
    weights_refitted: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    better: bool = False
    written: bool = False
    config_file: str | None = None
    imputed_share: float = 0.0  # share of held-out tier outcomes that came from pass rates, not from attempts
    calibration: Calibration | None = None
    as_run: RoutingMetrics | None = None  # what the recorded attempts did (before/after model each routing instead)
    rescored: int = 0  # outcomes today's signals score differently from when they ran (the fit uses today's scores)
    costs: CostFit | None = None  # None: no tier has MIN_COST_ATTEMPTS attempts with a recorded cost
    costs_better: bool = False  # the scaled cost estimates are closer on held-out attempts (written even if the routing is not better)


@dataclass(frozen=True)
class _Case:
    """One outcome prepared for fitting: its score, where `m` lies, the cost of an attempt per tier, its features."""

    key: str
    score: int
    lo: int
    hi: int
    costs: tuple[float, ...]
    x: tuple[float, ...] = ()
    extra: float = 0.0  # points from context factors (files, sizes), which the description alone does not give


def _interval(outcome: TaskOutcome) -> tuple[int, int] | None:
    """Where the lowest capable tier lies, from the attempts; None when no attempt says anything about a tier."""
    passed = [TIERS.index(s.tier) for s in outcome.ladder if s.outcome == "passed"]
    failed = [TIERS.index(s.tier) for s in outcome.ladder if s.outcome == "failed"]
    if not passed and not failed:
        return None
    hi = min(passed) if passed else len(TIERS)
    below = [f for f in failed if f < hi]
    return (max(below) + 1 if below else 0), hi


def _costs(outcome: TaskOutcome, score: int, models: dict[str, "ModelInfo"]) -> tuple[float, ...]:
    """The cost of one attempt on each tier: observed where the task ran there, else scaled by the tiers' prices."""
    estimated = [estimate_cost(score, models[t]) for t in TIERS]
    observed = {TIERS.index(s.tier): s.cost for s in outcome.ladder if s.outcome != "error" and s.cost > 0}
    if not observed:
        return tuple(estimated)
    tier, cost = next(iter(sorted(observed.items())))
    return tuple(observed.get(t, cost * estimated[t] / estimated[tier]) for t in range(len(TIERS)))


def _cost_ratios(outcomes: Sequence[TaskOutcome], models: dict[str, "ModelInfo"]) -> list[tuple[str, str, float]]:
    """(outcome key, tier, actual / estimated cost) of every attempt with a recorded cost. The estimate is the
    unscaled one at the score the task was routed with (a calibration fitted again does not compound), priced at
    the model that ran when another vendor's agent ran it (as `select` prices a tier for that agent)."""
    vendor: dict[str, str | None] = {}
    out = []
    for o in outcomes:
        for step in o.ladder:
            model = models.get(step.tier)
            if step.outcome == "error" or not math.isfinite(step.cost) or step.cost <= 0 or model is None:
                continue
            if step.model and step.model != model.model_id:
                provider = vendor[step.model] if step.model in vendor else vendor.setdefault(step.model, provider_of(step.model))
                if provider is not None and provider != model.provider:
                    model = priced_as(model, provider, step.model)
            estimated = estimate_cost(o.score, replace(model, cost_scale=1.0))
            if estimated > 0:
                out.append((f"{o.session_id}/{o.task_id}", step.tier, step.cost / estimated))
    return out


def _cost_scales(ratios: Sequence[tuple[str, str, float]]) -> dict[Tier, float]:
    """Per tier with MIN_COST_ATTEMPTS attempts: the median ratio, to 3 significant digits, within what the
    config accepts (MAX_COST_SCALE)."""
    by_tier: dict[str, list[float]] = {}
    for _, tier, ratio in ratios:
        by_tier.setdefault(tier, []).append(ratio)
    return {
        cast(Tier, tier): min(MAX_COST_SCALE, max(MIN_COST_SCALE, float(f"{statistics.median(r):.3g}")))
        for tier, r in by_tier.items()
        if len(r) >= MIN_COST_ATTEMPTS
    }


def _log_off(tier: str, ratio: float, scale: dict[str, float]) -> float:
    """|log(actual / estimate)| of one attempt with `scale` applied."""
    return abs(math.log(ratio / scale.get(tier, 1.0)))


def fit_costs(outcomes: Sequence[TaskOutcome], models: dict[str, "ModelInfo"], folds: int) -> CostFit | None:
    """Each tier's cost scale, and how close estimates come to held-out attempts with the scales in use and with
    scales fitted on the other folds; None when no tier has enough attempts with a recorded cost. A tier's scale
    counts as better only when it was fitted in every fold and brought that tier's own attempts closer."""
    ratios = _cost_ratios(outcomes, models)
    scale = _cost_scales(ratios)
    if not scale:
        return None
    in_use = {tier: model.cost_scale for tier, model in models.items()}
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    fitted_in_every_fold = set(scale)
    for k in range(folds):
        train = [r for r in ratios if _fold(r[0], folds) != k]
        fold_scale = _cost_scales(train)
        fitted_in_every_fold &= set(fold_scale)
        fitted = {**in_use, **{str(tier): factor for tier, factor in fold_scale.items()}}
        for key, tier, ratio in ratios:
            if _fold(key, folds) == k:
                before[tier] = before.get(tier, 0.0) + _log_off(tier, ratio, in_use)
                after[tier] = after.get(tier, 0.0) + _log_off(tier, ratio, fitted)
    better = {tier: scale[tier] for tier in scale if tier in fitted_in_every_fold and after[tier] < before[tier] * (1 - COST_GAIN)}
    inverted = _breaking_price_order(better, in_use, models)
    better = {tier: factor for tier, factor in better.items() if tier not in inverted}
    counted = Counter(tier for _, tier, _ in ratios)
    attempts = {cast(Tier, tier): counted[tier] for tier in TIERS if counted[tier]}
    n = max(1, len(ratios))
    return CostFit(
        scale=scale, attempts=attempts, better_scale=better, inverted=sorted(inverted),
        off_before=round(math.exp(sum(before.values()) / n), 3), off_after=round(math.exp(sum(after.values()) / n), 3), better=bool(better),
    )


def _breaking_price_order(new: dict[Tier, float], in_use: dict[str, float], models: dict[str, "ModelInfo"]) -> set[Tier]:
    """The tiers of `new` whose scale would make a tier's estimate dearer than a more capable tier's: routing tries
    tiers cheapest first and calls its pick the cheapest, so scaled estimates must keep the catalogue's price order
    (a new user's fake agent, whose attempts cost the same on every tier, scaled haiku x18: dearer than opus). Every
    tier gets the same token budget at a score, so comparing them at one score compares them at all."""
    dropped: set[Tier] = set()
    while True:
        scales: dict[str, float] = {**in_use, **{t: f for t, f in new.items() if t not in dropped}}
        price = [(tier, estimate_cost(50, replace(model, cost_scale=scales.get(tier, 1.0)))) for tier, model in models.items()]
        clash = {t for i, (low, low_cost) in enumerate(price) for high, high_cost in price[i + 1 :] if low_cost > high_cost for t in (low, high)}
        offending = (clash & set(new)) - dropped
        if not offending:
            return dropped
        dropped |= {cast(Tier, t) for t in offending}


def _context_points(outcome: TaskOutcome, signals: SignalSet) -> float:
    names = {*signals.names(), "baseline", "ai estimate", SIMPLE_FLOOR_FACTOR}
    return sum(f.weight for f in outcome.factors if f.name not in names)


def _cases(outcomes: Sequence[TaskOutcome], signals: SignalSet, models: dict[str, "ModelInfo"]) -> list[_Case]:
    out = []
    for o in outcomes:
        span = _interval(o)
        if span is None:
            continue
        x = tuple(features(signals, o.description))
        extra = _context_points(o, signals)
        score = _score(signals, signals.base, [s.weight for s in signals.signals], x, extra)
        out.append(_Case(f"{o.session_id}/{o.task_id}", score, span[0], span[1], _costs(o, score, models), x, extra))
    return out


def _score(signals: SignalSet, base: float, weights: Sequence[float], x: Sequence[float], extra: float) -> int:
    """The score the estimator gives for these features and weights (the guard on the held-off signals included)."""
    points = [w * v for w, v in zip(weights, x)]
    held_off = signals.held_off()
    held_points = sum(p for s, p in zip(signals.signals, points) if s.name in held_off)
    return int(round(min(100.0, max(0.0, signals.guarded(base + sum(points) + extra, held_points)))))


class _PassRates:
    """P(m <= tier | score band), from the outcomes where that is known, smoothed toward the tier's overall rate."""

    def __init__(self, cases: Sequence[_Case]) -> None:
        bands = 100 // BAND + 1
        known = [[[0, 0] for _ in range(bands)] for _ in TIERS]
        for c in cases:
            for t in range(len(TIERS)):
                if c.hi <= t or c.lo > t:
                    cell = known[t][c.score // BAND]
                    cell[0] += c.hi <= t
                    cell[1] += 1
        self.rates: list[list[float]] = []
        for t in range(len(TIERS)):
            passes, total = sum(p for p, _ in known[t]), sum(n for _, n in known[t])
            overall = (passes + 1) / (total + 2)
            self.rates.append([(p + PRIOR_STRENGTH * overall) / (n + PRIOR_STRENGTH) for p, n in known[t]])
        for t in range(1, len(TIERS)):  # a more capable tier passes at least what a cheaper one does
            self.rates[t] = [max(a, b) for a, b in zip(self.rates[t], self.rates[t - 1])]

    def lowest_tier(self, case: _Case) -> list[float]:
        """P(m = k) for k = 0..len(TIERS), given the case's score and interval."""
        p = [self.rates[t][case.score // BAND] for t in range(len(TIERS))]
        q = [p[0], *(p[t] - p[t - 1] for t in range(1, len(TIERS))), 1 - p[-1]]
        q = [v if case.lo <= k <= case.hi else 0.0 for k, v in enumerate(q)]
        total = sum(q)
        return [v / total for v in q] if total > 0 else [1.0 / (case.hi - case.lo + 1) if case.lo <= k <= case.hi else 0.0 for k in range(len(q))]


def _expected(case: _Case, start: int, rates: _PassRates) -> tuple[float, float, float, float]:
    """(first-try passes, passes, escalations, cost) expected for `case` started on tier `start`."""
    first = passes = escalations = cost = 0.0
    top = len(TIERS) - 1
    for m, q in enumerate(rates.lowest_tier(case)):
        if not q:
            continue
        end = min(m, top)
        if m <= start:
            first += q
            passes += q
            cost += q * case.costs[start]
        else:
            passes += q * (m <= top)
            escalations += q * (end - start)
            cost += q * sum(case.costs[start : end + 1])
    return first, passes, escalations, cost


def _start(score: int, thresholds: Sequence[int]) -> int:
    return next((t for t, limit in enumerate(thresholds) if score <= limit), len(TIERS) - 1)


def _penalty(cases: Sequence[_Case]) -> float:
    """What an escalation costs besides its tokens: ESCALATION_WEIGHT x the typical cost of a task on the tier that passed it."""
    spent = [c.costs[min(c.hi, len(TIERS) - 1)] for c in cases]
    return ESCALATION_WEIGHT * sum(spent) / len(spent) if spent else 0.0


def _fit_thresholds(cases: Sequence[_Case], rates: _PassRates, penalty: float, current: Sequence[int]) -> tuple[int, ...]:
    """The thresholds (haiku's and sonnet's, non-decreasing) minimising cost + penalty x escalations over `cases`
    without passing fewer of them on the first try than `current` does (less FIRST_TRY_SLACK); among those within
    NEAR_BEST of the best, the nearest to `current`.

    A threshold never rises past the scores where its tier has MIN_EVIDENCE outcomes of its own (a task
    that passed on sonnet says nothing about haiku): calibration does not trust a tier on a guess.
    """
    tiers = len(TIERS)
    ceiling = []
    for t, limit in enumerate(current):
        known = sorted((c.score for c in cases if c.hi <= t or c.lo > t), reverse=True)
        ceiling.append(max(limit, known[MIN_EVIDENCE - 1] if len(known) >= MIN_EVIDENCE else -1))
    # per score and start tier: (expected cost with escalations priced in, expected first-try passes), summed over scores
    cost_prefix = [[0.0] * 102 for _ in range(tiers)]
    first_prefix = [[0.0] * 102 for _ in range(tiers)]
    by_score: list[list[tuple[float, float]]] = [[(0.0, 0.0)] * tiers for _ in range(101)]
    for case in cases:
        for start in range(tiers):
            first, _, escalations, cost = _expected(case, start, rates)
            held = by_score[case.score][start]
            by_score[case.score][start] = (held[0] + cost + penalty * escalations, held[1] + first)
    for start in range(tiers):
        for score in range(101):
            cost_prefix[start][score + 1] = cost_prefix[start][score] + by_score[score][start][0]
            first_prefix[start][score + 1] = first_prefix[start][score] + by_score[score][start][1]

    def total(prefix: list[list[float]], limits: tuple[int, ...]) -> float:
        bounds = [-1, *limits, 100]
        return sum(prefix[t][bounds[t + 1] + 1] - prefix[t][bounds[t] + 1] for t in range(tiers))

    floor = total(first_prefix, tuple(current)) - FIRST_TRY_SLACK * len(cases)
    pairs = [(h, s) for h in range(ceiling[0] + 1) for s in range(h, max(h, ceiling[1]) + 1)]
    scored: list[tuple[float, tuple[int, ...]]] = [(total(cost_prefix, c), c) for c in pairs if total(first_prefix, c) >= floor] or [(total(cost_prefix, tuple(current)), tuple(current))]
    best = min(v for v, _ in scored)
    near = [c for v, c in scored if v <= best + abs(best) * NEAR_BEST + 1e-12]
    return min(near, key=lambda c: (sum(abs(a - b) for a, b in zip(c, current)), c))


def _refit_weights(cases: Sequence[_Case], rates: _PassRates, signals: SignalSet) -> tuple[float, dict[str, float]] | None:
    """(base, weights) on the score scale that rank `cases` by their expected lowest capable tier, pulled toward
    the shipped weights (ridge). None when the shipped scores do not track the outcomes at all."""
    import numpy as np

    X = np.array([c.x for c in cases], dtype=float)
    y = np.array([sum(k * q for k, q in enumerate(rates.lowest_tier(c))) for c in cases])
    w0 = np.array([s.weight for s in signals.signals])
    s0 = signals.base + X @ w0
    slope, intercept = np.polyfit(s0, y, 1) if np.ptp(s0) > 0 else (0.0, 0.0)
    if slope <= 0:
        return None
    xm, ym = X.mean(axis=0), y.mean()
    Xc, yc = X - xm, y - ym
    lam = RIDGE_PER_OUTCOME * len(cases)
    v = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ yc + lam * slope * w0)
    weights = np.clip(v / slope, -WEIGHT_LIMIT, WEIGHT_LIMIT)
    base = float(np.clip((ym - v @ xm - intercept) / slope, -WEIGHT_LIMIT, WEIGHT_LIMIT))
    return base, {s.name: round(float(w), 2) for s, w in zip(signals.signals, weights)}


def _rescored(cases: Sequence[_Case], base: float, weights: dict[str, float], signals: SignalSet) -> list[_Case]:
    w = [weights[s.name] for s in signals.signals]
    return [_Case(c.key, _score(signals, base, w, c.x, c.extra), c.lo, c.hi, c.costs, c.x, c.extra) for c in cases]


def _fold(key: str, folds: int) -> int:
    return hashlib.sha256(key.encode()).digest()[0] % folds


@dataclass
class _Fit:
    thresholds: tuple[int, ...]
    base: float | None = None
    weights: dict[str, float] = field(default_factory=dict)


def _fit(train: Sequence[_Case], current: Sequence[int], signals: SignalSet, with_weights: bool) -> tuple[_Fit, _PassRates, float]:
    rates = _PassRates(train)
    penalty = _penalty(train)
    if with_weights:
        refit = _refit_weights(train, rates, signals)
        if refit is not None:
            base, weights = refit
            rescored = _rescored(train, base, weights, signals)
            rates = _PassRates(rescored)
            return _Fit(_fit_thresholds(rescored, rates, penalty, current), base, weights), rates, penalty
    return _Fit(_fit_thresholds(train, rates, penalty, current)), rates, penalty


def _cross_validate(cases: list[_Case], current: tuple[int, ...], signals: SignalSet, folds: int, with_weights: bool) -> tuple[RoutingMetrics, RoutingMetrics, float]:
    """Held-out (before, after, share imputed): each fold scored with what was fitted on the others."""
    before_cases: list[tuple[_Case, tuple[int, ...], _PassRates]] = []
    after_cases: list[tuple[_Case, tuple[int, ...], _PassRates]] = []
    penalties = []
    for k in range(folds):
        train = [c for c in cases if _fold(c.key, folds) != k]
        test = [c for c in cases if _fold(c.key, folds) == k]
        if not train or not test:
            continue
        fitted, rates, penalty = _fit(train, current, signals, with_weights)
        before_rates = _PassRates(train)
        penalties.append(penalty)
        before_cases += [(c, current, before_rates) for c in test]
        held_out = _rescored(test, fitted.base, fitted.weights, signals) if fitted.weights and fitted.base is not None else test
        after_cases += [(c, fitted.thresholds, rates) for c in held_out]
    penalty = sum(penalties) / len(penalties) if penalties else 0.0
    # a held-out task's result is imputed when it starts below its passing tier and some tier on its way is untried
    imputed = sum(1 for c, limits, _ in after_cases if c.lo < c.hi and _start(c.score, limits) < c.hi)
    return _pooled(before_cases, penalty), _pooled(after_cases, penalty), imputed / max(1, len(after_cases))


def _pooled(items: Sequence[tuple[_Case, tuple[int, ...], _PassRates]], penalty: float) -> RoutingMetrics:
    first = passes = escalations = cost = 0.0
    for case, limits, rates in items:
        f, p, e, c = _expected(case, _start(case.score, limits), rates)
        first, passes, escalations, cost = first + f, passes + p, escalations + e, cost + c
    n = max(1, len(items))
    return RoutingMetrics(
        tasks=len(items),
        first_try_pass_rate=round(first / n, 4),
        pass_rate=round(passes / n, 4),
        cost_per_passed_task=round(cost / passes, 6) if passes else 0.0,
        escalations=round(escalations, 2),
        objective=(cost + penalty * escalations) / passes if passes else float("inf"),
    )


RESCORED_POINTS = 5  # a stored score this far from today's counts as scored differently


def _as_run(outcomes: Sequence[TaskOutcome]) -> RoutingMetrics:
    """The recorded history itself: first-try passes, passes, escalations (tiers climbed) and spend per passed task."""
    first = passes = escalations = 0
    cost = 0.0
    for o in outcomes:
        tiers = [s for s in o.ladder if s.outcome != "error"]
        first += bool(tiers) and tiers[0].outcome == "passed"
        passes += o.passed_tier is not None
        escalations += len({s.tier for s in tiers}) - 1 if tiers else 0
        cost += o.cost
    n = max(1, len(outcomes))
    per_pass = cost / passes if passes else 0.0
    return RoutingMetrics(
        tasks=len(outcomes), first_try_pass_rate=round(first / n, 4), pass_rate=round(passes / n, 4),
        cost_per_passed_task=round(per_pass, 6), escalations=float(escalations), objective=per_pass if passes else float("inf"),
    )


def calibrate(project: "Project", *, dry_run: bool = False, now: datetime | None = None) -> CalibrationReport:
    """Fit routing to the project's recorded outcomes and write it to the config when it does better on
    held-out outcomes (never with `dry_run`). With fewer than MIN_OUTCOMES usable outcomes, says how many more."""
    routing = project.config.routing
    usable = [o for o in load_outcomes(project) if _interval(o) is not None]
    models = catalogue(project)
    current = tuple(models[t].max_complexity for t in _FITTED)
    report = CalibrationReport(outcomes=len(usable), needed=max(0, MIN_OUTCOMES - len(usable)), current=dict(zip(_FITTED, current)))
    if report.needed:
        return report
    signals = signals_for(routing, str(project.paths.config_file))
    cases = _cases(usable, signals, models)
    report.as_run = _as_run(usable)
    stored = {f"{o.session_id}/{o.task_id}": o.score for o in usable}
    report.rescored = sum(1 for c in cases if abs(c.score - stored[c.key]) >= RESCORED_POINTS)
    folds = min(MAX_FOLDS, max(2, len(cases) // 10))
    with_weights = len(cases) >= MIN_OUTCOMES_FOR_WEIGHTS
    before, after, imputed = _cross_validate(cases, current, signals, folds, with_weights=False)
    if with_weights:
        _, weighted, weighted_imputed = _cross_validate(cases, current, signals, folds, with_weights=True)
        if weighted.objective < after.objective and weighted.first_try_pass_rate >= after.first_try_pass_rate - FIRST_TRY_SLACK:
            after, imputed = weighted, weighted_imputed
        else:
            with_weights = False
    final, _, _ = _fit(cases, current, signals, with_weights)
    if not final.weights and routing.calibration is not None:  # the scores were made with these: keep them
        final.weights, final.base = dict(routing.calibration.weights), routing.calibration.base
    report.folds, report.before, report.after, report.imputed_share = folds, before, after, round(imputed, 3)
    report.fitted = dict(zip(_FITTED, final.thresholds))
    report.weights_refitted = with_weights and bool(final.weights)
    report.weights = final.weights
    report.better = after.objective < before.objective * (1 - MIN_GAIN) and after.first_try_pass_rate >= before.first_try_pass_rate - FIRST_TRY_SLACK
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%MZ")
    report.costs = fit_costs(usable, models, folds)
    report.costs_better = report.costs is not None and report.costs.better
    previous = routing.calibration
    cost_scale = {**(previous.cost_scale if previous else {}), **(report.costs.better_scale if report.costs is not None else {})}
    thresholds, weights, base = report.fitted, final.weights, final.base
    if report.costs_better and not report.better:  # only the cost estimates improve: the routing in use stays as it is
        thresholds, weights, base = (dict(previous.max_complexity), dict(previous.weights), previous.base) if previous else ({}, {}, None)
    report.calibration = Calibration(
        fitted_at=stamp, outcomes=len(cases), max_complexity=thresholds, weights=weights, base=base, cost_scale=cost_scale,
    )
    report.config_file = str(project.paths.config_file)
    if (report.better or report.costs_better) and not dry_run:
        write_calibration(project, report.calibration)
        report.written = True
    return report


def write_calibration(project: "Project", calibration: Calibration) -> None:
    """Set `routing.calibration` in the project's config file, keeping every other key; atomic."""
    from buildrunner.config import Config

    path = project.paths.config_file
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}") if path.is_file() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as JSON ({exc})", hint="fix the file, then run br routing calibrate again") from None
    if not isinstance(data, dict) or not isinstance(data.get("routing", {}), dict):
        raise ConfigError(f"{path}: the top level and 'routing' must be JSON objects", hint="fix the file, then run br routing calibrate again")
    data.setdefault("routing", {})["calibration"] = calibration.model_dump(mode="json", exclude_none=True)
    Config.model_validate(data)  # never write a file the next command would refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be written ({exc.strerror})", hint="check the folder's permissions") from None
