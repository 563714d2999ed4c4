"""The `security` section of the config."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from buildrunner.settings_base import Section


class RuleSettings(Section):
    """A user rule, same shape as a `[[rule]]` in the shipped `rules.toml`."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    regex: str = Field(min_length=1)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    entropy: Optional[float] = Field(default=None, ge=0, le=8)
    allow: list[str] = Field(default_factory=list)
    placeholders: bool = True
    severity: Literal["high", "medium", "low"] = "high"
    generic: bool = False
    keep: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list, description="RE2 regexes on the file's path: the rule runs only on files one matches.")
    decoded: str = Field("", description="RE2 regex: the secret is base64 and counts only when it decodes to text this matches.")
    mask_shows: str = Field("", description="RE2 regex: a masked value shows the part of the secret it matches (no secret material).")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        _check_re2(value)
        return value

    _allow_compiles = field_validator("allow", "keep", "paths")(classmethod(lambda cls, value: _check_all_re2(value)))

    @field_validator("decoded", "mask_shows")
    @classmethod
    def _optional_regex_compiles(cls, value: str) -> str:
        if value:
            _check_re2(value)
        return value


def _check_all_re2(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        _check_re2(pattern)
    return patterns


def _check_re2(pattern: str) -> None:
    """Reject a pattern RE2 cannot compile, saying why (RE2 keeps every scan linear-time)."""
    import re2  # re2 and security.rules only when a config sets patterns or rule ids: every validation imports this module

    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern.encode(), options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not a valid RE2 regex ({reason}; RE2 has no backreferences or lookaround)") from None


class SecuritySettings(Section):
    enforce_hooks: bool = True
    whitelist_file: str = ".buildrunner/security/whitelist.txt"
    rules: list[RuleSettings] = Field(default_factory=list, description="Extra secret rules, added after the shipped ones.")
    disabled_rules: list[str] = Field(default_factory=list, description="Shipped rule ids to switch off.")
    placeholders: list[str] = Field(
        default_factory=list, description="Extra RE2 regexes for values that are placeholders, never secrets (added to the shipped [filters])."
    )
    max_file_size_mb: float = Field(default=5.0, gt=0, le=4096, description="Bigger files are skipped with a note.")
    block_severity: Literal["high", "medium", "low"] = Field(
        "medium", description="An agent task's attempt fails its security check on findings at or above this severity."
    )
    parallel_min_mb: float = Field(default=8.0, ge=0, description="Directory scans this big or bigger use a process per core.")
    workers: Optional[int] = Field(default=None, ge=1, le=256, description="Processes for big scans (default: the CPU count).")

    _placeholders_compile = field_validator("placeholders")(classmethod(lambda cls, value: _check_all_re2(value)))

    @field_validator("disabled_rules")
    @classmethod
    def _shipped_rule_ids(cls, value: list[str]) -> list[str]:
        if value:
            from buildrunner.security.rules import unknown_rule

            problem = unknown_rule(value)
            if problem:
                raise ValueError(problem)
        return value
