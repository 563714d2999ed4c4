"""The `br` entry point: the root Typer app, its groups, and the one error handler.

Help is click's plain formatter (`rich_markup_mode=None` on every command): Typer's Rich help
imports Markdown, Pygments-style tracebacks and pretty-printing, about 100 ms of every
`--help` with today's Typer and Rich. Usage errors are turned into one line here, like every
other error, instead of Typer's boxed panel.
"""

from __future__ import annotations

import errno
import os
import sys
from functools import lru_cache
from importlib import import_module
from typing import Annotated

import typer
import typer.main
from typer.core import TyperArgument, TyperGroup

from buildrunner import __version__
from buildrunner.cli import config as config_cli
from buildrunner.cli.coercion import click, plain_conversion
from buildrunner.cli.common import ProjectOption
from buildrunner.cli.groups import GROUPS
from buildrunner.errors import INTERRUPTED_EXIT, TERMINATED_EXIT, ExitCode, Terminated

HELP_OPTION_NAMES = ["-h", "--help"]


class LazyRoot(TyperGroup):
    """The root group: lists the groups from `GROUPS` and imports a group's module only to run it.

    While `br --help` is being rendered, a group is stood in for by a command carrying only its
    name and help, so listing them costs nothing; every other lookup gets the real group.
    """

    _listing = False

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        plain_conversion(self, HELP_OPTION_NAMES)  # here, not in __init__: Typer adds the completion options after building the group
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *GROUPS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in GROUPS:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperGroup(name=cmd_name, help=GROUPS[cmd_name][1])
        return _load_group(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _plain_help(command: click.Command) -> click.Command:
    """`command` and every command under it render help with click's formatter (see the module doc), arguments
    named as the spec names them (TASK_DESCRIPTION, not newer Typer's {task_description})."""
    command.rich_markup_mode = None  # type: ignore[attr-defined]
    for param in command.params:
        if param.metavar is None and isinstance(param, TyperArgument):
            param.metavar = param.name.upper() + ("..." if param.nargs == -1 else "") if param.name else None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)
    return command


@lru_cache(maxsize=None)
def _load_group(name: str) -> click.Command:
    module = import_module(GROUPS[name][0])
    group = typer.main.get_group(module.app)
    group.name = name
    return plain_conversion(_plain_help(group), HELP_OPTION_NAMES)


app = typer.Typer(
    name="br",
    cls=LazyRoot,
    help="BuildRunner: safe, cheap and visible AI-assisted development.\n\n"
    "Example: br security scan --directory src/ (in another folder, as with git: br -C ../api security scan)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"br {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[  # a plain bool flag: Typer 0.29 then needs no pydantic TypeAdapter for it on every command
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    project: ProjectOption = None,
) -> None:
    """BuildRunner: safe, cheap and visible AI-assisted development.

    Example: br security scan --directory src/
    """


app.command("init")(config_cli.init)


def _fail(message: str, code: int) -> None:
    from buildrunner.cli.common import printable_path, stderr

    # one line, whatever it quotes (a file name with a newline or an escape code cannot forge a line)
    stderr().print(f"[bold red]error:[/] {printable_path(message)}", markup=True, highlight=False)
    sys.exit(code)


def usage_line(exc: click.ClickException) -> str:
    """A usage error (bad option, missing argument, unknown command) as one line naming what to run for help."""
    message = " ".join(line.strip() for line in exc.format_message().splitlines() if line.strip())
    message = message.replace(": Value error, ", ": ")  # newer Typer checks Literal choices with pydantic, which prefixes this
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "br"
    params = {p.name for p in ctx.command.params} if ctx is not None else set()
    if "task_description" in params and "unexpected extra argument" in message.lower():  # words of an unquoted description
        return f'{message} (quote the task: {path} "Fix the typo in the README")'
    option = getattr(exc, "option_name", "") or ""
    if "task_description" in params and option.startswith("-") and any(c.isspace() for c in option):  # a pasted list: "- item"
        return f"a task that starts with '-' is read as an option: put -- before it ({path} -- \"- first item\") or pipe it to {path} -"
    return f"{message} (see `{path} --help`)"


# Write failures that are the machine's, not a bug of ours: said in one line, without "unexpected".
_FULL_OR_BROKEN = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)


def run() -> None:
    """Run `br`; turn any error into one line on stderr and the spec's exit code."""
    try:
        code = app(prog_name="br", standalone_mode=False)
    except KeyboardInterrupt:
        _fail("interrupted", INTERRUPTED_EXIT)
    except Terminated:
        _fail("terminated", TERMINATED_EXIT)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except click.ClickException as exc:
        from rich.markup import escape

        if type(exc).__name__ == "NoArgsIsHelpError":  # `br` or `br parallel` alone: their help, as --help shows it
            sys.stdout.write(exc.format_message() + "\n")
            sys.exit(0)
        _fail(escape(usage_line(exc)), exc.exit_code)
    except typer.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # Ctrl-C, as some Typer releases report it
            _fail("interrupted", INTERRUPTED_EXIT)
        _fail("aborted", 1)
    except Exception as exc:
        from rich.markup import escape

        from buildrunner.errors import BuildRunnerError

        if isinstance(exc, BuildRunnerError):
            _fail(escape(str(exc)), int(exc.exit_code))
        if isinstance(exc, OSError) and exc.errno in _FULL_OR_BROKEN and not os.environ.get("BR_DEBUG"):
            where = f"{exc.filename}: " if exc.filename else "writing the output: "  # no file name: standard output
            _fail(escape(f"{where}{exc.strerror} (free some space, or send the output somewhere else)"), int(ExitCode.GENERAL))
        if os.environ.get("BR_DEBUG"):
            raise
        _fail(
            f"unexpected {type(exc).__name__}: {escape(str(exc).splitlines()[0] if str(exc) else '')} "
            "(run with BR_DEBUG=1 for the traceback)",
            int(ExitCode.GENERAL),
        )
    if code == INTERRUPTED_EXIT:  # Ctrl-C, as newer Typer releases report it: said, not a silent exit
        _fail("interrupted", INTERRUPTED_EXIT)
    sys.exit(code if isinstance(code, int) else 0)
