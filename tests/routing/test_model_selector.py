"""Model selection: cheapest capable tier within the limits, the limits winning over trust, forced tiers, and clear refusals."""

from __future__ import annotations

import pytest

from buildrunner.errors import ConfigError, RoutingError
from buildrunner.project import Project
from buildrunner.routing.model_selector import ModelSelector

TASK = "Refactor database queries"


@pytest.fixture
def selector(project: Project) -> ModelSelector:
    return ModelSelector(project)


@pytest.mark.parametrize(("score", "tier"), [(10, "haiku"), (29, "haiku"), (30, "sonnet"), (74, "sonnet"), (75, "opus"), (100, "opus")])
def test_cheapest_tier_trusted_with_the_score(selector: ModelSelector, score: int, tier: str) -> None:
    """simple -> haiku, moderate -> sonnet, complex and critical -> opus, as the spec recommends."""
    choice = selector.select_model(TASK, complexity_score=score)
    assert choice.name == tier
    assert choice.complexity.complexity_score == score
    assert choice.meets_cost_limit and choice.meets_time_limit
    assert choice.model_id.startswith(f"claude-{tier}")


def test_limits_that_fit_are_reported_as_met(selector: ModelSelector) -> None:
    choice = selector.select_model(TASK, complexity_score=65, cost_limit=1.0, time_limit=600)
    assert choice.name == "sonnet"
    assert 0 < choice.estimated_cost <= 1.0 and choice.estimated_time_minutes <= 600
    assert any("cost limit" in line for line in choice.reasoning)
    assert {a["name"] for a in choice.alternatives} == {"haiku", "sonnet", "opus"}


def test_the_spec_example_a_cost_limit_below_the_trusted_tier_picks_the_best_tier_within_it(selector: ModelSelector) -> None:
    trusted = selector.select_model("Add user authentication", complexity_score=65)
    assert trusted.name == "sonnet" and trusted.estimated_cost > 0.10
    choice = selector.select_model(task_description="Add user authentication", complexity_score=65, cost_limit=0.10, time_limit=120)
    assert choice.name == "haiku" and choice.meets_cost_limit and choice.meets_time_limit
    assert choice.estimated_cost <= 0.10 and choice.estimated_time_minutes <= 120
    assert choice.reasoning[0].startswith("warning: complexity 65 (moderate) is above what haiku is trusted with")
    assert "sonnet would be" in choice.reasoning[0]


def test_the_most_capable_tier_within_the_limits_is_used(selector: ModelSelector) -> None:
    opus_only = selector.select_model(TASK, complexity_score=95)
    assert opus_only.name == "opus"
    sonnet_cost = next(a["estimated_cost"] for a in opus_only.alternatives if a["name"] == "sonnet")
    choice = selector.select_model(TASK, complexity_score=95, cost_limit=sonnet_cost)
    assert choice.name == "sonnet"  # haiku fits too, but sonnet is the more capable of the two


def test_cost_limit_nothing_fits_names_the_limit_and_the_cheapest(selector: ModelSelector) -> None:
    with pytest.raises(RoutingError) as err:
        selector.select_model(TASK, complexity_score=65, cost_limit=0.001)
    message = str(err.value)
    assert "$0.0010 cost limit" in message and "closest is haiku" in message
    assert "--cost-limit" in (err.value.hint or "")


def test_time_limit_nothing_fits(selector: ModelSelector) -> None:
    with pytest.raises(RoutingError, match=r"5 min time limit; closest is opus") as err:
        selector.select_model(TASK, complexity_score=95, time_limit=5)
    assert "--time-limit" in (err.value.hint or "") and "trusted with the task" not in (err.value.hint or "")  # no figure said twice


def test_a_time_limit_never_picks_a_tier_below_the_task_for_being_faster(selector: ModelSelector) -> None:
    """A weaker tier's speed is for work it can do: "--time-limit 50" had sent a score-75 task to haiku (0.8x opus's time
    on paper); on harder work it retries or fails. A cost limit still may (the spec's example), and says so."""
    trusted = selector.select_model("Add user authentication with JWT tokens", complexity_score=75)
    assert trusted.name == "opus"
    haiku = next(a for a in trusted.alternatives if a["name"] == "haiku")
    assert haiku["estimated_time_minutes"] >= trusted.estimated_time_minutes
    with pytest.raises(RoutingError, match="time limit; closest is opus"):
        selector.select_model("Add user authentication with JWT tokens", complexity_score=75, time_limit=trusted.estimated_time_minutes - 1)
    assert selector.select_model("Add user authentication with JWT tokens", complexity_score=75, time_limit=trusted.estimated_time_minutes).name == "opus"


def test_the_trusted_tier_a_cost_limit_misses_is_never_shown_at_the_limit(selector: ModelSelector) -> None:
    """"sonnet would be ($0.09, 16 min) but misses the limits" beside a "$0.09" limit read as a contradiction."""
    sonnet = selector.select_model("Add a login page", complexity_score=33)
    limit = round(sonnet.estimated_cost - 0.0004, 4)
    choice = selector.select_model("Add a login page", complexity_score=33, cost_limit=limit)
    assert choice.name == "haiku"
    shown = choice.reasoning[0].split("sonnet would be ($", 1)[1].split(",", 1)[0]
    assert float(shown) > limit


def test_forced_model_still_reports_the_limits(selector: ModelSelector) -> None:
    choice = selector.select_model("Critical bug fix", complexity_score=20, model="opus", cost_limit=0.0001, time_limit=1)
    assert choice.name == "opus" and choice.forced
    assert not choice.meets_cost_limit and not choice.meets_time_limit
    weak = selector.select_model(TASK, complexity_score=95, model="haiku")
    assert any("above what haiku is trusted with" in line for line in weak.reasoning)


def test_forced_unknown_model_lists_the_known_ones(selector: ModelSelector) -> None:
    with pytest.raises(ConfigError) as err:
        selector.select_model(TASK, model="gpt-5")
    assert "haiku, sonnet, opus" in (err.value.hint or "")


@pytest.mark.parametrize(("kwargs", "text"), [({"cost_limit": -1}, "cannot be negative"), ({"time_limit": -5}, "cannot be negative"), ({"cost_limit": "cheap"}, "not a number"), ({"complexity_score": 150}, "0 to 100")])
def test_bad_arguments_are_config_errors(selector: ModelSelector, kwargs: dict, text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        selector.select_model(TASK, **kwargs)


def test_estimates_from_the_description_when_no_score_given(selector: ModelSelector) -> None:
    choice = selector.select_model("Fix typo in README")
    assert choice.complexity.complexity_level == "simple" and choice.name == "haiku"


def test_cost_optimisation_off_prefers_the_default_tier(write_config, tmp_project) -> None:
    write_config({"routing": {"cost_optimization": False, "default_model": "sonnet"}})
    choice = ModelSelector(Project(tmp_project)).select_model(TASK, complexity_score=10)
    assert choice.name == "sonnet"
    assert "cost optimisation is off" in choice.reasoning[0]


def test_cost_optimisation_off_falls_back_to_the_nearest_tier_below_the_default(write_config, tmp_project) -> None:
    write_config({"routing": {"cost_optimization": False, "default_model": "opus"}})
    project = Project(tmp_project)
    everything = ModelSelector(project).select_model(TASK, complexity_score=10)
    assert everything.name == "opus"
    opus = next(a["estimated_cost"] for a in everything.alternatives if a["name"] == "opus")
    choice = ModelSelector(project).select_model(TASK, complexity_score=10, cost_limit=opus * 0.99)
    assert choice.name == "sonnet"  # next to the default, not the cheapest
    assert "default tier opus skipped: over the limits" in choice.reasoning
    from buildrunner.routing.complexity_estimator import ComplexityEstimator

    assert ComplexityEstimator(project).estimate(TASK).recommended_model == "opus"  # estimate follows the same config


def test_capable_says_whether_the_pick_is_trusted_with_the_task(selector: ModelSelector, run_br) -> None:
    assert selector.select_model(TASK, complexity_score=65).capable
    assert not selector.select_model(TASK, complexity_score=65, cost_limit=0.10).capable
    assert not selector.select_model(TASK, complexity_score=95, model="haiku").capable
    out = run_br("routing", "select", "Redesign the billing, ledger and payments services with a zero-downtime migration", "--cost-limit", "0.08")
    assert out.returncode == 0 and "⚠️ Below the tier trusted with complexity" in out.stdout


def test_a_task_for_another_agent_is_priced_as_that_agent_runs_each_tier(selector: ModelSelector) -> None:
    """A Codex task's tiers are Codex's models at OpenAI's prices: a cap Claude's haiku misses can fit gpt-5.1-codex-mini."""
    from buildrunner.agents import get_agent
    from buildrunner.config import Config
    from buildrunner.routing.models import TIERS

    codex = get_agent("codex", Config())
    models = {tier: (codex.provider, codex.model_for(tier)) for tier in TIERS}
    claude_haiku = selector.select_model("Fix the typo", complexity_score=10).estimated_cost
    codex_pick = selector.select_model("Fix the typo", complexity_score=10, agent_models=models)
    assert codex_pick.model_id == "gpt-5.1-codex-mini" and codex_pick.estimated_cost < claude_haiku
    cap = (codex_pick.estimated_cost + claude_haiku) / 2
    assert selector.select_model("Fix the typo", complexity_score=10, cost_limit=cap, agent_models=models).name == "haiku"
    with pytest.raises(RoutingError) as refused:
        selector.select_model("Fix the typo", complexity_score=10, cost_limit=cap, cost_limit_name="the plan's max_cost")
    assert "raise the plan's max_cost to at least" in refused.value.hint


def test_a_cost_limit_just_under_the_cheapest_tier_is_told_apart_from_it(selector: ModelSelector) -> None:
    """"no model fits the $0.07 cost limit; closest is haiku at $0.07" read as a contradiction: both show the places that differ."""
    task = "Add a --verbose flag to the CLI"
    haiku = next(a for a in selector.select_model(task).alternatives if a["name"] == "haiku")["estimated_cost"]
    with pytest.raises(RoutingError) as refused:
        selector.select_model(task, cost_limit=haiku - 0.00005)
    message = str(refused.value)
    limit_text = message.split("fits the ", 1)[1].split(" cost limit", 1)[0]
    cost_text = message.split("closest is haiku at ", 1)[1].split(" ", 1)[0]
    assert limit_text != cost_text and float(limit_text.lstrip("$")) < float(cost_text.lstrip("$"))


@pytest.mark.parametrize("share", [0.5, 0.93, 0.999])
def test_the_closest_cost_a_limit_misses_is_never_shown_below_itself(selector: ModelSelector, share: float) -> None:
    """A reviewer read "closest is haiku at $0.07" for a $0.075 estimate, set the limit to $0.07 and was refused again."""
    task = "Rotate the encryption keys of every stored customer record without downtime"
    haiku = next(a for a in selector.select_model(task).alternatives if a["name"] == "haiku")["estimated_cost"]
    with pytest.raises(RoutingError) as refused:
        selector.select_model(task, cost_limit=haiku * share)
    shown = float(str(refused.value).split("closest is haiku at $", 1)[1].split(" ", 1)[0])
    assert shown >= haiku
    assert f"at least {shown:g}" in refused.value.hint  # the figure shown is the one to raise the limit to


@pytest.mark.parametrize("below", [0.0001, 0.0004, 0.002, 0.01])
def test_a_limit_just_under_the_closest_cost_is_never_shown_at_or_above_it(selector: ModelSelector, below: float) -> None:
    """A reviewer read "no model fits the $0.03 cost limit; closest is haiku at $0.0269" (the limit was $0.0268)."""
    task = "Document the public API"
    haiku = next(a for a in selector.select_model(task).alternatives if a["name"] == "haiku")["estimated_cost"]
    with pytest.raises(RoutingError) as refused:
        selector.select_model(task, cost_limit=haiku - below)
    message = str(refused.value)
    limit_text = message.split("fits the $", 1)[1].split(" cost limit", 1)[0]
    cost_text = message.split("closest is haiku at $", 1)[1].split(" ", 1)[0]
    assert float(limit_text) < float(cost_text)
