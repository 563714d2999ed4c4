"""`br parallel`: sessions of tasks run by worker processes on one machine or many."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from buildrunner.cli.common import (
    FormatOption,
    ProjectOption,
    emit_json,
    local_time,
    printable,
    printable_path,
    project_for,
    stderr,
    stdout,
    terminal_output,
)
from buildrunner.cli.groups import group_example, group_help
from buildrunner.money import usd
from buildrunner.parallel.models import BUDGET_REASON
from buildrunner.parallel.states import LIVE_SESSION_STATES, SessionState
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.agents.base import Agent
    from buildrunner.agents.transcript import Transcript
    from buildrunner.parallel.landing import MergeReport, MergeStep
    from buildrunner.parallel.models import Activity, AgentStatus, PlanPreview, Session, SessionStatus, TaskLog, TaskRecord
    from buildrunner.parallel.session_manager import SessionManager

app = typer.Typer(help=group_help("parallel"), epilog=group_example("parallel"), no_args_is_help=True)

SESSION_STATES = tuple(str(state) for state in SessionState)
SessionArg = Annotated[str, typer.Argument(help="Session id, a unique prefix of it, or the session's name.", show_default=False)]
OptionalSessionArg = Annotated[Optional[str], typer.Argument(help="Session id, prefix or name (default: the running or latest session).", show_default=False)]


NO_SESSIONS = "No sessions{}. Start one with `br parallel start NAME --config plan.yaml`."


def _shown_session(manager: "SessionManager", session_id: str | None, output_format: str = "text", empty: Any = None) -> str | None:
    """The session a viewing command shows; None after saying so when none was named and there are none yet.

    Nothing to show is not an error (exit 0, as `list` does): JSON gets `empty` (`[]` for a list of workers, `null`
    for one status); a named session that does not exist is (exit 6).
    """
    if session_id is None and manager.current_session() is None:
        if output_format == "json":
            emit_json(empty)
        else:
            stderr().print(NO_SESSIONS.format(""), markup=False)
        return None
    return manager.resolve(session_id)


def _manager(project: Path | None, *, reading: bool = False) -> "SessionManager":
    """`reading` for every command but `start`: only `start` makes a session, so the others create no store where
    there is none (outside a project they find nothing, and say so)."""
    from buildrunner.parallel.session_manager import SessionManager

    return SessionManager(project_for(project, reading=reading))


def _print_status(status: "SessionStatus") -> None:
    out = stdout()
    out.print(f"Session: {status.name} ({status.session_id})", markup=False)
    out.print()
    out.print(f"Status: {status.status}" + (f" ({status.status_reason})" if status.status_reason else ""), markup=False)
    out.print(f"Progress: {status.completed_tasks}/{status.total_tasks} tasks completed ({status.progress_percent:.0f}%)", markup=False)
    extra = [f"{n} {label}" for n, label in (
        (status.running_tasks, "running"), (status.pending_tasks, "waiting"), (status.failed_tasks, "failed"),
        (status.skipped_tasks, "skipped"), (status.cancelled_tasks, "cancelled"),
    ) if n]
    if status.next_retry_at is not None:  # "2 waiting" said nothing of a retry backing off
        extra.append(f"next retry in {max(0, round(status.next_retry_at - time.time()))}s")
    if extra:
        out.print("Tasks: " + ", ".join(extra), markup=False)
    out.print(f"Workers: {status.active_workers} active ({status.workers_ran} ran)", markup=False)
    if status.stalled:
        out.print(f"⚠️  No live worker: nothing runs until you start workers again (`br parallel resume {status.session_id}`).", markup=False)
    out.print(f"Cost: {usd(status.cost)}", markup=False)
    if status.prompts_held and status.budget_allows_now:
        out.print(
            f"⚠️  Prompt tasks were held ({status.prompts_held.removeprefix(BUDGET_REASON).strip()}); the budgets allow them now: "
            f"`br parallel resume {status.session_id}` lets them run.", markup=False,
        )
    elif status.prompts_held and status.status in LIVE_SESSION_STATES:  # an ended session runs nothing more
        out.print(f"⚠️  Prompt tasks wait: {status.prompts_held.removeprefix(BUDGET_REASON).strip()}; shell tasks go on.", markup=False)
    if status.agents:
        out.print()
        out.print("Agents:")
        for agent in status.agents:
            out.print(f"  {_agent_line(agent)}", markup=False)
    if status.recent_activity:
        out.print()
        out.print("Recent Activity:")
        for item in reversed(status.recent_activity):
            out.print(f"  {local_time(item.ts, '%H:%M:%S')} | {item.worker} | {item.action} {item.task_id}", markup=False)
    if status.failures:
        out.print()
        out.print("Failures:")
        for failure in status.failures:
            out.print(f"  {failure.task_id} ({failure.status}, {plural(failure.attempts, 'attempt')}): {printable(failure.error or '-')}", markup=False)


def _agent_line(agent: "AgentStatus") -> str:
    """`api-docs: claude on sonnet (claude-sonnet-4-5), turn 3, $0.0123 so far; last: Bash ls calc`."""
    tier = f" on {agent.tier}" if agent.tier else ""
    last = f"; last: {agent.last_action}" if agent.last_action else ""
    return f"{agent.task_id}: {agent.agent or 'agent'}{tier} ({agent.model or '?'}), turn {agent.turns}, {usd(agent.cost)} so far{last}"


def _emit_status(manager: "SessionManager", info: "SessionStatus") -> None:
    from buildrunner.cli.common import jsonable

    emit_json(
        {
            **jsonable(info), "progress_percent": info.progress_percent, "stalled": info.stalled, "start_time": info.start_time.isoformat(),
            "elapsed_time_seconds": info.elapsed_time_seconds, "tasks": manager.list_tasks(info.session_id),
        }
    )


def _watch(manager: "SessionManager", session_id: str) -> "SessionStatus":
    from buildrunner.cli.dashboard import Dashboard, default_keys

    console = stderr()
    dashboard = Dashboard(manager, session_id, console, default_keys())
    return dashboard.run_live() if console.is_terminal else dashboard.run_plain()


def _progress_lines(manager: "SessionManager", session_id: str) -> "Callable[[list[Activity]], None]":
    """Off a terminal (a CI log, `| cat`): a plain line per attempt that starts or ends, then the session's progress."""
    from buildrunner.cli.dashboard import progress_line

    err = stderr()

    def show(changes: "list[Activity]") -> None:
        lines = []
        for change in changes:
            when = time.strftime("%H:%M:%S", time.localtime(change.ts))
            why = f": {printable(change.error.splitlines()[0][:120])}" if change.error and change.action != "Started" else ""
            which = (f", attempt {change.attempt}" if change.attempt > 1 else "") + (f", {change.tier}" if change.tier else "")
            again = " - it will run again" if change.again else ""
            lines.append(f"{when} {change.task_id} {change.action.lower()} ({change.worker}{which}){why}{again}")
        lines.append(progress_line(manager.get_session_status(session_id, activity=0)))
        # Plain text in one write: Rich's per-line layout cost more CPU than the workers' bookkeeping on a busy session.
        err.file.write("\n".join(lines) + "\n")
        err.file.flush()

    return show


def _print_unlanded(manager: "SessionManager", status: "SessionStatus") -> None:
    """Passing worktree work still on its branches: the report said nothing, and a lead took it for landed."""
    from buildrunner.parallel.landing import unlanded

    target, waiting = unlanded(manager.project, manager.merge_plan(status.session_id))
    if waiting:
        branches = ", ".join(t.branch for t in waiting[:3]) + (", ..." if len(waiting) > 3 else "")
        stdout().print(
            f"\nThe work of {plural(len(waiting), 'task')} is on {'its branch' if len(waiting) == 1 else 'their branches'} ({branches}), not on {target} yet: "
            f"land it with `br parallel merge {status.name}` (--dry-run first to see it).",
            markup=False,
        )


def _exit_for(status: "SessionStatus") -> None:
    from buildrunner.errors import ParallelError

    if status.failed_tasks or status.status in ("failed", "stopped") or status.budget_paused:
        raise ParallelError(
            f"session {status.session_id} {status.status}: {status.completed_tasks}/{status.total_tasks} completed, "
            f"{status.failed_tasks} failed, {status.skipped_tasks} skipped" + (f" ({status.status_reason})" if status.status_reason else ""),
            hint=f"see `br parallel status {status.session_id}` and `br parallel logs {status.session_id} TASK`",
        )


@app.command()
def start(
    name: Annotated[str, typer.Argument(help="A name for the session.", show_default=False)],
    tasks: Annotated[Optional[int], typer.Option("--tasks", help="Run only the first N tasks of the plan.", show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Number of workers (default: the plan's, else parallel.default_workers, 3, at most one per task).", show_default=False)] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Show the live dashboard after starting; watched to its end, exit 1 if a task failed.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Block until the session ends; exit 1 if a task failed (for CI).")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", help="Plan file (JSON, YAML or TOML); default .buildrunner/plan.*.", show_default=False)] = None,
    halt_on_failure: Annotated[
        bool, typer.Option("--halt-on-failure", help="Stop the session at the first task that fails for good (as the plan's halt_on_failure: true).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the plan as start does and show what each task would run, on which tier and at what estimated cost; store and run nothing (exit 1 if a task would fail as planned).")
    ] = False,
    output_format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Start a parallel session: validate the plan, store its tasks, launch detached workers and return.

    Example: br parallel start demo --config examples/demo/plan.yaml --workers 3 --wait
    """
    manager = _manager(project, reading=dry_run)  # a dry run stores nothing: it creates no store where there is none
    if dry_run:
        if wait or watch:
            from buildrunner.errors import ConfigError

            raise ConfigError(f"--dry-run runs nothing: it cannot be combined with {'--wait' if wait else '--watch'}", hint="drop one of them")
        preview = manager.preview(name, tasks, workers, config=config, halt_on_failure=halt_on_failure or None)
        emit_json(preview) if output_format == "json" else _print_preview(preview)
        if any(task.problem for task in preview.tasks):
            raise typer.Exit(1)  # a task would fail as planned: a plan check in CI fails here, not mid-session
        return
    session = manager.create_session(name, tasks, workers, config=config, start_workers=False, halt_on_failure=halt_on_failure or None)
    session.worker_pids = manager.start_workers(session.session_id, session.num_workers, fork=True)
    with _waiting_on(session.session_id):
        _report_start(manager, session, name, tasks, watch=watch, wait=wait, output_format=output_format)


def _print_preview(preview: "PlanPreview") -> None:
    """`start --dry-run` for people: the tasks in the order they can start, then what the prompt tasks would cost."""
    from buildrunner.cli.tables import Column, print_table

    out = stdout()
    out.print(f"Dry run of {printable_path(preview.plan)} as session {printable_path(preview.name)}: nothing is stored or run", markup=False)
    rows = []
    for task in sorted(preview.tasks, key=lambda t: t.wave):
        if task.kind == "prompt":
            runs = f"{task.agent}: {printable(task.description)}"
            tier = task.problem or f"{task.tier}{'' if task.routed else ' (its model)'}{', escalates' if task.escalates else ''}"
            cost = f"{usd(task.estimated_cost)}, {task.estimated_minutes} min" if task.estimated_cost is not None else "-"
        else:
            runs, tier, cost = printable(task.description), "-", "-"
        rows.append([task.task_id, str(task.wave), ", ".join(task.depends_on) or "-", runs, tier, cost])
    columns: list[Column | str] = [Column("Task", key=True), Column("Wave", justify="right"), "After", "Runs", "Tier", "Estimate"]
    print_table(out, columns, rows, title=f"{plural(preview.total_tasks, 'task')} in {plural(preview.waves, 'wave')}, {plural(preview.num_workers, 'worker')}")
    if preview.prompt_tasks:
        line = f"Prompt tasks' first attempts: {usd(preview.estimated_cost)} estimated"
        if preview.cost_limit is not None:
            line += f" of the plan's max_cost {usd(preview.cost_limit)}"
        if preview.budget_remaining is not None:
            line += f"; {usd(preview.budget_remaining)} left of the cost budget"
        out.print(line, markup=False)
    for task in preview.tasks:
        if task.problem:
            stderr().print(f"⚠️  {task.task_id}: {task.problem}", markup=False)
    if preview.budget_note:
        stderr().print(f"⚠️  {preview.budget_note}: prompt tasks would wait; shell tasks would run.", markup=False)
    for note in preview.notes:
        stderr().print(f"note: {note}", markup=False)


@contextmanager
def _waiting_on(sid: str) -> Iterator[None]:
    """The workers are detached: Ctrl-C, or SIGTERM from a CI runner cancelling the job, ends the waiting, not the
    session, and says so."""
    import signal

    from buildrunner.errors import Terminated

    def terminated(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except (KeyboardInterrupt, Terminated):
        stderr().print(f"Stopped waiting: session {sid} keeps running (br parallel status {sid}; br parallel stop {sid} to end it)", markup=False)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report_start(
    manager: "SessionManager", session: "Session", name: str, tasks: int | None, *, watch: bool, wait: bool, output_format: str
) -> None:
    """What `start` says once the workers run, then the dashboard or the wait (and its exit code)."""
    if output_format == "json":
        if not (wait or watch):  # with --wait the one JSON document is the final status
            emit_json(session)
    else:
        out = stdout()
        out.print(f"Starting parallel session: {name}", markup=False)
        out.print()
        out.print(f"Session ID: {session.session_id}", markup=False)
        out.print(f"Tasks: {session.total_tasks}")
        out.print(f"Workers: {session.num_workers}")
        out.print(f"Status: {session.status}")
        out.print()
        out.print("✅ Session started successfully")
    if tasks is not None and tasks > session.total_tasks:
        stderr().print(f"note: --tasks {tasks}: the plan has only {session.total_tasks} tasks; all of them run", markup=False)
    for note in session.notes:
        stderr().print(f"note: {note}", markup=False)
    if session.budget_note:
        stderr().print(f"⚠️  {session.budget_note}: prompt tasks wait; shell tasks run.", markup=False)
    _await_end(manager, session.session_id, watch=watch, wait=wait, output_format=output_format)


def _await_end(manager: "SessionManager", sid: str, *, watch: bool, wait: bool, output_format: str = "text", since: float = 0.0) -> None:
    """The dashboard or the wait, then the final status and the exit code (1 if a task failed); progress lines
    for the attempts that start or end after `since`."""
    from buildrunner.cli.common import show_progress

    if watch or (wait and show_progress()):
        status = _watch(manager, sid)
        if wait and not status.halted:  # the dashboard was quit early: keep waiting
            status = manager.wait(sid)
    elif wait:
        status = manager.wait(sid, on_change=_progress_lines(manager, sid), since=since)
    else:
        return
    final = manager.get_session_status(status.session_id)
    if output_format == "json":
        _emit_status(manager, final)
    else:
        stdout().print()
        _print_status(final)
        _print_unlanded(manager, final)
    if wait or status.halted:  # watched to its end, a session's failure is the command's, as with --wait
        _exit_for(status)


@app.command()
def worker(
    session_id: SessionArg,
    name: Annotated[Optional[str], typer.Option("--name", help="Worker name shown in `br parallel workers`.", show_default=False)] = None,
    project: ProjectOption = None,
) -> None:
    """Run one worker of a session in the foreground (`start` launches these; run more on any machine sharing BR_DATABASE_URL).

    Example: BR_DATABASE_URL=postgresql://build@db/br br parallel worker demo
    """
    from buildrunner.errors import NotFoundError
    from buildrunner.parallel.session_manager import SessionManager
    from buildrunner.parallel.supervisor import name_process
    from buildrunner.parallel.worker import Worker
    from buildrunner.store import DATABASE_URL_ENV

    proj = project_for(project, reading=True)
    try:
        sid = SessionManager(proj).resolve(session_id)
    except NotFoundError as exc:
        if os.environ.get(DATABASE_URL_ENV):
            raise
        # A second machine's worker reads this machine's own SQLite file: the session is in the shared database
        raise NotFoundError(exc.message, hint=f"a session started on another machine is in its database: set {DATABASE_URL_ENV} to it (PostgreSQL), as there") from None
    name_process(sid)
    report = Worker(sid, proj, name).run()
    stderr().print(str(report), markup=False)


@app.command()
def status(session_id: OptionalSessionArg = None, output_format: FormatOption = "text", project: ProjectOption = None) -> None:
    """Show a session's progress, workers and recent activity.

    Example: br parallel status demo
    """
    manager = _manager(project, reading=True)
    sid = _shown_session(manager, session_id, output_format)
    if sid is None:
        return
    with manager.snapshot():  # the session's figures and its tasks' from one moment, while workers write
        info = manager.get_session_status(sid)
        if output_format == "json":
            _emit_status(manager, info)
            return
        _print_status(info)
        _print_ladders(manager, sid)


def _print_ladders(manager: "SessionManager", session_id: str) -> None:
    """Tasks that ran more than once or on a tier: each rung, how it ended (verify, security, a cap)."""
    rows = [task for task in manager.list_tasks(session_id) if len(task.ladder) > 1 or any(r.tier for r in task.ladder)]
    if not rows:
        return
    out = stdout()
    out.print()
    out.print("Attempts:")
    for task in rows:
        rungs = []
        for rung in task.ladder:
            mark = "✓" if rung.status == "completed" else ("…" if rung.status == "running" else "✗")
            where = f"{rung.tier} " if rung.tier else ""
            why = "" if rung.status in ("completed", "running") else f" {rung.outcome or rung.status}"
            verify = f", verify exit {rung.verify_exit}" if rung.verify_exit not in (None, 0) else ""
            rungs.append(f"{where}{mark}{why}{verify} {usd(rung.cost)}" if rung.tier else f"#{rung.attempt} {mark}{why}{verify}")
        out.print(f"  {task.task_id}: {' → '.join(rungs)}" + (f"  (branch {task.ladder[-1].branch})" if task.ladder[-1].branch else ""), markup=False)


@app.command()
def dashboard(session_id: OptionalSessionArg = None, project: ProjectOption = None) -> None:
    """Live dashboard (q quit, r refresh, p pause/resume, s stop); a plain progress line per refresh when not a terminal.

    Example: br parallel dashboard demo
    """
    manager = _manager(project, reading=True)
    sid = _shown_session(manager, session_id)
    if sid is None:
        return
    from buildrunner.cli.dashboard import Dashboard, default_keys

    console = stdout()
    board = Dashboard(manager, sid, console, default_keys())
    board.run_live() if console.is_terminal else board.run_plain()


@app.command("list")
def list_(
    status_filter: Annotated[Optional[str], typer.Option("--status", help="Only sessions in this state: running, paused, completed, failed, stopped.", show_default=False)] = None,
    output_format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """List sessions, newest first.

    Example: br parallel list --status running
    """
    from buildrunner.errors import ConfigError

    if status_filter is not None and status_filter not in SESSION_STATES:
        raise ConfigError(f"--status {status_filter}: unknown state", hint=f"use one of {', '.join(SESSION_STATES)}")
    sessions = _manager(project, reading=True).list_sessions(status_filter)
    if output_format == "json":
        emit_json(sessions)
        return
    if not sessions:
        stderr().print(NO_SESSIONS.format(f" with status {status_filter}" if status_filter else ""), markup=False)
        return
    from buildrunner.cli.tables import Column, print_table

    columns: list[Column | str] = [Column("Session ID", key=True), "Name", "Status", "Progress", "Workers", "Created"]
    rows = [
        [s.session_id, s.name, s.status, f"{s.completed_tasks}/{s.total_tasks}", f"{s.live_workers} live, {s.workers_ran} ran", local_time(s.created_at)]
        for s in sessions
    ]
    print_table(stdout(), columns, rows, title="Parallel Sessions")


@app.command()
def workers(session_id: OptionalSessionArg = None, output_format: FormatOption = "text", project: ProjectOption = None) -> None:
    """Show a session's workers: health, current task, tasks done, last heartbeat, CPU and memory.

    Example: br parallel workers demo
    """
    manager = _manager(project, reading=True)
    sid = _shown_session(manager, session_id, output_format, empty=[])
    if sid is None:
        return
    found = manager.list_workers(sid)
    if output_format == "json":
        emit_json(found)
        return
    from buildrunner.cli.dashboard import WORKER_COLUMNS, worker_row
    from buildrunner.cli.tables import print_table

    print_table(stdout(), WORKER_COLUMNS, [worker_row(w) for w in found], title=f"Workers ({sid})")


@app.command()
def pause(session_id: SessionArg, project: ProjectOption = None) -> None:
    """Pause a session: no new tasks start; running ones finish; the workers stay, idle, until resume or stop.

    Example: br parallel pause demo
    """
    manager = _manager(project, reading=True)
    sid = manager.resolve(session_id)
    was = manager.get_session_status(sid).status
    info = manager.pause_session(sid)
    if was == "paused":
        stdout().print(f"Session {sid} is already paused: resume it with `br parallel resume {sid}`.", markup=False)
        return
    stdout().print(f"⏸  Session {info.session_id} paused ({plural(info.running_tasks, 'task')} still finishing). Resume with `br parallel resume {info.session_id}`.", markup=False)


@app.command()
def resume(
    session_id: SessionArg,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run the failed tasks again, with their retries and their own max_cost anew, and the tasks skipped for them; of a stopped session, the tasks it cancelled too.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Block until the session ends; exit 1 if a task failed (for CI).")] = False,
    project: ProjectOption = None,
) -> None:
    """Resume a session; starts workers again if none is alive (after a crash or reboot).

    A failed or stopped session runs again with --retry-failed: its failed tasks from where they were (a prompt task
    on the tier it reached), then the tasks that were skipped because of them; a stopped session's cancelled tasks
    too. What completed does not run again. Tasks run as the session stored them at start: an edited plan file is
    not read again (start a new session for it).

    Example: br parallel resume demo --retry-failed --wait
    """
    manager = _manager(project, reading=True)
    sid = manager.resolve(session_id)
    resumed = time.time()
    if retry_failed:
        retried = manager.retry_failed(sid)
        again = [f"{plural(len(ids), what)} ({', '.join(ids)})" for ids, what in ((retried.tasks, "failed task"), (retried.cancelled, "cancelled task")) if ids]
        n, them = len(retried.dependents), "it" if len(retried.tasks) + len(retried.cancelled) == 1 else "them"
        waiting = f"; {plural(n, 'skipped task')} {'waits' if n == 1 else 'wait'} for {them}" if n else ""
        stdout().print(
            f"↻  Retrying {' and '.join(again)}{waiting}, as the session stored them, each with its retries and its own max_cost anew "
            "(the session's max_cost and the budgets still count what was spent; an edited plan needs a new session).",
            markup=False,
        )
    info, pids = manager.resume_session(sid)
    note = f"; started {plural(len(pids), 'worker')}" if pids else f"; {plural(info.active_workers, 'worker')} alive"
    stdout().print(f"▶  Session {info.session_id} {info.status}{note}.", markup=False)
    if info.prompts_held:
        stderr().print(f"⚠️  {info.prompts_held.removeprefix(BUDGET_REASON).strip()}: prompt tasks wait; shell tasks run.", markup=False)
    with _waiting_on(sid):
        _await_end(manager, sid, watch=False, wait=wait, since=resumed)


@app.command()
def stop(
    session_id: SessionArg,
    force: Annotated[bool, typer.Option("--force", help="Kill running tasks at once (no TERM grace period).")] = False,
    project: ProjectOption = None,
) -> None:
    """Stop a session: waiting tasks are cancelled, running ones get TERM then KILL after the grace period.

    Example: br parallel stop demo --force
    """
    manager = _manager(project, reading=True)
    sid = manager.resolve(session_id)
    before = manager.get_session_status(sid, activity=0)
    if before.finished and not before.running_tasks:  # a stopped session's tasks still ending may yet be forced
        stdout().print(f"Session {sid} is already {before.status}: nothing to stop.", markup=False)
        return
    info = manager.stop_session(sid, force=force)
    # the tasks running when asked: by the time the stop is stored, some of them may already have been ended
    ending = f"{plural(before.running_tasks, 'running task')} being ended" + (" now (forced)" if force else "") if before.running_tasks else "no task was running"
    stdout().print(f"⏹  Session {info.session_id} {info.status}: {info.completed_tasks}/{info.total_tasks} completed, {ending}", markup=False)


@app.command()
def cleanup(
    days: Annotated[Optional[int], typer.Option("--days", help="Remove finished sessions older than N days (default 7).", show_default=False)] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Remove all finished sessions, whatever their age.")] = False,
    project: ProjectOption = None,
) -> None:
    """Remove finished (completed, failed, stopped) sessions with their tasks, workers and logs.

    Example: br parallel cleanup --days 30
    """
    if all_sessions and days is not None:
        from buildrunner.errors import ConfigError

        raise ConfigError(f"--all and --days {days}: give one", hint="--all removes every finished session; --days N those older than N days")
    removed = _manager(project, reading=True).cleanup(all_sessions=all_sessions, **({} if days is None else {"days": days}))
    stdout().print(f"Removed {plural(len(removed), 'session')}" + (f": {', '.join(removed)}" if removed else "."), markup=False)


_STEP_MARKS = {"merged": "✓", "would_merge": "✓", "already_merged": "=", "no_changes": "=", "conflict": "✗", "verify_failed": "✗", "not_reached": "·"}


def _step_line(step: "MergeStep", width: int) -> str:
    line = f"  {_STEP_MARKS.get(step.status, '?')} {step.task_id:<{width}}  {step.status.replace('_', ' '):<14} {step.branch}"
    if step.merge_commit and step.status in ("merged", "would_merge"):
        line += f" -> {step.merge_commit[:12]}"
    if step.conflicts:
        line += f"  conflicts: {', '.join(step.conflicts)}"
    if step.verify is not None:
        line += f"  (verify {'passed' if step.verify.passed else step.verify.describe()}, {step.verify.duration_s:.1f}s)"
    return line


def _merge_summary(report: "MergeReport") -> str:
    count = len(report.merged)
    if report.dry_run:
        return f"{report.target}: dry run, {plural(count, 'task')} would merge; nothing changed"
    if report.tip_after == report.tip_before:
        return f"{report.target}: unchanged at {report.tip_before[:12]}"
    return f"{report.target}: {report.tip_before[:12]} -> {report.tip_after[:12]} ({plural(count, 'task')} merged)"


@app.command()
def merge(
    session_id: SessionArg,
    into: Annotated[Optional[str], typer.Option("--into", help="Branch to merge into (default: the branch the session was started from).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would merge and whether it merges cleanly; no branch moves.")] = False,
    verify_timeout: Annotated[Optional[float], typer.Option("--verify-timeout", help="Seconds each task's verify may run (default: the task's timeout).", show_default=False)] = None,
    output_format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Merge a session's passing task branches into a branch, in dependency order, one merge commit each, re-running each task's verify on the merged result.

    Stops at the first conflict or failing verify (exit 1), leaving the branch as it was before that merge; run it again once fixed: tasks already merged are skipped.

    Example: br parallel merge demo --into main --dry-run
    """
    from buildrunner.errors import ConfigError, ParallelError
    from buildrunner.parallel.landing import merge_session, merge_target

    if verify_timeout is not None and not 0 < verify_timeout <= 7 * 86_400:
        raise ConfigError(f"--verify-timeout {verify_timeout:g}: must be more than 0 and at most a week", hint="pass seconds, e.g. --verify-timeout 600")
    manager = _manager(project, reading=True)
    sid = manager.resolve(session_id)
    plan = manager.merge_plan(sid)
    out = stdout()
    text = output_format == "text"
    target = merge_target(manager.project, plan, into)  # a branch that is not there is said before anything is announced
    if text:
        out.print(f"Merging session {plan.name} ({sid}) into {target}" + (" (dry run)" if dry_run else ""), markup=False)
    width = max((len(task.task_id) for task in plan.tasks), default=0)
    report = merge_session(
        manager.project, plan, into=into, dry_run=dry_run, verify_timeout=verify_timeout,
        on_step=(lambda step: out.print(_step_line(step, width), markup=False)) if text else None,
    )
    if text:
        if not report.steps:
            out.print("  (no passing task with isolation: worktree: nothing to merge)", markup=False)
        out.print(_merge_summary(report), markup=False)
    else:
        from buildrunner.cli.common import jsonable

        emit_json({**jsonable(report), "ok": report.ok})
    if not report.ok:
        raise ParallelError(report.error or "merge stopped", hint=report.next_step)


@app.command()
def logs(
    session_id: SessionArg,
    task_id: Annotated[str, typer.Argument(help="Task id from the plan.", show_default=False)],
    attempt: Annotated[Optional[int], typer.Option("--attempt", min=1, help="Only this attempt (default: all).", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing the running attempt's output (and an agent's progress) until the task ends; exit 1 unless it completed.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="An agent's output as it printed it (its JSON stream), not read into lines.")] = False,
    output_format: FormatOption = "text",
    project: ProjectOption = None,
) -> None:
    """Print a task's captured output (secrets masked), attempt by attempt; `--follow` the one running.

    Each attempt's own output comes after the prompt its agent was given and before its setup and verify
    output, where it had them. An agent's JSON stream is shown read: its session, tool calls, messages,
    notices, result and spend (`--raw`: as printed). JSON: a list of {session_id, task_id, attempt, step,
    status, log_path, output}; step is null for the attempt's own output, "prompt", "stderr", "setup" or
    "verify" for the others; output is null when the log is not on this machine (or the attempt is still
    starting).

    Example: br parallel logs demo unit-tests --format json
    """
    import sys

    from buildrunner.errors import NotFoundError

    manager = _manager(project, reading=True)
    sid = manager.resolve(session_id)
    if follow:
        _follow(manager, sid, task_id, raw)
        return
    found = [log for log in manager.task_logs(sid, task_id, steps=True) if attempt is None or log.attempt == attempt]
    if not found:
        task = _task(manager, sid, task_id)
        if task is None:
            raise NotFoundError(f"task {task_id}: not in session {sid}", hint=f"see its tasks with `br parallel status {sid}`")
        if attempt is None and task.status in ("skipped", "cancelled"):  # it never will run: nothing is missing
            if output_format == "json":
                emit_json([])
            else:
                stderr().print(f"task {task_id} was {task.status}" + (f" ({task.error})" if task.error else "") + ": it never ran, so it has no output", markup=False)
            return
        raise NotFoundError(
            f"task {task_id} of {sid}: no attempt" + (f" {attempt}" if attempt else f" yet (it is {task.status})"),
            hint="see `br parallel status`" + ("" if attempt else "; `--follow` waits for it"),
        )
    entries: list[dict[str, Any]] = []
    raw_bytes: list[bytes | None] = []
    for log in found:
        try:
            data: bytes | None = log.path.read_bytes()
        except FileNotFoundError:
            data = None
        raw_bytes.append(data)
        entries.append({
            "session_id": sid, "task_id": task_id, "attempt": log.attempt, "step": log.step, "status": log.status,
            "log_path": str(log.path), "output": None if data is None else data.decode("utf-8", "replace"),
        })
    if output_format == "json":
        emit_json(entries)
        return
    terminal = sys.stdout.isatty()
    for log, entry, data in zip(found, entries, raw_bytes):
        step = f" {entry['step']}" if entry["step"] else ""
        sys.stdout.write(f"=== {task_id} attempt {entry['attempt']}{step} ({entry['status']}) {printable_path(entry['log_path'])} ===\n")
        text = entry["output"]
        read = None if raw or data is None or log.step is not None else _transcript(manager, log, text)
        if data is None:
            sys.stdout.write("(no output: the attempt printed nothing, or its log is on another machine)\n")
        elif read is not None:
            sys.stdout.write(terminal_output(read) if terminal else read)
        elif terminal:
            sys.stdout.write(terminal_output(text if text.endswith("\n") or not text else text + "\n"))
        else:  # piped, the output is passed on as it was written, byte for byte (the log keeps what was not UTF-8)
            _pass_on(data, ends_line=True)


def _reading_agent(manager: "SessionManager", log: "TaskLog") -> "Agent | None":
    """The agent whose reader reads an attempt's log; None for a command's attempt, or an agent no longer configured
    (then its output is shown as written)."""
    from buildrunner.agents.registry import reading_agent
    from buildrunner.errors import ConfigError

    if log.agent is None:
        return None
    try:
        return reading_agent(log.agent, manager.project.config)
    except ConfigError:
        return None


def _transcript(manager: "SessionManager", log: "TaskLog", text: str) -> str | None:
    """An agent attempt's JSON stream read into lines by its agent's reader (None: shown as written)."""
    from buildrunner.agents.transcript import transcript

    agent = _reading_agent(manager, log)
    return None if agent is None else "".join(f"{line}\n" for line in transcript(agent, log.model or "", text))


def _followed_reader(manager: "SessionManager", log: "TaskLog", raw: bool) -> "Transcript | None":
    """The reader of an agent attempt's output as it grows; None for a command's, an unknown agent's, or with --raw."""
    from buildrunner.agents.transcript import Transcript

    agent = None if raw else _reading_agent(manager, log)
    return None if agent is None else Transcript(agent, log.model or "")


def _write_from(path: Path, offset: int, reader: "Transcript | None" = None, ended: bool = False) -> int:
    """Print a log from `offset` on (escaped on a terminal; an agent's read into lines by `reader`, whole lines only
    until the attempt has `ended`); how many bytes that was."""
    import sys

    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        data = b""
    if reader is not None:
        lines, used = reader.read(data, ended)
        text = "".join(f"{line}\n" for line in lines)
        sys.stdout.write(terminal_output(text) if sys.stdout.isatty() else text)
        return used
    if not data:
        return 0
    if sys.stdout.isatty():
        sys.stdout.write(terminal_output(data.decode("utf-8", "replace")))
    else:
        _pass_on(data)
    return len(data)


def _pass_on(data: bytes, ends_line: bool = False) -> None:
    """Write a log's bytes to standard output as they are (after the text written before them); `ends_line`: end with a newline."""
    import sys

    sys.stdout.flush()
    sys.stdout.buffer.write(data if not ends_line or not data or data.endswith(b"\n") else data + b"\n")
    sys.stdout.buffer.flush()


def _followed_to_the_end(task: "TaskRecord", attempt: int, state: str) -> None:
    """The closing line of `logs --follow`: how the last attempt and the task ended; exit 1 unless it completed."""
    from buildrunner.errors import ParallelError

    if task.status == "completed":
        stderr().print(f"--- {task.task_id} attempt {attempt} {state}: task completed", markup=False)
        return
    why = f": {printable(task.error.splitlines()[0][:200])}" if task.error else ""
    raise ParallelError(f"task {task.task_id} {task.status} after attempt {attempt} ({state}){why}")


def _task(manager: "SessionManager", session_id: str, task_id: str) -> "TaskRecord | None":
    return next((t for t in manager.list_tasks(session_id) if t.task_id == task_id), None)


def _follow(manager: "SessionManager", session_id: str, task_id: str, raw: bool = False) -> None:
    """Print the task's latest attempt as it is written, a line whenever its agent's progress changes and how each
    attempt ended; exit 1 when the task ends without completing (as `start --wait` does for a session)."""
    import sys
    import time

    offset, current, shown = 0, None, None
    reader: "Transcript | None" = None
    while True:
        task = _task(manager, session_id, task_id)  # read before its logs: an end seen here has all its attempts listed below
        attempts = manager.task_logs(session_id, task_id)
        if attempts:
            last = attempts[-1]
            number, state, path = last.attempt, last.status, last.path
            if number != current:
                if current is not None:  # the attempt followed so far has ended: the rest of its output, then how it ended
                    before = next((a for a in attempts if a.attempt == current), None)  # None: handed back untried
                    if before is not None:
                        _write_from(before.path, offset, reader, ended=True)
                        sys.stdout.flush()
                        stderr().print(f"--- {task_id} attempt {current} {before.status}; attempt {number} follows", markup=False)
                current, offset = number, 0
                reader = _followed_reader(manager, last, raw)
                sys.stdout.write(f"=== {task_id} attempt {number} ({state}) {path} ===\n")
            offset += _write_from(path, offset, reader, ended=state != "running")
            agent = next((a for a in manager.get_session_status(session_id, activity=0).agents if a.task_id == task_id), None)
            if agent is not None and (line := _agent_line(agent)) != shown:
                stderr().print(line, markup=False)
                shown = line
            sys.stdout.flush()
            if task is not None and task.status not in ("running", "pending", "blocked") and state != "running":
                _followed_to_the_end(task, number, state)
                return
        else:
            if task is None or task.status not in ("running", "pending", "blocked"):  # gone, or ended without running
                from buildrunner.errors import ParallelError

                raise ParallelError(f"task {task_id}: " + (f"{task.status}, it never ran" if task else f"not in session {session_id}"))
        time.sleep(0.5)
