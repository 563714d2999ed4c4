"""The supervisor: the parent of a worker process, so that what the worker's tasks do happens once.

`supervise()` forks: the child is the worker (it claims, runs and records tasks), the parent
stays behind as its supervisor, a *child subreaper*: when the worker dies, the task it was
running (and every process the task started) passes to the supervisor, not to init. The
supervisor then settles the attempt on the machine it ran on:

- a task that had already ended keeps its result: its exit is written to the worker's record
  file (`parallel.record`), where a reaper takes it instead of running the task again;
- a task still running is given time to finish by itself: half the lease when the worker died of
  itself (a crash, an OOM kill, kill -9), well inside the time before anyone may call it lost, and
  `FINISHING_S` when the supervisor ended a frozen or lost worker (its task may be retried already).
  One that finishes in time keeps its result, so a deploy a crashed worker was running is not run
  twice; one that does not (or that a stop asks to end) is ended with its whole tree
  (TERM, KILL after the grace period) and recorded as ended, so its retry never runs beside it. The supervisor holds a copy of the read
  ends of the task's output pipes (`Link.hold`), so a task that prints does not die of a broken
  pipe when its worker dies and pass for one that ended by itself.

The worker dies of anything (kill -9, a crash), or is ended by the supervisor: when it sends
nothing for the lease time (it is frozen: by then it may be declared lost and its task
retried elsewhere), or when a reaper that declared it lost asks (SIGUSR1). SIGTERM and SIGINT
are passed on to the worker, which shuts down gracefully. Per task, nothing passes through
the supervisor: it sleeps until the worker dies or goes silent.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import setproctitle

from buildrunner.parallel.record import LOST_SIGNAL, append, kill_tree, last_unfinished, open_record, was_asked

# Seconds a task whose worker the supervisor ended (frozen, or declared lost) may take to exit by itself before it is
# ended (see `_Supervisor._task_end`); a worker that died of itself leaves its task FINISH_SHARE of the lease.
FINISHING_S = 0.5
FINISH_SHARE = 0.5
# At most how often a worker tells its supervisor it is alive (a tenth of the lease when that is shorter): every
# message wakes the supervisor, and a worker running short tasks would otherwise send several per task.
ALIVE_EVERY_S = 0.1

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

# How worker processes show in `ps`: what one types to start one (`name_process`); the forked child that runs the tasks
# shows as the runner, so that `pkill -f "br parallel worker"` never kills a supervisor and its worker together.
WORKER_TITLE = "br parallel worker "
RUNNER_TITLE = "br parallel runner "


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


_LIBC = _libc()


def prctl(option: int, value: int) -> None:
    if _LIBC is not None:
        _LIBC.prctl(option, value, 0, 0, 0)


def name_process(session_id: str) -> None:
    """A worker shows in `ps` as what one types to start it, however it was started (forked, spawned, by hand)."""
    setproctitle.setproctitle(WORKER_TITLE + session_id)


def _name_runner() -> None:
    """The forked worker child of a process named as a worker (not a library caller's) shows as its runner."""
    title = setproctitle.getproctitle()
    if title.startswith(WORKER_TITLE):
        setproctitle.setproctitle(RUNNER_TITLE + title[len(WORKER_TITLE):])


def become_subreaper() -> None:
    """Orphaned descendants of this process become its children rather than init's."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


class Link:
    """The worker's end of the line to its supervisor: its record file once known, that it is alive, and the
    read ends of each task's output pipes (`hold`)."""

    def __init__(self, fd: int, supervisor: int, every: float = ALIVE_EVERY_S, pipes: socket.socket | None = None) -> None:
        self.fd = fd
        self.supervisor = supervisor
        self.supervisor_started = psutil.Process(supervisor).create_time()
        self.every = every
        self.sent = -math.inf
        self.pipes = pipes

    def hold(self, fds: list[int]) -> None:
        """Give the supervisor a copy of the task's output pipes, so that when the worker dies the task's writes still
        have a reader: a task must not end itself on a broken pipe (EPIPE) and be taken for one that finished.
        No fds: the task is over, let its pipes go (a leftover still writing meets a broken pipe, as before)."""
        if self.pipes is not None:
            try:
                if fds:
                    socket.send_fds(self.pipes, [b"p"], fds)
                else:
                    self.pipes.send(b"r")
            except OSError:
                pass  # no supervisor to hold them: the task is on its own, as before

    def _send(self, line: str) -> None:
        self.sent = time.monotonic()
        try:
            os.write(self.fd, line.encode() + b"\n")
        except (BlockingIOError, BrokenPipeError):
            pass  # a full pipe already says "alive"; a broken one means no supervisor is left to tell

    def record(self, path: str) -> None:
        self._send("record " + path)

    def alive(self) -> None:
        if time.monotonic() - self.sent >= self.every:
            self._send("")

    def report(self, report: dict[str, Any]) -> None:
        self._send("report " + json.dumps(report))


def supervise(work: Callable[[Link], int], lease: float, grace: float) -> tuple[int, dict[str, Any] | None]:
    """Run `work(link)` in a forked worker child and supervise it; returns its exit code and the report it sent.

    `lease`: end the worker when it has sent nothing for this many seconds (0: never).
    `grace`: seconds between TERM and KILL when ending a task it left running.
    """
    become_subreaper()
    link_r, link_w = os.pipe()
    pipes_sup, pipes_worker = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(link_r)
            pipes_sup.close()
            pipes_worker.setblocking(False)
            # Its own process group and title: a kill -9 of the supervisor's group, or by the worker's name, leaves one
            # of the two alive to settle the task (both killed, a task finishing meanwhile had no one to record it).
            os.setpgid(0, 0)
            _name_runner()
            prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))  # the supervisor is gone: shut down, as if asked to
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
            os.set_blocking(link_w, False)
            become_subreaper()
            code = work(Link(link_w, parent, min(ALIVE_EVERY_S, lease / 10) if lease > 0 else ALIVE_EVERY_S, pipes_worker))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException as exc:  # noqa: BLE001 - a forked child must never return into the caller's code
            os.write(2, f"error: worker: unexpected {type(exc).__name__}: {exc}\n".encode("utf-8", "replace"))
        finally:
            os._exit(code)
    os.close(link_w)
    pipes_worker.close()
    pipes_sup.setblocking(False)  # socket.recv_fds drops its flags argument (Python 3.11): MSG_DONTWAIT would not reach recvmsg
    try:
        return _Supervisor(pid, link_r, lease, grace, pipes_sup).run()
    finally:
        pipes_sup.close()


class _Supervisor:
    def __init__(self, worker: int, link: int, lease: float, grace: float, pipes: socket.socket | None = None) -> None:
        self.worker, self.link, self.lease, self.grace = worker, link, lease, grace
        self.pipes = pipes
        self.held: list[int] = []  # read ends of the running task's output pipes (see Link.hold)
        self.pipes_open = True  # until the worker closes its end
        self.buffer = b""
        self.listening = True
        self.record: Path | None = None
        self.report: dict[str, Any] | None = None
        self.signals: list[int] = []
        self.reaped: dict[int, int] = {}
        self.born: dict[int, float] = {}  # start time of each child reaped (to tell the task among the orphans)
        self.why: str | None = None  # why the supervisor ended the worker
        self.heard = time.monotonic()

    def run(self) -> tuple[int, dict[str, Any] | None]:
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
        previous = signal.set_wakeup_fd(wake_w)
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, LOST_SIGNAL)}
        try:
            while self.worker not in self.reaped:
                self._step(wake_r)
            self._settle()
        finally:
            signal.set_wakeup_fd(previous)
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            for fd in (wake_r, wake_w, self.link):
                os.close(fd)
        status = self.reaped[self.worker]
        return (os.waitstatus_to_exitcode(status) if status >= 0 else 1), self.report

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signals.append(signum)

    def _step(self, wake: int) -> None:
        fds = [wake] + ([self.link] if self.listening else []) + ([self.pipes.fileno()] if self.pipes is not None and self.pipes_open else [])
        timeout = None
        if self.lease > 0 and self.why is None:
            timeout = max(0.0, self.heard + self.lease - time.monotonic())
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            ready = []
        if wake in ready:
            try:
                while os.read(wake, 512):
                    pass
            except BlockingIOError:
                pass
        if self.listening and self.link in ready:
            self._hear()
        if self.pipes is not None and self.pipes.fileno() in ready:
            self._take_pipes()
        while self.signals:
            sig = self.signals.pop(0)
            if sig in (signal.SIGTERM, signal.SIGINT):
                self._tell_worker(signal.SIGTERM)
            elif sig == LOST_SIGNAL and self.record is not None and was_asked(self.record):
                # only about this worker: a reaper settling the worker that died before it (restarted since) finds
                # this supervisor named in that one's record, and must not end the new one
                self._end_worker("declared lost by a reaper")
        self._reap()
        if self.lease > 0 and self.why is None and self.worker not in self.reaped and time.monotonic() - self.heard > self.lease:
            self._end_worker(f"silent for more than {self.lease:g}s (frozen?)")

    def _hear(self) -> None:
        data = os.read(self.link, 65536)
        self.heard = time.monotonic()
        if not data:
            self.listening = False  # the worker closed its end: it is exiting; SIGCHLD follows
            return
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace")
            if text.startswith("record "):
                self.record = Path(text[len("record "):])
            elif text.startswith("report "):
                self.report = json.loads(text[len("report "):])

    def _take_pipes(self) -> None:
        """Keep the running task's pipes (a worker runs one task at a time); let them go when it is over."""
        assert self.pipes is not None
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.pipes, 16, 8)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.pipes_open = False
                return
            if not data and not fds:  # the worker closed its end
                self.pipes_open = False
                return
            self._let_go()
            self.held = list(fds)
            for fd in self.held:
                os.set_blocking(fd, False)

    def _drain(self) -> None:
        """Read what the orphaned task writes (dropped: its worker, which masks and logs it, is gone), so it never
        blocks on a full pipe while it is given time to exit."""
        for fd in self.held:
            try:
                while os.read(fd, 65536):
                    pass
            except (BlockingIOError, OSError):
                pass

    def _let_go(self) -> None:
        for fd in self.held:
            os.close(fd)
        self.held = []

    def _tell_worker(self, sig: int) -> None:
        try:
            os.kill(self.worker, sig)
        except ProcessLookupError:
            pass

    def _end_worker(self, why: str) -> None:
        if self.why is None:
            self.why = why
        self._tell_worker(signal.SIGKILL)

    def _reap(self) -> None:
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            try:
                self.born[info.si_pid] = psutil.Process(info.si_pid).create_time()  # a zombie still has its start time
            except psutil.Error:
                pass
            _, status = os.waitpid(info.si_pid, 0)
            self.reaped[info.si_pid] = status

    def _settle(self) -> None:
        """The worker is gone: record (or end and record) the attempt it was running, then end what is left."""
        if self.pipes is not None:
            self._take_pipes()
        unfinished = last_unfinished(self.record) if self.record else None
        reason = self.why or "its worker died"
        if unfinished is not None:
            task_id, attempt, task = unfinished
            assert self.record is not None
            fd = open_record(self.record)
            try:
                if task is None:  # the worker died between spawning the task and writing its pid
                    task = self._orphaned_task()
                    if task is not None:
                        append(fd, task_id, attempt, {"started": {"task": task}})
                exit = self._task_end(task, reason) if task is not None else {"outcome": "ended", "reason": f"{reason} before its task started"}
                append(fd, task_id, attempt, {"exit": exit})
            finally:
                os.close(fd)
        self._let_go()
        me = psutil.Process()
        deadline = time.monotonic() + self.grace
        sig = signal.SIGTERM
        while kill_tree(me, sig):
            self._reap()
            if time.monotonic() >= deadline:
                sig = signal.SIGKILL
            time.sleep(0.01)
        self._reap()

    def _orphaned_task(self) -> int | None:
        """The task among the worker's orphans: the first of them to start (everything else it started later)."""
        self._reap()
        born = {pid: at for pid, at in self.born.items() if pid != self.worker}
        try:
            for child in psutil.Process().children():
                born.setdefault(child.pid, child.create_time())
        except psutil.Error:
            pass
        return min(born, key=born.__getitem__) if born else None

    def _task_end(self, task: int, reason: str) -> dict[str, Any]:
        """How the orphaned task ended: by itself (its result counts), or ended now.

        A task is given time to exit by itself first (see the module docstring): one killed between its
        last action and its exit, or in the middle of a deploy, would be retried, and its side effect would
        happen twice. A stop ends the wait.
        """
        started = time.monotonic()
        window = FINISHING_S if self.why is not None or self.lease <= 0 else max(FINISHING_S, self.lease * FINISH_SHARE)
        while True:
            self._drain()
            status = self._exit_status(task)
            if status is not None or time.monotonic() - started >= window or self._asked_to_end():
                break
            time.sleep(0.01)
        if status is not None:
            code = os.waitstatus_to_exitcode(status)
            if code != -signal.SIGPIPE:  # a task killed by writing to its dead worker's pipe did not end by itself
                return {"outcome": "exited", "code": code, "duration_ms": None}
        termed = time.monotonic()
        try:
            os.killpg(task, signal.SIGTERM)
        except OSError:
            pass
        kill_tree(psutil.Process(), signal.SIGTERM)
        while task not in self.reaped and time.monotonic() - termed < self.grace:
            time.sleep(0.01)
            self._drain()
            self._reap()
        if task not in self.reaped:
            try:
                os.killpg(task, signal.SIGKILL)
            except OSError:
                pass
            kill_tree(psutil.Process(), signal.SIGKILL)
        return {"outcome": "ended", "reason": reason, "duration_ms": None}

    def _asked_to_end(self) -> bool:
        """A stop (SIGTERM, SIGINT) arrived while the task was finishing. A reaper's ask is answered when the window
        closes: it waits for the record up to `reaper.supervisor_patience`, longer than the window and the grace."""
        return any(sig in (signal.SIGTERM, signal.SIGINT) for sig in self.signals)

    def _exit_status(self, task: int) -> int | None:
        """The task's wait status if it has exited (it may stay a zombie, for `_settle`'s tree walk), else None."""
        self._reap()
        status = self.reaped.get(task)
        if status is None:
            try:
                info = os.waitid(os.P_PID, task, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is not None:
                status = info.si_status << 8 if info.si_code == os.CLD_EXITED else info.si_status
        return status
