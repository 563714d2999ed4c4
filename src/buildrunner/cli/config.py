"""`br init` and `br config show`."""

from __future__ import annotations

import json
import os
import time
from typing import Annotated

import typer

from buildrunner.cli.common import FormatOption, ProjectOption, emit_json, project_for, stderr, stdout
from buildrunner.cli.groups import group_example, group_help
from buildrunner.paths import STATE_IGNORED

app = typer.Typer(help=group_help("config"), epilog=group_example("config"), no_args_is_help=True)

# What git should never see in .buildrunner/: the database (and its WAL files), logs, local exports.

def init(
    project: ProjectOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rewrite an existing config.json with the defaults (the old one is kept as config.json.bak).")] = False,
) -> None:
    """Create .buildrunner/config.json with the defaults, an example plan.yaml if there is no plan, and make git ignore the database and logs.

    Example: br init
    """
    from buildrunner.config import default_config_dict
    from buildrunner.parallel.plan import find_plan, starter_plan
    from buildrunner.paths import CONFIG_FILE_NAME, ProjectPaths, make_private_dir

    paths = ProjectPaths.discover(project) if project else ProjectPaths.discover()
    config_file = paths.state_dir / CONFIG_FILE_NAME
    err = stderr()
    make_private_dir(paths.state_dir)
    if config_file.exists() and not force:
        err.print(f"{paths.relative(config_file)} already exists (use --force to rewrite it with the defaults)")
    else:
        text = json.dumps(default_config_dict(), indent=2) + "\n"
        kept = ""
        if config_file.exists() and config_file.read_bytes() != text.encode():  # settings the user made are not thrown away
            backup = config_file.with_name(config_file.name + ".bak")
            if backup.exists():
                backup = config_file.with_name(f"{config_file.name}.bak.{int(time.time())}")
            os.replace(config_file, backup)
            kept = f" (the earlier one is kept as {paths.relative(backup)})"
        tmp = config_file.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(config_file)
        err.print(f"Wrote {config_file}{kept}")
    ignore = paths.state_dir / ".gitignore"
    have = ignore.read_text(encoding="utf-8", errors="surrogateescape") if ignore.is_file() else ""
    missing = [entry for entry in STATE_IGNORED if entry not in {line.strip() for line in have.splitlines()}]
    if missing:  # the user's own lines stay (a file they ignored must not become committable)
        ignore.write_text(have + ("\n" if have and not have.endswith("\n") else "") + "".join(f"{entry}\n" for entry in missing), encoding="utf-8", errors="surrogateescape")
    if find_plan(paths.root) is None:
        plan = paths.state_dir / "plan.yaml"
        plan.write_text(starter_plan(), encoding="utf-8")
        err.print(f"Wrote {plan} (an example plan: `br parallel start NAME` runs it)")
    err.print(f"Project root: {paths.root}")


@app.command("show")
def show(project: ProjectOption = None, fmt: FormatOption = "text") -> None:
    """Print the effective configuration, where each value came from, and which values differ from the defaults.

    Sources: "default", the config file, or the environment variable that set it. A value equal
    to its default shows as "default" even when the file repeats it (as `br init` writes them all).

    Example: br config show --format json
    """
    from buildrunner.store import database_url, redact_url

    ctx = project_for(project, reading=True)
    loaded = ctx.loaded
    database = redact_url(database_url(ctx.paths))
    tree, values = loaded.shown()
    if fmt == "json":
        emit_json(
            {
                "project_root": str(ctx.paths.root),
                "config_file": str(ctx.paths.config_file),
                "config_file_exists": ctx.paths.config_file.is_file(),
                "database": database,
                "config": tree,
                "sources": loaded.sources,
                "changed": {key: {"value": values[key], "default": default, "source": loaded.sources[key]} for key, default in loaded.changed.items()},
            }
        )
        return
    from buildrunner.cli.tables import Column, print_table

    out = stdout()
    out.print(f"Project root: {ctx.paths.root}", markup=False)
    exists = "" if ctx.paths.config_file.is_file() else " (not present: defaults in use)"
    out.print(f"Config file:  {ctx.paths.config_file}{exists}", markup=False)
    out.print(f"Database:     {database}", markup=False)
    count = len(loaded.changed)
    out.print(f"Changed:      {count} of {len(values)} values differ from the defaults" if count else "Changed:      none (every value is the default)", markup=False)
    out.print()
    rows = []
    for key, source in loaded.sources.items():
        if key in loaded.changed:
            origin = source if source.startswith("env ") else ctx.paths.relative(source)
            shown = f"{origin} (default {json.dumps(loaded.changed[key])})"
        else:
            shown = "default"
        rows.append([key, json.dumps(values[key]), shown])
    print_table(out, [Column("Key", key=True), Column("Value"), Column("Source")], rows, box=None, pad_edge=False)
