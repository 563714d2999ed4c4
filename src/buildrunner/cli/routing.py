"""`br routing`: complexity estimation, model selection, costs and budgets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from buildrunner.cli.common import FormatOption, ProjectOption, TextJsonCsv
from buildrunner.cli.groups import group_example, group_help
from buildrunner.money import MAX_USD, usd
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.routing.calibration import CalibrationReport
    from buildrunner.routing.complexity_estimator import ComplexityResult
    from buildrunner.routing.cost_tracker import CostSummary
    from buildrunner.routing.model_selector import ModelSelection

app = typer.Typer(help=group_help("routing"), epilog=group_example("routing"), no_args_is_help=True)

Description = Annotated[str, typer.Argument(help="What the task is, in words (an issue text works too); - reads it from standard input.", show_default=False)]
AiOption = Annotated[
    Optional[bool],
    typer.Option("--ai/--no-ai", help="Ask a model to estimate (needs ANTHROPIC_API_KEY and the 'ai' extra); falls back to the heuristic.", show_default=False),
]
FilesOption = Annotated[
    Optional[list[Path]],
    typer.Option("--file", "-F", help="A file the task will touch (repeatable); their count, size and languages count.", show_default=False, metavar="<path>"),
]
CostsFormat = Annotated[
    TextJsonCsv, typer.Option("--format", "-f", help="Output format: text for people, json (the summary) or csv (one row per request, with its agent).")
]
PERIOD_TITLES = {"day": "Today", "week": "This Week", "month": "This Month", "all": "All Time"}


def _limit(name: str, raw: str | None) -> float | None:
    """Parse a limit ourselves so a bad value is one line and exit 2, not a usage box."""
    if raw is None:
        return None
    from buildrunner.errors import ConfigError
    from buildrunner.routing.model_selector import LIMIT_EXAMPLES

    example = f"{name} {LIMIT_EXAMPLES[name.lstrip('-').replace('-', '_')]}"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} {raw!r}: not a number", hint=f"pass a number, e.g. {example}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} {raw!r}: not a finite number", hint=f"pass a number, e.g. {example}")
    if value < 0:
        raise ConfigError(f"{name} {raw}: cannot be negative", hint=f"pass 0 or a positive {name} value")
    if name == "--cost-limit" and value > MAX_USD:
        raise ConfigError(f"{name} {raw}: more than {usd(MAX_USD)}, the most one record holds", hint=f"pass a smaller limit, e.g. {example}, or leave it out for none")
    return value


def _description(text: str, command: str = "estimate") -> str:
    """The task as given; `-` reads it from standard input (a ticket piped in: `gh issue view 42 | br routing estimate -`)."""
    import sys

    from buildrunner.errors import ConfigError

    if text == "-":
        raw = sys.stdin.buffer.read()
        try:
            if b"\0" in raw:
                raise UnicodeDecodeError("utf-8", raw, raw.index(b"\0"), raw.index(b"\0") + 1, "a NUL byte")
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"TASK_DESCRIPTION -: standard input is not UTF-8 text (byte {exc.start}: {exc.reason})",
                hint="pipe the task's text in as UTF-8 (a Latin-1 file: iconv -f latin1 -t utf-8 FILE | br routing ... -), not a binary file",
            ) from None
        if not text.strip():
            raise ConfigError("TASK_DESCRIPTION -: nothing came on standard input", hint=f"pipe the task in, e.g. gh issue view 42 | br routing {command} -")
    if not text.strip():
        raise ConfigError("TASK_DESCRIPTION is empty", hint=f'describe the task, e.g. br routing {command} "Fix the login redirect"')
    return text


def _files(files: list[Path] | None) -> list[Path] | None:
    from buildrunner.errors import ConfigError, NotFoundError

    for path in files or []:
        if path.is_dir():
            raise ConfigError(f"--file {path}: is a folder, not a file", hint="name the files the task touches, one --file each")
        if path.exists() and not path.is_file():
            raise ConfigError(f"--file {path}: not a regular file (a device or a pipe)", hint="name the source files the task touches, one --file each")
        if not path.is_file():
            raise NotFoundError(f"--file {path}: no such file", hint="pass an existing file or drop the option")
    return files or None


def _estimate_json(result: "ComplexityResult", verbose: bool) -> dict[str, Any]:
    from buildrunner.cli.common import jsonable

    out: dict[str, Any] = {
        "task": result.task_description,
        "complexity_level": result.complexity_level,
        "complexity_score": result.complexity_score,
        "recommended_model": result.recommended_model,
        "estimated_cost": result.estimated_cost,
        "estimated_time_minutes": result.estimated_time_minutes,
        "reasoning": result.reasoning,
        "factors": jsonable(result.factors),
        "source": result.source,
        "calibration": result.calibration,
    }
    if not verbose:
        out["factors"] = [{"name": f.name, "weight": f.weight} for f in result.factors]
    return out


def _calibration_line(calibration: str | None) -> str:
    return f"Routing: {calibration}" if calibration else "Routing: default thresholds (no calibration; see br routing calibrate)"


def _first_line(text: str, width: int = 100) -> str:
    """The description's first line as the estimate reads it (an issue template's comments and headings are not read)."""
    from buildrunner.routing.signals import shipped_signals

    line = shipped_signals().text(text).title.strip() or (text.strip().splitlines()[0] if text.strip() else "")
    return line if len(line) <= width else line[: width - 1] + "…"


@app.command()
def estimate(
    task_description: Description,
    output_format: FormatOption = "text",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every signal that fired, its weight and the words that triggered it.")] = False,
    ai: AiOption = None,
    files: FilesOption = None,
    project: ProjectOption = None,
) -> None:
    """Estimate task complexity and recommend a model.

    Code the description names (`parse_config`, RetryPolicy) is looked up in the project: the more source files use it, the harder the change (routing.code_reach).

    Example: br routing estimate "Add user authentication with JWT tokens" --verbose

    Example: gh issue view 42 --json body -q .body | br routing estimate - --format json
    """
    from buildrunner.cli.common import emit_json, project_for, stdout
    from buildrunner.routing.complexity_estimator import ComplexityEstimator

    text = _description(task_description)
    with project_for(project, reading=True) as proj:
        result = ComplexityEstimator(proj, use_ai=ai).estimate(text, files=_files(files))
    _warn_ai_unused(ai, result)
    if output_format == "json":
        emit_json(_estimate_json(result, verbose))
        return
    from rich.markup import escape

    out = stdout()
    out.print(f"Task: {escape(_first_line(result.task_description))}\n")
    out.print(f"Complexity: {result.complexity_level}" + (f" (score {result.complexity_score}/100)" if verbose else ""))
    out.print(f"Recommended Model: {result.recommended_model}")
    out.print(f"Estimated Cost: {usd(result.estimated_cost)}")
    out.print(f"Estimated Time: {result.estimated_time_minutes} minutes\n")
    out.print("Reasoning:")
    for line in result.reasoning:
        out.print(f"- {escape(line)}")
    out.print(f"\n{escape(_calibration_line(result.calibration))}")
    if verbose:
        _print_factors(result)


def _print_factors(result: "ComplexityResult") -> None:
    from rich.markup import escape

    from buildrunner.cli.common import stdout

    out = stdout()
    out.print(f"Factors (weights sum to the score, clamped to 0-100; source: {result.source}):")
    for factor in result.factors:
        said = ("words: " if factor.words else "") + factor.detail
        out.print(f"  • {factor.name}: {factor.weight:+g}" + (f"  [dim]({escape(said)})[/]" if said else ""))


@app.command()
def select(
    task_description: Description,
    cost_limit: Annotated[Optional[str], typer.Option("--cost-limit", metavar="FLOAT", help="Maximum cost in USD.", show_default=False)] = None,
    time_limit: Annotated[Optional[str], typer.Option("--time-limit", metavar="MINUTES", help="Maximum time in minutes.", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Force a tier (haiku/sonnet/opus) or model id; limits are still checked.", show_default=False)] = None,
    output_format: FormatOption = "text",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show the score and every signal that fired, as estimate --verbose does.")] = False,
    ai: AiOption = None,
    files: FilesOption = None,
    project: ProjectOption = None,
) -> None:
    """Select the cheapest capable model within cost and time limits, else the most capable within them.

    Exit 1 when no model fits the limits, or when a tier forced with --model misses them (its figures are
    still shown). A spent budget, or an estimate over what is left of one, is said as a warning.

    Example: br routing select "Refactor database queries" --cost-limit 0.05

    Example: br routing select "Fix the race in the order queue" --time-limit 120 --format json

    Example: br routing select "Rotate the JWT signing key" --verbose
    """
    from buildrunner.cli.common import emit_json, project_for
    from buildrunner.errors import RoutingError
    from buildrunner.routing.complexity_estimator import ComplexityEstimator
    from buildrunner.routing.model_selector import ModelSelector

    text = _description(task_description, "select")
    costs, minutes = _limit("--cost-limit", cost_limit), _limit("--time-limit", time_limit)
    with project_for(project, reading=True) as proj:
        selection = ModelSelector(proj, estimator=ComplexityEstimator(proj, use_ai=ai)).select_model(
            text, cost_limit=costs, time_limit=minutes, model=model, files=_files(files)
        )
    _warn_ai_unused(ai, selection.complexity)
    if output_format == "json":
        emit_json(_selection_json(selection) | ({"factors": _estimate_json(selection.complexity, True)["factors"]} if verbose else {}))
    else:
        _print_selection(selection)
        if verbose:
            _print_factors(selection.complexity)
    if not selection.meets_limits:
        missed = " and ".join(n for n, ok in (("cost", selection.meets_cost_limit), ("time", selection.meets_time_limit)) if not ok)
        raise RoutingError(f"{selection.name}, forced by --model, misses the {missed} limit", hint="raise the limit, or drop --model to let br pick a tier within it")


def _warn_ai_unused(ai: bool | None, result: "ComplexityResult") -> None:
    """--ai asked for and not honoured: said on stderr too (the reasoning line is easy to miss, and JSON has only `source`)."""
    if ai and result.source != "ai":
        from rich.markup import escape

        from buildrunner.cli.common import stderr
        from buildrunner.routing.complexity_estimator import AI_UNAVAILABLE

        why = next((line for line in result.reasoning if line.startswith(AI_UNAVAILABLE)), f"{AI_UNAVAILABLE}; heuristic used")
        stderr().print(f"warning: --ai: {escape(why)}")


def _selection_json(s: "ModelSelection") -> dict[str, Any]:
    return {
        "task": s.complexity.task_description,
        "selected_model": s.name,
        "model_id": s.model_id,
        "estimated_cost": s.estimated_cost,
        "estimated_time_minutes": s.estimated_time_minutes,
        "cost_limit": s.cost_limit,
        "time_limit": s.time_limit,
        "meets_cost_limit": s.meets_cost_limit,
        "meets_time_limit": s.meets_time_limit,
        "forced": s.forced,
        "capable": s.capable,
        "complexity_level": s.complexity.complexity_level,
        "complexity_score": s.complexity.complexity_score,
        "reasoning": s.reasoning,
        "alternatives": s.alternatives,
        "calibration": s.complexity.calibration,
        "budget_note": s.budget_note,
    }


def _print_selection(s: "ModelSelection") -> None:
    from rich.markup import escape

    from buildrunner.cli.common import stdout
    from buildrunner.routing.model_selector import limit_and_cost

    out = stdout()
    out.print(f"Task: {escape(_first_line(s.complexity.task_description))}")
    if s.cost_limit is not None:
        out.print(f"Cost Limit: {usd(s.cost_limit)}")
    if s.time_limit is not None:
        out.print(f"Time Limit: {s.time_limit:g} minute{'' if s.time_limit == 1 else 's'}")
    out.print(f"\nSelected Model: {s.name}" + (" (forced)" if s.forced else ""))
    out.print(f"Estimated Cost: {usd(s.estimated_cost)}")
    out.print(f"Estimated Time: {s.estimated_time_minutes} minutes\n")
    if not s.capable:  # said before the ticks below, which are about the limits only
        out.print(f"⚠️ Below the tier trusted with complexity {s.complexity.complexity_score}")
    if s.cost_limit is not None:
        limit, cost = limit_and_cost(s.cost_limit, s.estimated_cost)
        out.print("✅ Meets cost constraint" if s.meets_cost_limit else f"❌ Exceeds cost constraint ({cost} > {limit})")
    if s.time_limit is not None:
        out.print("✅ Meets time constraint" if s.meets_time_limit else f"❌ Exceeds time constraint ({s.estimated_time_minutes} > {s.time_limit:g} min)")
    if s.budget_note:
        out.print(f"⚠️ {escape(s.budget_note)}")
    for line in s.reasoning:
        out.print(f"- {escape(line)}")
    out.print(escape(_calibration_line(s.complexity.calibration)))


@app.command()
def calibrate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fit and report, but leave the config unchanged.")] = False,
    output_format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Fit the tier thresholds (and, with 200+ outcomes, the signal weights) to this project's finished tasks,
    and scale each tier's cost estimates to what its attempts really cost.

    Cross-validated: shows before -> after on held-out outcomes and writes routing.calibration to the
    config only when the fitted routing, or the scaled cost estimates, do better there.

    Example: br routing calibrate --dry-run
    """
    from buildrunner.cli.common import emit_json, jsonable, project_for
    from buildrunner.routing.calibration import calibrate as fit

    with project_for(project, reading=True) as proj:  # it writes only the config, and only when the fit is better
        report = fit(proj, dry_run=dry_run)
        shown = proj.paths.relative(report.config_file) if report.config_file else None
    if output_format == "json":
        emit_json({**jsonable(report), "dry_run": dry_run})
        return
    _print_calibration(report, dry_run, shown)


def _print_calibration(report: "CalibrationReport", dry_run: bool, config_file: str | None) -> None:
    from rich import box
    from rich.table import Table

    from buildrunner.cli.common import stdout
    from buildrunner.routing.calibration import MIN_OUTCOMES, MIN_OUTCOMES_FOR_WEIGHTS

    out = stdout()
    if report.needed:
        out.print(
            f"{report.outcomes} finished prompt tasks recorded; calibration needs at least {MIN_OUTCOMES} "
            f"({report.needed} more). Routing keeps its current thresholds."
        )
        return
    before, after = report.before, report.after
    assert before is not None and after is not None
    out.print(f"Routing calibration on {report.outcomes} outcomes ({report.folds}-fold cross-validation; figures on held-out outcomes)\n")
    table = Table(box=box.SIMPLE)
    for column in ("", "current", "calibrated"):
        table.add_column(column, no_wrap=True)
    for tier in report.current:
        table.add_row(f"{tier} trusted up to", str(report.current[tier]), str(report.fitted.get(tier, report.current[tier])))
    table.add_row("first-try pass rate", f"{before.first_try_pass_rate:.1%}", f"{after.first_try_pass_rate:.1%}")
    table.add_row("cost per passed task", usd(before.cost_per_passed_task), usd(after.cost_per_passed_task))
    table.add_row("escalations (expected)", f"{before.escalations:.1f}", f"{after.escalations:.1f}")
    weights = "refitted" if report.weights_refitted else f"shipped (refit from {MIN_OUTCOMES_FOR_WEIGHTS} outcomes)"
    table.add_row("signal weights", "as configured", weights)
    out.print(table)
    if report.as_run is not None:
        ran = report.as_run
        out.print(
            f"As recorded: first-try pass rate {ran.first_try_pass_rate:.1%}, {ran.escalations:g} escalations, "
            f"{usd(ran.cost_per_passed_task)} per passed task (the columns model each routing on the held-out tasks)."
        )
    if report.rescored:
        out.print(f"[dim]{report.rescored} of {report.outcomes} tasks score differently with today's signals than when they ran; the fit uses today's scores.[/]")
    if report.imputed_share:
        out.print(f"[dim]{report.imputed_share:.0%} of held-out tasks would start on a tier they never ran on; their results come from that tier's pass rate at similar scores.[/]")
    if report.costs is not None:
        costs = report.costs
        def unwritten(tier: str) -> str:
            if tier in costs.better_scale:
                return ""
            return "; it would price a tier above a more capable one, not written" if tier in costs.inverted else "; not closer held out, not written"

        scales = ", ".join(f"{tier} x{scale:g} ({plural(costs.attempts[tier], 'attempt')}{unwritten(tier)})" for tier, scale in costs.scale.items())
        out.print(
            f"Attempt costs: the estimates in use are off by x{costs.off_before:g} on held-out attempts; scaled to this "
            f"project's attempts ({scales}), by x{costs.off_after:g}."
        )
    better = " and ".join(what for what, ok in (("the routing", report.better), ("the cost estimates", report.costs_better)) if ok)
    if report.costs_better and not report.better:
        better += "; the thresholds in use stay"
    if not better:
        out.print("Not better than the current routing on held-out outcomes: config unchanged.")
    elif dry_run:
        out.print(f"Better on held-out outcomes ({better}); --dry-run: {config_file} unchanged.")
    else:
        out.print(f"✅ Better on held-out outcomes ({better}): wrote routing.calibration to {config_file}.")


@app.command()
def costs(
    period: Annotated[str, typer.Option("--period", "-p", metavar="PERIOD", help="day, week, month or all (calendar periods, local time).")] = "day",
    output_format: CostsFormat = "text",
    project: ProjectOption = None,
) -> None:
    """View the cost summary for a period, by model and by agent, with the budget left (budgets count every agent).

    Example: br routing costs --period month --format csv > costs.csv
    """
    import sys

    from buildrunner.cli.common import emit_json, jsonable, project_for
    from buildrunner.routing.cost_tracker import CostTracker, period_start, write_csv

    period_start(period)  # a bad --period is one line, exit 2
    with project_for(project, reading=True) as proj:
        tracker = CostTracker(proj)
        if output_format == "csv":
            write_csv(sys.stdout, tracker.iter_records(period))
            return
        summary = tracker.get_summary(period)
        remaining = tracker.remaining_budget()
    if output_format == "json":
        emit_json({**jsonable(summary), "remaining_budget": remaining})
        return
    _print_summary(summary, remaining)


def _print_summary(summary: "CostSummary", remaining: float | None) -> None:
    from buildrunner.cli.common import local_time, stdout
    from buildrunner.routing.cost_tracker import DIRECT
    from buildrunner.routing.models import TIERS

    out = stdout()
    out.print(f"Cost Summary ({PERIOD_TITLES[summary.period]})\n")
    if not summary.request_count:
        out.print("No requests recorded in this period.")
    else:
        out.print("Model Distribution:")
        width = max(len(m) for m in summary.by_model) + 1
        counts = summary.requests_by_model
        count_width = max(len(plural(counts[m], "request")) for m in summary.by_model)
        for model, cost in summary.by_model.items():
            label = (model.capitalize() if model in TIERS else model) + ":"
            out.print(f"  {label:<{width}} {plural(counts[model], 'request'):<{count_width}} | {usd(cost)}")
        if any(agent != DIRECT for agent in summary.by_agent):
            out.print("\nBy Agent and Model:")
            for agent, models in summary.by_agent_model.items():
                requests = summary.requests_by_agent[agent]
                out.print(f"  {agent}: {requests} request{'s' if requests != 1 else ''} | {usd(summary.by_agent[agent])}")
                model_width = max(len(m) for m in models) + 1
                for model, cost in models.items():
                    out.print(f"    {model + ':':<{model_width}} {usd(cost)}")
        out.print(f"\nTotal: {plural(summary.request_count, 'request')} | {usd(summary.total_cost)} (avg ${summary.avg_cost_per_request:.4f}/request)")
        if summary.by_day:
            out.print("\nDaily Breakdown:")
            for day, cost in summary.by_day.items():
                out.print(f"  {day}: {usd(cost)}")
    if summary.budget_limit is not None:
        out.print(f"\nBudget: {usd(summary.total_cost)} of {usd(summary.budget_limit)} ({summary.period}) | {usd(summary.budget_remaining)} left")
    if remaining is not None:
        note = " — budget spent: new agent work will not be routed" if remaining <= 0 else ""
        out.print(f"Remaining (tightest budget): {usd(remaining)}{note}")
    if summary.since is not None:
        out.print(f"[dim]Since {local_time(summary.since)}[/]")


@app.command()
def models(
    output_format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """List the model tiers, their concrete models, prices and typical latency.

    Example: br routing models --format json
    """
    from buildrunner.cli.common import emit_json, project_for, stdout
    from buildrunner.routing.cost_tracker import CostTracker
    from buildrunner.routing.models import TIER_USE, catalogue

    with project_for(project, reading=True) as proj:
        tiers = catalogue(proj, observed_latency=CostTracker(proj).observed_latency())
    if output_format == "json":
        emit_json({"models": list(tiers.values())})
        return
    from rich import box

    from buildrunner.cli.tables import Column, print_table

    rows = [
        [m.tier, m.model_id, f"${m.input_per_mtok:.2f}/1M", f"${m.output_per_mtok:.2f}/1M", f"~{m.typical_latency_ms:.0f}ms" + ("*" if m.latency_source == "telemetry" else "")]
        for m in tiers.values()
    ]
    out = stdout()
    out.print("Available Models:\n")
    print_table(out, [Column("Model", key=True), Column("Model ID", key=True), "Input Cost", "Output Cost", "Typical Latency"], rows, box=box.SQUARE)
    out.print("Cache read / write per 1M: " + ", ".join(f"{m.tier} ${m.cache_read_per_mtok:.2f} / ${m.cache_write_per_mtok:.2f}" for m in tiers.values()))
    if any(m.latency_source == "telemetry" for m in tiers.values()):
        out.print("* observed: mean over the last 7 days of tracked requests")
    scaled = [m for m in tiers.values() if m.cost_scale != 1.0]
    if scaled:
        out.print(
            "Estimated task costs are scaled to what this project's attempts cost (br routing calibrate): "
            + ", ".join(f"{m.tier} x{m.cost_scale:g}" for m in scaled)
        )
    out.print("\nRecommendations:")
    for m in tiers.values():
        out.print(f"  • {m.tier}: {TIER_USE.get(m.tier, '')} (complexity up to {m.max_complexity})")
