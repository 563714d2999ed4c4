"""JSON rendering of a security report (stable keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from buildrunner.security.checks import SecurityReport


def as_dict(report: "SecurityReport") -> dict[str, Any]:
    from buildrunner.cli.common import jsonable

    return {
        "target": report.target,
        "clean": report.clean,
        "secrets": jsonable(report.secrets),
        "sql_injection": jsonable(report.sql_injection),
        "skipped": jsonable(report.skipped),
        "files_scanned": report.files_scanned,
        "bytes_scanned": report.bytes_scanned,
        "seconds": round(report.seconds, 3),
    }


def render(report: "SecurityReport") -> None:
    from buildrunner.cli.common import emit_json

    emit_json(as_dict(report))
