"""The command groups of `br`: where each lives and its one-line help, the one place both are written.

`br --help` lists the groups from this table without importing them; a group's module is
imported only when one of its commands runs.
"""

from __future__ import annotations

GROUPS: dict[str, tuple[str, str]] = {
    "config": ("buildrunner.cli.config", "Show the effective configuration."),
    "security": ("buildrunner.cli.security", "Scan code for leaked secrets and SQL injection; block them in a git pre-commit hook."),
    "routing": ("buildrunner.cli.routing", "Estimate task complexity, pick the cheapest capable model, track costs against budgets."),
    "telemetry": ("buildrunner.cli.telemetry", "Task events, success rate, latency, cost, alerts and exports."),
    "parallel": ("buildrunner.cli.parallel", "Run a plan of tasks on several worker processes, with retries, control and a live dashboard."),
    "quality": ("buildrunner.cli.quality", "Grade a codebase against a quality gate."),
    "gaps": ("buildrunner.cli.gaps", "List what is missing or unfinished in a codebase."),
}


def group_help(name: str) -> str:
    return GROUPS[name][1]
