"""SARIF 2.1.0 rendering of a security report, for code-scanning UIs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_from_bytes

if TYPE_CHECKING:
    from buildrunner.security.checks import SecurityReport
    from buildrunner.security.report import SkippedFile

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning ranks alerts by a rule's `security-severity` (9+ critical, 7-8.9 high, 4-6.9 medium, below low).
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.5", "low": "3.0"}
TAGS = {"secret": ("security", "secret", "external/cwe/cwe-798"), "sql": ("security", "sql-injection", "external/cwe/cwe-89")}


def _rule(rule_id: str, description: str, severity: str, kind: str, help_text: str) -> dict[str, Any]:
    """A reportingDescriptor: `name` is the id in PascalCase (SARIF wants a readable name that is not the id)."""
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.replace("-", "_").split("_")),
        "shortDescription": {"text": description},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVELS.get(severity, "error")},
        "properties": {"tags": list(TAGS[kind]), "security-severity": SECURITY_SEVERITY.get(severity, "8.0")},
    }


def _location(path: str, line: int, column: int = 1) -> dict[str, Any]:
    # Paths inside the project are relative to its root; others are absolute file URIs. Either way a URI:
    # a space, '#' or '%' is percent-encoded, as is each byte of a name that is not UTF-8.
    if Path(path).is_absolute():
        artifact = {"uri": Path(path).as_uri()}
    else:
        artifact = {"uri": quote_from_bytes(os.fsencode(path)), "uriBaseId": "%SRCROOT%"}
    return {
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": max(line, 1), "startColumn": max(column, 1)},
        }
    }


def _notification(skipped: "SkippedFile") -> dict[str, Any]:
    """A file not scanned is a warning, a binary or a SQL analysis note is a note; both name the file."""
    text = skipped.reason if skipped.reason.startswith("not analysed") else f"{'not scanned' if skipped.not_scanned else 'skipped'}: {skipped.reason}"
    return {
        "level": "warning" if skipped.not_scanned else "note",
        "message": {"text": f"{skipped.path}: {text}"},
        "locations": [_location(skipped.path, 1)],
        "descriptor": {"id": skipped.kind},
    }


def as_sarif(report: "SecurityReport") -> dict[str, Any]:
    from buildrunner import __version__
    from buildrunner.security.checks import SEVERITY_RANK

    rules: dict[str, dict[str, Any]] = {}
    results = []
    # A rule's severity is its most severe finding's (one SQL rule id covers medium and high findings).
    worst: dict[str, str] = {}
    for rule_id, severity in [(m.secret_type, m.severity) for m in report.secrets] + [(f.rule_id, f.severity) for f in report.sql_injection]:
        if SEVERITY_RANK.get(severity, 3) > SEVERITY_RANK.get(worst.get(rule_id, "low"), 3):
            worst[rule_id] = severity
    for m in report.secrets:
        rules.setdefault(m.secret_type, _rule(m.secret_type, m.description or m.secret_type, worst.get(m.secret_type, m.severity), "secret", "Remove the secret, rotate it, and read it from the environment or a secret store."))
        results.append(
            {
                "ruleId": m.secret_type,
                "level": LEVELS.get(m.severity, "error"),
                "message": {"text": f"{m.description or m.secret_type}: {m.masked_value}"},
                "locations": [_location(m.file_path, m.line_number, m.column)],
                "partialFingerprints": {"buildrunner/v1": m.fingerprint},
                **({"properties": {"commit": report.introduced_in[m.fingerprint]}} if m.fingerprint in report.introduced_in else {}),
            }
        )
    for f in report.sql_injection:
        rules.setdefault(f.rule_id, _rule(f.rule_id, "SQL built from non-constant values", worst.get(f.rule_id, f.severity), "sql", "Use parameterised queries; take identifiers from a fixed allowlist."))
        results.append(
            {
                "ruleId": f.rule_id,
                "level": LEVELS.get(f.severity, "warning"),
                "message": {"text": f"{f.description}. Fix: {f.recommendation}"},
                "locations": [_location(f.file_path, f.line_number)],
                "partialFingerprints": {"buildrunner/v1": f.fingerprint},
            }
        )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "BuildRunner", "version": __version__, "rules": list(rules.values())}},
                "results": results,
                "invocations": [
                    {
                        # Successful only when every file that had to be read was read.
                        "executionSuccessful": not report.not_scanned,
                        "toolExecutionNotifications": [_notification(s) for s in report.skipped],
                    }
                ],
            }
        ],
    }


def render(report: "SecurityReport") -> None:
    from buildrunner.cli.common import emit_json

    emit_json(as_sarif(report))
