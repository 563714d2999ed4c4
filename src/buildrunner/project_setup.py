"""`br init`: a project's `.buildrunner/` folder with the default config, git told what to ignore, and an example plan."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from buildrunner.config import default_config_dict
from buildrunner.parallel.plan import find_plan, starter_plan
from buildrunner.paths import CONFIG_FILE_NAME, STATE_IGNORED, ProjectPaths, atomic_write_text, make_private_dir


@dataclass
class InitReport:
    """What `init_project` did: each file it wrote, what it kept, and where the project's root is."""

    root: Path
    config_file: Path
    config_written: bool  # False: one existed and `force` was not given
    backup: Path | None = None  # the config the user had, kept when `force` rewrote it with other settings
    ignored: list[str] = field(default_factory=list)  # entries added to .buildrunner/.gitignore
    plan_file: Path | None = None  # the example plan, written when the project had none


def init_project(start: Path | None = None, *, force: bool = False) -> InitReport:
    """Set up the project found from `start`: write the default config (an existing one only with `force`, keeping it
    as config.json.bak when the user changed it), add the state files git must never see to `.buildrunner/.gitignore`
    (the user's own lines stay), and write an example plan when there is none."""
    paths = ProjectPaths.discover(start) if start else ProjectPaths.discover()
    config_file = paths.state_dir / CONFIG_FILE_NAME
    make_private_dir(paths.state_dir)
    report = InitReport(paths.root, config_file, config_written=not config_file.exists() or force)
    if report.config_written:
        text = json.dumps(default_config_dict(), indent=2) + "\n"
        if config_file.exists() and config_file.read_bytes() != text.encode():  # settings the user made are not thrown away
            backup = config_file.with_name(config_file.name + ".bak")
            if backup.exists():
                backup = config_file.with_name(f"{config_file.name}.bak.{int(time.time())}")
            os.replace(config_file, backup)
            report.backup = backup
        atomic_write_text(config_file, text)
    ignore = paths.state_dir / ".gitignore"
    have = ignore.read_text(encoding="utf-8", errors="surrogateescape") if ignore.is_file() else ""
    report.ignored = [entry for entry in STATE_IGNORED if entry not in {line.strip() for line in have.splitlines()}]
    if report.ignored:  # the user's own lines stay (a file they ignored must not become committable)
        atomic_write_text(ignore, have + ("\n" if have and not have.endswith("\n") else "") + "".join(f"{entry}\n" for entry in report.ignored))
    if find_plan(paths.root) is None:
        report.plan_file = paths.state_dir / "plan.yaml"
        atomic_write_text(report.plan_file, starter_plan())
    return report
