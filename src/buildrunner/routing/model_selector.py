"""Pick the cheapest tier capable enough for a task that fits its cost and time limits.

When no tier trusted with the task fits the limits but a less capable one does, the limits
win (they are the user's; the complexity score is an estimate) and the reasoning says so. A tier is
never faster than the cheapest tier trusted with the task, though: its speed is for work it can do,
and on harder work it retries or fails (a time limit had picked haiku for a score-75 task).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from buildrunner.errors import ConfigError, RoutingError, StoreError
from buildrunner.money import usd
from buildrunner.project import ensure_project
from buildrunner.routing.complexity_estimator import ComplexityEstimator, ComplexityResult, estimate_cost, minutes_on, tier_order

if TYPE_CHECKING:
    from pathlib import Path

    from buildrunner.project import Project
    from buildrunner.routing.models import ModelInfo


@dataclass
class ModelSelection:
    """The chosen tier with its estimates and whether each limit is met."""

    name: str
    model_id: str
    estimated_cost: float
    estimated_time_minutes: int
    reasoning: list[str]
    meets_cost_limit: bool
    meets_time_limit: bool
    complexity: ComplexityResult
    cost_limit: float | None = None
    time_limit: float | None = None
    forced: bool = False
    alternatives: list[dict[str, object]] = field(default_factory=list)
    capable: bool = True  # False: the tier is below the one trusted with the task (forced, or the only one within the limits)
    budget_note: str | None = None  # a spent budget, or one the estimate would overrun: agent work would be held back

    @property
    def meets_limits(self) -> bool:
        """Both limits met: a forced tier may miss them (the selection still says what it would cost)."""
        return self.meets_cost_limit and self.meets_time_limit


LIMIT_EXAMPLES = {"cost_limit": "0.50 (USD)", "time_limit": "30 (minutes)"}  # what a valid limit looks like, in advice


def _check_limit(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError(f"{name}={value!r}: not a number", hint=f"pass {name} as a number such as {LIMIT_EXAMPLES[name]}")
    if value < 0:
        raise ConfigError(f"{name}={value}: cannot be negative", hint=f"pass 0 or a positive {name}")
    return float(value)


class ModelSelector:
    """Routes a task to a tier; `select_model` is called by the parallel runner for each prompt task."""

    def __init__(self, project: "Project | None" = None, *, estimator: ComplexityEstimator | None = None) -> None:
        project = ensure_project(project)
        self._project = project
        self._estimator = estimator or ComplexityEstimator(project)

    def select_model(
        self,
        task_description: str,
        complexity_score: int | None = None,
        cost_limit: float | None = None,
        time_limit: float | None = None,
        model: str | None = None,
        files: "Sequence[Path] | None" = None,
        check_budget: bool = True,
        agent_models: "Mapping[str, tuple[str, str]] | None" = None,
        cost_limit_name: str = "--cost-limit",
    ) -> ModelSelection:
        """The cheapest capable tier within both limits, else the most capable one within them (with a warning);
        RoutingError naming the limit when no tier fits. `files` the task will touch count as in `estimate`.
        `check_budget`: say in `budget_note` whether a budget is spent or would be (the runner checks its own).
        `agent_models`: tier -> (provider, model id) of the agent that will run it (Codex, Gemini), priced as such;
        `cost_limit_name` names the limit in the advice (a plan's `max_cost`)."""
        selection = self._select(task_description, complexity_score, cost_limit, time_limit, model, files, agent_models, cost_limit_name)
        if check_budget:
            selection.budget_note = self._budget_note(selection.estimated_cost)
        return selection

    def _select(
        self,
        task_description: str,
        complexity_score: int | None,
        cost_limit: float | None,
        time_limit: float | None,
        model: str | None,
        files: "Sequence[Path] | None",
        agent_models: "Mapping[str, tuple[str, str]] | None" = None,
        cost_limit_name: str = "--cost-limit",
    ) -> ModelSelection:
        from buildrunner.routing.models import catalogue, priced_as, resolve_model

        cost_limit = _check_limit("cost_limit", cost_limit)
        time_limit = _check_limit("time_limit", time_limit)
        if complexity_score is None:
            complexity = self._estimator.estimate(task_description, files=files)
        else:
            if isinstance(complexity_score, bool) or not isinstance(complexity_score, (int, float)) or not 0 <= complexity_score <= 100:
                raise ConfigError(f"complexity_score={complexity_score!r}: must be a number from 0 to 100", hint="omit it to estimate from the description")
            complexity = self._estimator.result_for(task_description, int(round(complexity_score)), [])
        score = complexity.complexity_score
        models = catalogue(self._project)
        if agent_models:
            models = {tier: priced_as(info, *agent_models[tier]) if tier in agent_models else info for tier, info in models.items()}
        trusted_minutes = min((minutes_on(score, m) for m in models.values() if m.max_complexity >= score), default=0)
        options = [self._option(m, complexity, cost_limit, time_limit, trusted_minutes) for m in models.values()]
        alternatives = [o.summary() for o in options]

        if model is not None:
            forced = resolve_model(model, self._project)
            chosen = next(o for o in options if o.model.tier == forced.tier)
            reasons = [f"{forced.tier} forced by --model"]
            if not chosen.capable:
                reasons.append(f"warning: complexity {score} is above what {forced.tier} is trusted with ({forced.max_complexity})")
            return chosen.selection(complexity, cost_limit, time_limit, reasons, forced=True, alternatives=alternatives, capable=chosen.capable)

        routing = self._project.config.routing
        capable = [o for o in options if o.capable] or options[-1:]
        fitting = [o for o in capable if o.meets_cost and o.meets_time]
        if fitting:
            order = tier_order(list(models), routing)
            pick = min(fitting, key=lambda o: order.index(o.model.tier))
            if not routing.cost_optimization and pick.model.tier != fitting[0].model.tier:
                reasons = [f"cost optimisation is off: default tier {routing.default_model} (or the nearest capable one) is used"]
            else:
                reasons = [f"complexity {score} ({complexity.complexity_level}): {pick.model.tier} is the cheapest tier trusted with it"]
            default = next((o for o in options if o.model.tier == routing.default_model), None)
            if not routing.cost_optimization and default is not None and default is not pick and default.capable and default not in fitting:
                reasons.append(f"default tier {default.model.tier} skipped: over the limits")
            skipped = [o.model.tier for o in capable if o not in fitting and capable.index(o) < capable.index(pick)]
            if skipped:
                reasons.append(f"{', '.join(skipped)} skipped: over the limits")
        else:
            within = [o for o in options if o.meets_cost and o.meets_time]
            if not within:
                message, hint = _no_fit(options, capable[0], cost_limit, time_limit, cost_limit_name)
                raise RoutingError(message, hint=hint)
            pick, trusted = within[-1], capable[0]
            trusted_cost = limit_and_cost(cost_limit, trusted.cost)[1] if cost_limit is not None else usd(trusted.cost)
            reasons = [
                f"warning: complexity {score} ({complexity.complexity_level}) is above what {pick.model.tier} is trusted with "
                f"({pick.model.max_complexity}); {trusted.model.tier} would be ({trusted_cost}, {trusted.minutes} min) "
                "but misses the limits, so the most capable tier within them is used"
            ]
        return pick.selection(
            complexity, cost_limit, time_limit, [*reasons, *self._limit_reasons(pick, cost_limit, time_limit)],
            alternatives=alternatives, capable=pick.capable,
        )

    def _budget_note(self, cost: float) -> str | None:
        """What the budgets say about running the task now: the runner holds agent work back on a spent budget."""
        from buildrunner.routing.cost_tracker import CostTracker

        tracker = CostTracker(self._project)
        try:
            spent = tracker.spent_budget()
            left = tracker.remaining_budget() if spent is None else None
        except StoreError:
            return None  # advisory: a store out of reach does not stop a selection that needs none
        if spent is not None:
            return f"{spent.describe()}: the parallel runner holds new agent work back"
        if left is not None and cost > left:
            return f"the estimated {usd(cost)} is more than the {usd(left)} left in the tightest budget (br routing costs shows them)"
        return None

    @staticmethod
    def _limit_reasons(pick: "_Option", cost_limit: float | None, time_limit: float | None) -> list[str]:
        reasons = []
        if cost_limit is not None:
            reasons.append(f"estimated {usd(pick.cost)} within the {usd(cost_limit)} cost limit")
        if time_limit is not None:
            reasons.append(f"estimated {pick.minutes} min within the {time_limit:g} min time limit")
        return reasons

    @staticmethod
    def _option(
        model: "ModelInfo", complexity: ComplexityResult, cost_limit: float | None, time_limit: float | None, trusted_minutes: int
    ) -> "_Option":
        """`trusted_minutes`: the quickest a tier trusted with the task takes; a tier below that trust takes no less."""
        cost = round(estimate_cost(complexity.complexity_score, model), 4)
        capable = model.max_complexity >= complexity.complexity_score
        minutes = minutes_on(complexity.complexity_score, model)
        minutes = minutes if capable else max(minutes, trusted_minutes)
        return _Option(
            model=model,
            cost=cost,
            minutes=minutes,
            capable=capable,
            meets_cost=cost_limit is None or cost <= cost_limit,
            meets_time=time_limit is None or minutes <= time_limit,
        )


@dataclass
class _Option:
    model: "ModelInfo"
    cost: float
    minutes: int
    capable: bool
    meets_cost: bool
    meets_time: bool

    def summary(self) -> dict[str, object]:
        return {
            "name": self.model.tier,
            "model_id": self.model.model_id,
            "estimated_cost": self.cost,
            "estimated_time_minutes": self.minutes,
            "capable": self.capable,
            "meets_cost_limit": self.meets_cost,
            "meets_time_limit": self.meets_time,
        }

    def selection(
        self,
        complexity: ComplexityResult,
        cost_limit: float | None,
        time_limit: float | None,
        reasoning: list[str],
        *,
        forced: bool = False,
        alternatives: list[dict[str, object]],
        capable: bool = True,
    ) -> ModelSelection:
        return ModelSelection(
            name=self.model.tier,
            model_id=self.model.model_id,
            estimated_cost=self.cost,
            estimated_time_minutes=self.minutes,
            reasoning=reasoning,
            meets_cost_limit=self.meets_cost,
            meets_time_limit=self.meets_time,
            complexity=complexity,
            cost_limit=cost_limit,
            time_limit=time_limit,
            forced=forced,
            alternatives=alternatives,
            capable=capable,
        )


def _up(cost: float) -> str:
    """`cost` to 4 significant digits, rounded up: a limit the advice names must be enough."""
    return _significant(cost, math.ceil)


def _significant(amount: float, rounding: Callable[[float], int]) -> str:
    if amount <= 0:
        return "0"
    step = 10 ** (math.floor(math.log10(amount)) - 3)
    return f"{rounding(round(amount / step, 6)) * step:.4g}"


def limit_and_cost(limit: float, cost: float) -> tuple[str, str]:
    """The limit a cost misses and that cost, each never shown on the wrong side of the other (in the advice, and in
    select's "Exceeds cost constraint" line, which read "$0.05 > $0.05" for $0.0549): the cost as the advice names it
    (rounded up: $0.075 was shown as $0.07, and a limit raised to that was refused again), the limit as `usd` shows it
    unless that reads as enough ($0.03 for $0.0268 beside a $0.0269 cost): then rounded down."""
    cost_text = f"${_up(cost)}"
    if round(limit - cost, 9) == 0:  # equal but for float error: alike is right
        return cost_text, cost_text
    limit_text = usd(limit)
    if float(limit_text.lstrip("$").replace(",", "")) >= float(cost_text.lstrip("$")):
        limit_text = f"${_significant(limit, math.floor)}"
    return limit_text, cost_text


def _no_fit(options: list[_Option], trusted: _Option, cost_limit: float | None, time_limit: float | None, cost_limit_name: str = "--cost-limit") -> tuple[str, str]:
    """(message, hint) naming the limit that cannot be met and the closest option.

    Only called when some option misses a limit, so the limit it misses is set.
    """
    cost_limit, time_limit = cost_limit or 0.0, time_limit or 0.0
    if not any(o.meets_cost for o in options):
        closest = min(options, key=lambda o: (o.cost, not o.capable))
        limit_text, cost_text = limit_and_cost(cost_limit, closest.cost)
        message = f"no model fits the {limit_text} cost limit; closest is {closest.model.tier} at {cost_text}"
        also = "" if closest is trusted else f" ({_up(trusted.cost)} for {trusted.model.tier}, trusted with the task)"
        hint = f"raise {cost_limit_name} to at least {_up(closest.cost)}{also}, or split the task"
    elif not any(o.meets_time for o in options):
        closest = min(options, key=lambda o: (o.minutes, not o.capable))  # a tie goes to the tier trusted with the task
        message = f"no model fits the {time_limit:g} min time limit; closest is {closest.model.tier} at {closest.minutes} min"
        also = "" if closest is trusted else f" ({trusted.minutes} for {trusted.model.tier}, trusted with the task)"
        hint = f"raise --time-limit to at least {closest.minutes}{also}, or split the task"
    else:
        closest = min(options, key=lambda o: (o.cost, o.minutes))
        limit_text, cost_text = limit_and_cost(cost_limit, closest.cost)
        message = (
            f"no model fits both the {limit_text} cost limit and the {time_limit:g} min time limit; "
            f"closest is {closest.model.tier} at {cost_text}, {closest.minutes} min"
        )
        hint = f"raise {cost_limit_name} to at least {_up(closest.cost)} and --time-limit to at least {closest.minutes}, or split the task"
    return message, hint
