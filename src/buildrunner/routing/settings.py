"""The `routing` section of the config."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

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


class RoutingSettings(Section):
    default_model: Tier = "sonnet"
    cost_optimization: bool = True
    cost_limits: CostLimits = Field(default_factory=CostLimits)
    models: ModelTiers = Field(default_factory=ModelTiers)
    ai_estimation: bool = Field(False, description="ask a model to estimate complexity when ANTHROPIC_API_KEY is set")
    ai_model: Tier = "haiku"
    ai_timeout_s: float = Field(20.0, gt=0, le=300)
