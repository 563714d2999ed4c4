"""`br security`: secret scanning, SQL-injection detection, git hooks."""

import typer

app = typer.Typer(help="Scan code for leaked secrets and SQL injection; block them in a git pre-commit hook.", no_args_is_help=True)
