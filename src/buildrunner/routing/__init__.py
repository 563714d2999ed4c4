"""BuildRunner routing: complexity estimation, model selection, cost tracking and budgets.

Classes are imported on first use (PEP 562), so importing a submodule stays cheap.
"""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
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
        "TaskOutcome": "outcomes",
        "LadderStep": "outcomes",
        "record_outcome": "outcomes",
        "load_outcomes": "outcomes",
    },
)
