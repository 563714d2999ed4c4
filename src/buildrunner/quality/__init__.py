"""BuildRunner quality: the quality gate (scores from real measurements against thresholds).

Exports are loaded on first use (PEP 562) so importing a submodule stays cheap.
"""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "QualityGate": "buildrunner.quality.gate",
        "QualityReport": "buildrunner.quality.gate",
        "CategoryScore": "buildrunner.quality.gate",
    },
)
