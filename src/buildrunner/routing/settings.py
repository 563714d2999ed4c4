"""The `routing` section of the config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from buildrunner.settings_base import Section


class CostLimits(Section):
    """Budgets in USD; 0 means no limit."""

    daily: float = Field(10.00, ge=0)
    weekly: float = Field(50.00, ge=0)
    monthly: float = Field(200.00, ge=0)


class RoutingSettings(Section):
    default_model: Literal["haiku", "sonnet", "opus"] = "sonnet"
    cost_optimization: bool = True
    cost_limits: CostLimits = Field(default_factory=CostLimits)
