"""BuildRunner routing: complexity estimation, model selection, cost tracking and budgets.

Classes are imported on first use (PEP 562), so importing a submodule stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "ComplexityEstimator": "complexity_estimator",
    "ComplexityFactor": "complexity_estimator",
    "ComplexityResult": "complexity_estimator",
    "ModelSelector": "model_selector",
    "ModelSelection": "model_selector",
    "CostTracker": "cost_tracker",
    "CostRecord": "cost_tracker",
    "CostSummary": "cost_tracker",
    "ModelInfo": "models",
    "catalogue": "models",
    "cost_of": "models",
    "resolve_model": "models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
