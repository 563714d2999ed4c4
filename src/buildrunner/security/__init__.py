"""BuildRunner security: secret scanning, SQL-injection detection, git hooks.

Exports are loaded on first use (PEP 562) so importing a submodule stays cheap.
"""

from buildrunner._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "SecretScanner": "buildrunner.security.scanner",
        "SecretMatch": "buildrunner.security.scanner",
        "ScanReport": "buildrunner.security.report",
        "SQLInjectionDetector": "buildrunner.security.sql_detector",
        "SQLFinding": "buildrunner.security.sql_detector",
        "HookManager": "buildrunner.security.hooks",
        "mask_value": "buildrunner.security.masking",
        "mask_secrets": "buildrunner.security.masking",
    },
)
