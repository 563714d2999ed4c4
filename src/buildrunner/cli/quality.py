"""`br quality`: the quality gate."""

import typer

app = typer.Typer(help="Grade a codebase against a quality gate.", no_args_is_help=True)
