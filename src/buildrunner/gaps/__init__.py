"""BuildRunner gaps: what is unfinished or risky in the code, each finding with file:line and why.

Classes are imported on first use (PEP 562), so importing a submodule stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "GapAnalyzer": "analyzer",
    "GapReport": "analyzer",
    "Gap": "findings",
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
