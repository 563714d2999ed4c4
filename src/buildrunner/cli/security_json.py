"""JSON rendering of a security report (stable keys, documented in the README).

A check that did not run is `null` (never an empty list that would read as "none
found"); every file not read is in `not_scanned` (and, with binaries and SQL notes,
in `skipped`), every file the SQL analysis gave up on in `not_analysed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from buildrunner.security.checks import SecurityReport


def as_dict(report: "SecurityReport") -> dict[str, Any]:
    from buildrunner.cli.common import jsonable

    return {
        "target": report.target,
        "clean": report.clean,
        "passed": report.passed,
        "checked": {"secrets": report.checked_secrets, "sql_injection": report.checked_sql},
        "secrets": _with_commits(jsonable(report.secrets), report) if report.checked_secrets else None,
        "sql_injection": jsonable(report.sql_injection) if report.checked_sql else None,
        "not_scanned": jsonable(report.not_scanned),
        "not_analysed": jsonable(report.not_analysed),
        "skipped": jsonable(report.skipped),
        "min_severity": report.min_severity,
        "below_min_severity": report.below_min_severity,
        "files_scanned": report.files_scanned,
        "bytes_scanned": report.bytes_scanned,
        "seconds": round(report.seconds, 3),
    }


def _with_commits(secrets: list[dict[str, Any]], report: "SecurityReport") -> list[dict[str, Any]]:
    """A history's findings name the commit that added each (`br security history`)."""
    if report.introduced_in:
        for secret in secrets:
            secret["commit"] = report.introduced_in.get(secret["fingerprint"])
    return secrets


def render(report: "SecurityReport") -> None:
    from buildrunner.cli.common import emit_json

    emit_json(as_dict(report))
