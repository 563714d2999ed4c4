"""The exception hierarchy and the exit-code table: the one place both live.

Library code raises these; the CLI's single error handler turns any of them into
one line on stderr and ``exc.exit_code``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The spec's exit-code table."""

    OK = 0
    GENERAL = 1
    CONFIG = 2
    SECURITY_ISSUES = 3
    QUALITY_GATE = 4
    API = 5
    NOT_FOUND = 6


# Not in the spec's table: Ctrl-C, 128 + SIGINT, as shells report a command it stopped; SIGTERM (a CI runner
# cancelling a job) likewise, 128 + SIGTERM.
INTERRUPTED_EXIT = 130
TERMINATED_EXIT = 143


class Terminated(BaseException):
    """SIGTERM reached a command that waits (`start --wait`), raised from its handler: ended like Ctrl-C, with 143."""


class BuildRunnerError(Exception):
    """Base exception for all BuildRunner errors."""

    exit_code: ExitCode = ExitCode.GENERAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(BuildRunnerError):
    """Bad configuration: a config file, an environment variable, a plan or an option value."""

    exit_code = ExitCode.CONFIG


class NotFoundError(BuildRunnerError):
    """A file, directory, session or task named by the user does not exist."""

    exit_code = ExitCode.NOT_FOUND


class SecurityError(BuildRunnerError):
    """Raised when security issues are detected."""

    exit_code = ExitCode.SECURITY_ISSUES


class RoutingError(BuildRunnerError):
    """Raised when model routing fails (e.g. no model meets the limits)."""


class TelemetryError(BuildRunnerError):
    """Raised when telemetry operations fail."""


class ParallelError(BuildRunnerError):
    """Raised when parallel operations fail."""


class QualityGateError(BuildRunnerError):
    """Raised when a quality gate category is below its threshold."""

    exit_code = ExitCode.QUALITY_GATE


class APIError(BuildRunnerError):
    """A model API or coding agent call failed."""

    exit_code = ExitCode.API


class StoreError(BuildRunnerError):
    """The database could not be opened, migrated or written."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (a lost connection, a lock held too long): worth retrying."""


__all__ = [
    "APIError",
    "BuildRunnerError",
    "ConfigError",
    "ExitCode",
    "NotFoundError",
    "ParallelError",
    "QualityGateError",
    "RoutingError",
    "SecurityError",
    "StoreError",
    "StoreUnavailable",
    "TelemetryError",
]
