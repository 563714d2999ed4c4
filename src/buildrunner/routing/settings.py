"""The `routing` section of the config."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from buildrunner.routing.levels import top_of
from buildrunner.settings_base import Section

Tier = Literal["haiku", "sonnet", "opus"]


class CostLimits(Section):
    """Budgets in USD; 0 means no limit."""

    daily: float = Field(10.00, ge=0)
    weekly: float = Field(50.00, ge=0)
    monthly: float = Field(200.00, ge=0)


class TierSettings(Section):
    """One tier: the concrete model behind it and what it is trusted with.

    Prices left unset come from genai-prices; set them to pin a negotiated rate.
    """

    model_id: str = Field(min_length=1)
    max_complexity: int = Field(ge=0, le=100, description="highest complexity score this tier is trusted with")
    typical_latency_ms: float = Field(gt=0, description="used until cost records hold observed latencies")
    time_factor: float = Field(1.0, gt=0, description="task time relative to the sonnet tier")
    input_per_mtok: Optional[float] = Field(None, ge=0)
    output_per_mtok: Optional[float] = Field(None, ge=0)
    cache_read_per_mtok: Optional[float] = Field(None, ge=0)
    cache_write_per_mtok: Optional[float] = Field(None, ge=0)


def _tier(model_id: str, max_complexity: int, latency: float, time_factor: float) -> TierSettings:
    return TierSettings(model_id=model_id, max_complexity=max_complexity, typical_latency_ms=latency, time_factor=time_factor)


class ModelTiers(Section):
    """Tiers from least to most capable (and expensive)."""

    haiku: TierSettings = Field(default_factory=lambda: _tier("claude-haiku-4-5", top_of("simple"), 500, 0.8))
    sonnet: TierSettings = Field(default_factory=lambda: _tier("claude-sonnet-4-5", top_of("moderate"), 1000, 1.0))
    opus: TierSettings = Field(default_factory=lambda: _tier("claude-opus-4-5", 100, 2000, 1.25))

    @model_validator(mode="after")
    def _ordered(self) -> "ModelTiers":
        """A cheaper tier trusted with more than a more capable one would take the hard tasks from it."""
        limits = [(t, getattr(self, t).max_complexity) for t in ("haiku", "sonnet", "opus")]
        for (cheap, low), (capable, high) in zip(limits, limits[1:]):
            if low > high:
                raise ValueError(f"{cheap}.max_complexity ({low}) is above {capable}.max_complexity ({high}): a cheaper tier cannot be trusted with more")
        return self


COST_SCALE_LIMIT = 10_000.0  # a cost scale is a positive factor below this
# A calibrated signal weight is within this many points either way (the score runs 0-100; the learned vocabulary's weight
# is points per difficulty level), and a calibrated base within the score's range twice over.
WEIGHT_LIMIT = 200.0


class Calibration(Section):
    """Written by `br routing calibrate` when thresholds fitted to the project's outcomes did better on
    held-out outcomes than the ones in use, or cost estimates scaled to its attempts came closer to what held-out
    attempts cost; delete the key to go back to the defaults."""

    fitted_at: str = Field(min_length=1, description="when it was fitted (UTC, ISO 8601)")
    outcomes: int = Field(ge=0, description="how many finished tasks it was fitted on")
    max_complexity: dict[Tier, int] = Field(description="highest score each tier is trusted with; overrides models.<tier>.max_complexity")
    weights: dict[str, float] = Field(default_factory=dict, description="refitted signal weights (empty: the shipped ones)")
    base: Optional[float] = Field(None, description="refitted base score (None: the shipped one)")
    cost_scale: dict[Tier, float] = Field(
        default_factory=dict,
        description="what a task's attempts on each tier really cost over the token estimate at its score (the median over the project's attempts); cost estimates are multiplied by it",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> "Calibration":
        for tier, value in self.max_complexity.items():
            if not 0 <= value <= 100:
                raise ValueError(f"max_complexity.{tier} must be from 0 to 100")
        ordered = [self.max_complexity[t] for t in ("haiku", "sonnet", "opus") if t in self.max_complexity]
        if ordered != sorted(ordered):
            raise ValueError("max_complexity must not fall from a cheaper tier to a more capable one")
        for tier, scale in self.cost_scale.items():
            if not 0 < scale < COST_SCALE_LIMIT:
                raise ValueError(f"cost_scale.{tier} must be a positive factor (1: the estimates as they are)")
        for name, weight in self.weights.items():
            if not -WEIGHT_LIMIT <= weight <= WEIGHT_LIMIT:  # NaN fails too
                raise ValueError(f"weights.{name} = {weight} must be from {-WEIGHT_LIMIT:g} to {WEIGHT_LIMIT:g} points")
        if self.base is not None and not -WEIGHT_LIMIT <= self.base <= WEIGHT_LIMIT:
            raise ValueError(f"base = {self.base} must be from {-WEIGHT_LIMIT:g} to {WEIGHT_LIMIT:g}")
        return self

    def summary(self) -> str:
        """One line for `estimate` and `select`."""
        parts = [name for name, fitted in (("thresholds", self.max_complexity), ("signal weights", self.weights), ("attempt costs", self.cost_scale)) if fitted]
        what = f"{', '.join(parts[:-1])} and {parts[-1]}" if len(parts) > 1 else (parts or ["nothing"])[0]
        return f"{what} calibrated {self.fitted_at} on {self.outcomes} outcomes"


class RoutingSettings(Section):
    default_model: Tier = "sonnet"
    cost_optimization: bool = True
    cost_limits: CostLimits = Field(default_factory=CostLimits)
    models: ModelTiers = Field(default_factory=ModelTiers)
    ai_estimation: bool = Field(False, description="ask a model to estimate complexity when ANTHROPIC_API_KEY is set")
    ai_model: Tier = "haiku"
    ai_timeout_s: float = Field(20.0, gt=0, le=300)
    code_reach: bool = Field(True, description="look up the project code a description names: how many source files use it")
    calibration: Optional[Calibration] = Field(None, description="written by `br routing calibrate`")
