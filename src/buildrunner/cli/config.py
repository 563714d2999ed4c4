"""`br init` and `br config show`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from buildrunner.cli.common import FormatOption, ProjectOption, emit_json, project_for, stderr, stdout
from buildrunner.cli.groups import group_example, group_help

app = typer.Typer(help=group_help("config"), epilog=group_example("config"), no_args_is_help=True)


def init(
    project: ProjectOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rewrite an existing config.json with the defaults (the old one is kept as config.json.bak).")] = False,
) -> None:
    """Create .buildrunner/config.json with the defaults, an example plan.yaml if there is no plan, and make git ignore the database and logs.

    Example: br init
    """
    from buildrunner.project_setup import init_project

    report = init_project(project, force=force)
    err = stderr()
    shown = report.config_file.relative_to(report.root) if report.config_file.is_relative_to(report.root) else report.config_file
    if not report.config_written:
        err.print(f"{shown} already exists (use --force to rewrite it with the defaults)")
    else:
        kept = f" (the earlier one is kept as {report.backup.relative_to(report.root)})" if report.backup else ""
        err.print(f"Wrote {report.config_file}{kept}")
    if report.plan_file is not None:
        err.print(f"Wrote {report.plan_file} (an example plan: `br parallel start NAME` runs it)")
    err.print(f"Project root: {report.root}")


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
