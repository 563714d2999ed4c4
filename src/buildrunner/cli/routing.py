"""`br routing`: complexity estimation, model selection, costs and budgets."""

import typer

app = typer.Typer(help="Estimate task complexity, pick the cheapest capable model, track costs against budgets.", no_args_is_help=True)
