"""The `br` entry point: the root Typer app, its groups, and the one error handler."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from buildrunner import __version__
from buildrunner.cli import config as config_cli
from buildrunner.cli import gaps, parallel, quality, routing, security, telemetry

app = typer.Typer(
    name="br",
    help="BuildRunner: safe, cheap and visible AI-assisted development.\n\n"
    "Example: br security scan --directory src/",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"br {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """BuildRunner: safe, cheap and visible AI-assisted development.

    Example: br security scan --directory src/
    """


app.command("init")(config_cli.init)
app.add_typer(config_cli.app, name="config")
app.add_typer(security.app, name="security")
app.add_typer(routing.app, name="routing")
app.add_typer(telemetry.app, name="telemetry")
app.add_typer(parallel.app, name="parallel")
app.add_typer(quality.app, name="quality")
app.add_typer(gaps.app, name="gaps")


def _fail(message: str, code: int) -> None:
    from buildrunner.cli.common import stderr

    stderr().print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    sys.exit(code)


def run() -> None:
    """Run `br`; turn any error into one line on stderr and the spec's exit code."""
    try:
        app(prog_name="br")
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except Exception as exc:
        from rich.markup import escape

        from buildrunner.errors import BuildRunnerError, ExitCode

        if isinstance(exc, BuildRunnerError):
            _fail(escape(str(exc)), int(exc.exit_code))
        if os.environ.get("BR_DEBUG"):
            raise
        _fail(
            f"unexpected {type(exc).__name__}: {escape(str(exc).splitlines()[0] if str(exc) else '')} "
            "(run with BR_DEBUG=1 for the traceback)",
            int(ExitCode.GENERAL),
        )
