"""BuildRunner security: secret scanning, SQL-injection detection, git hooks.

Exports are loaded on first use (PEP 562) so importing a submodule stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SecretScanner": "buildrunner.security.scanner",
    "SecretMatch": "buildrunner.security.scanner",
    "ScanReport": "buildrunner.security.scanner",
    "SQLInjectionDetector": "buildrunner.security.sql_detector",
    "SQLFinding": "buildrunner.security.sql_detector",
    "HookManager": "buildrunner.security.hooks",
    "mask_value": "buildrunner.security.masking",
    "mask_secrets": "buildrunner.security.masking",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'buildrunner.security' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
