"""BuildRunner gaps: what is unfinished or risky in the code, each finding with file:line and why.

Exports are loaded on first use (PEP 562) so importing a submodule stays cheap.
"""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "GapAnalyzer": "buildrunner.gaps.analyzer",
        "GapReport": "buildrunner.gaps.analyzer",
        "Gap": "buildrunner.gaps.findings",
    },
)
