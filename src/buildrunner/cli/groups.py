"""The command groups of `br`: where each lives, its one-line help and an example, the one place they are written.

`br --help` lists the groups from this table without importing them; a group's module is
imported only when one of its commands runs.
"""

from __future__ import annotations

GROUPS: dict[str, tuple[str, str, str]] = {
    "config": ("buildrunner.cli.config", "Show the effective configuration.", "br config show --format json"),
    "security": (
        "buildrunner.cli.security", "Scan code for leaked secrets and SQL injection; block them in a git pre-commit hook.",
        "br security scan --directory src --format sarif > findings.sarif",
    ),
    "routing": (
        "buildrunner.cli.routing", "Estimate task complexity, pick the cheapest capable model within limits, track costs against budgets.",
        'br routing select "Refactor database queries" --cost-limit 0.05',
    ),
    "telemetry": ("buildrunner.cli.telemetry", "Task events, success rate, latency, cost, alerts and exports.", "br telemetry summary --hours 168"),
    "parallel": (
        "buildrunner.cli.parallel", "Run a plan of tasks on several worker processes, with retries, control and a live dashboard.",
        "br parallel start sprint-42 --config plan.yaml --workers 4 --watch",
    ),
    "quality": ("buildrunner.cli.quality", "Grade a codebase against a quality gate.", "br quality check --strict"),
    "gaps": ("buildrunner.cli.gaps", "List what is missing or unfinished in a codebase.", "br gaps analyze --severity high"),
}


def group_help(name: str) -> str:
    return GROUPS[name][1]


def group_example(name: str) -> str:
    """The line under a group's own `--help` (typer's epilog)."""
    return f"Example: {GROUPS[name][2]}"
