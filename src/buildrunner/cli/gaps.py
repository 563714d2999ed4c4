"""`br gaps`: what is missing or unfinished."""

import typer

app = typer.Typer(help="List what is missing or unfinished in a codebase.", no_args_is_help=True)
