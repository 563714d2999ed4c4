"""The `security` section of the config."""

from __future__ import annotations

from buildrunner.settings_base import Section


class SecuritySettings(Section):
    enforce_hooks: bool = True
    whitelist_file: str = ".buildrunner/security/whitelist.txt"
