"""`br telemetry`: events, metrics, alerts, performance and export."""

import typer

app = typer.Typer(help="Task events, success rate, latency, cost, alerts and exports.", no_args_is_help=True)
