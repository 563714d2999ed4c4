"""`br parallel`: sessions of tasks run by worker processes on one machine or many."""

import typer

app = typer.Typer(help="Run a plan of tasks on several worker processes, with retries, control and a live dashboard.", no_args_is_help=True)
