"""The live dashboard: progress, workers, recent activity, failures, cost and ETA.

Keys: q quit, r refresh, p pause/resume, s stop. Refreshes every 2 s. When the
output is not a terminal it prints one plain progress line per refresh instead,
so logs and CI stay readable. `render` and `handle_key` work without a terminal,
which is how the tests drive it.
"""

from __future__ import annotations

import select
import sys
import time
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Iterator

from buildrunner.cli.common import printable
from buildrunner.cli.tables import Column
from buildrunner.money import usd
from buildrunner.parallel.models import SessionStatus, WorkerHealth

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

    from buildrunner.parallel.session_manager import SessionManager

REFRESH_S = 2.0
PANEL_CHROME = 4  # the panel's two borders and its padding of one column each side
# The workers table, here and in `br parallel workers`: ids are key columns (never shortened).
WORKER_COLUMNS: tuple[Column, ...] = (
    Column("Worker", key=True), Column("Status"), Column("Current", key=True), Column("Complete", justify="right"),
    Column("Last Ping"), Column("Host/PID", key=True), Column("CPU s", justify="right"), Column("Peak RSS", justify="right"),
)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _ago(seconds: float) -> str:
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"


def worker_row(w: WorkerHealth) -> list["str | Text"]:
    """One worker as a row of WORKER_COLUMNS."""
    from rich.text import Text

    # JSON's words: `offline` once it stopped, was lost or fell silent, with the stored state beside it
    status = w.status if w.healthy else f"{w.status} ({w.state})"
    return [
        w.name, Text(status, style={"active": "green", "idle": "cyan"}.get(status, "red")), w.current_task or "-", str(w.tasks_completed),
        _ago(w.seconds_since_heartbeat), f"{w.hostname}/{w.pid}", f"{w.cpu_seconds:.1f}", f"{w.peak_rss_bytes / 1e6:.0f} MB",
    ]


def progress_line(status: SessionStatus) -> str:
    """One line for logs: `session-x running 12/20 (60%) failed 1 running 3 workers 3 cost $0.12 eta 40s`."""
    return (
        f"{status.session_id} {status.status} {status.completed_tasks}/{status.total_tasks} "
        f"({status.progress_percent:.0f}%) failed {status.failed_tasks} skipped {status.skipped_tasks} "
        f"running {status.running_tasks} workers {status.active_workers} cost {usd(status.cost)} eta {_duration(status.eta_seconds)}"
    )


def render(status: SessionStatus, workers: list[WorkerHealth], message: str = "", width: int | None = None) -> "RenderableType":
    """The dashboard as one Rich renderable, its tables fitted to `width` columns (None: as wide as they need)."""
    from rich.console import Console, Group
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    from buildrunner.cli.common import local_time
    from buildrunner.cli.tables import fit

    inner = None if width is None else width - PANEL_CHROME
    measure = Console(width=inner or 10_000)
    header = Text.assemble(
        (f"{status.name} ", "bold"), (f"({status.session_id})  ", "dim"), (status.status, "bold cyan"),
        (f"  {status.status_reason}" if status.status_reason else "", "yellow"),
    )
    done = status.completed_tasks + status.failed_tasks + status.skipped_tasks + status.cancelled_tasks
    bar = ProgressBar(total=max(status.total_tasks, 1), completed=done, width=50 if inner is None else min(50, inner))
    figures = Text(
        f"{status.completed_tasks}/{status.total_tasks} completed ({status.progress_percent:.0f}%)  "
        f"running {status.running_tasks}  waiting {status.pending_tasks}  failed {status.failed_tasks}  "
        f"skipped {status.skipped_tasks}  cost {usd(status.cost)}  ETA {_duration(status.eta_seconds)}"
    )
    table = fit(measure, WORKER_COLUMNS, [worker_row(w) for w in workers], inner, title="Workers", expand=inner is not None)
    activity_rows = [[local_time(item.ts, "%H:%M:%S"), item.worker, f"{item.action} {item.task_id}"] for item in status.recent_activity]
    activity = fit(
        measure, [Column("time"), Column("worker", key=True), Column("what", key=True)], activity_rows, inner,
        title="Recent activity", show_header=False,
    )
    parts: list[RenderableType] = [header, Padding(bar, 0), figures, table]
    if status.agents:
        agent_rows = [
            [a.task_id, f"{a.agent or 'agent'} {a.tier or ''}".strip(), a.model or "-", str(a.turns), usd(a.cost), a.last_action or "-"]
            for a in status.agents
        ]
        parts.append(
            fit(
                measure, [Column("task", key=True), Column("agent"), Column("model"), Column("turns"), Column("cost"), Column("last action")],
                agent_rows, inner, title="Agents",
            )
        )
    if status.prompts_held:
        parts.append(Text(f"prompt tasks wait: {status.prompts_held}", style="yellow"))
    parts.append(activity)
    if status.failures:
        failure_rows = [[f"{failure.task_id} ({failure.status})", printable(failure.error or "-")] for failure in status.failures]
        parts.append(fit(measure, [Column("task", key=True), Column("why")], failure_rows, inner, title="Failures", show_header=False))
    parts.append(Text(message or "q quit  r refresh  p pause/resume  s stop", style="dim"))
    return Panel(Group(*parts), title="BuildRunner parallel session")


class Dashboard:
    """Drives `render` from the store, in a terminal (Rich Live) or as plain lines."""

    def __init__(self, manager: "SessionManager", session_id: str, console: "Console", keys: IO[str] | None = None) -> None:
        self.manager = manager
        self.session_id = session_id
        self.console = console
        self.keys = keys
        self.message = ""

    def snapshot(self) -> tuple[SessionStatus, list[WorkerHealth]]:
        """The figures and the workers table from one moment, as `status` reads them."""
        with self.manager.snapshot():
            return self.manager.get_session_status(self.session_id), self.manager.list_workers(self.session_id)

    def handle_key(self, key: str) -> bool:
        """Act on a key; False means quit."""
        key = key.lower()
        if key == "q":
            return False
        if key == "p":
            status = self.manager.get_session_status(self.session_id, activity=0)
            if status.status == "running":
                self.manager.pause_session(self.session_id)
                self.message = "paused: running tasks finish, no new ones start (p resumes)"
            elif status.status == "paused":
                self.manager.resume_session(self.session_id)
                self.message = "resumed"
        elif key == "s":
            self.manager.stop_session(self.session_id)
            self.message = "stopping: running tasks get TERM, then KILL after the grace period"
        elif key == "r":
            self.message = "refreshed"
        return True

    def run_plain(self, once: bool = False) -> SessionStatus:
        """A progress line per refresh until the session ends."""
        while True:
            status = self.manager.get_session_status(self.session_id, activity=0)
            self.console.print(progress_line(status), markup=False, highlight=False)
            if once or status.halted:
                return status
            time.sleep(REFRESH_S)

    def run_live(self) -> SessionStatus:
        from rich.live import Live

        with _cbreak(self.keys) as keys, Live(render(*self.snapshot(), width=self.console.width), console=self.console, auto_refresh=False, screen=False) as live:
            while True:
                status, workers = self.snapshot()
                live.update(render(status, workers, self.message, self.console.width), refresh=True)
                if status.halted:
                    return status
                key = _read_key(keys, REFRESH_S)
                if key and not self.handle_key(key):
                    return status


@contextmanager
def _cbreak(stream: IO[str] | None) -> Iterator[IO[str] | None]:
    """Keys without Enter while the dashboard runs; terminal settings restored after."""
    if stream is None or not stream.isatty():
        yield stream
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield stream
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read_key(stream: IO[str] | None, timeout: float) -> str | None:
    if stream is None or not stream.isatty():
        time.sleep(timeout)
        return None
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.read(1) if ready else None


def default_keys() -> IO[str] | None:
    return sys.stdin if sys.stdin.isatty() else None
