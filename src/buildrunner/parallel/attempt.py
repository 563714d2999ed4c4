"""One attempt, as its worker runs it: the task's process tree, its output masked as it streams, its end recorded.

The worker is a *child subreaper*, so every process the task starts stays its descendant
even when an intermediate parent exits, and ending the attempt ends all of them (TERM to the
task's group and every descendant; KILL after the grace period). Output goes through pipes
and reaches the log masked, line by line, while the task runs. The task's end is written to
the worker's record file (`parallel.record`) *before* the worker reaps the process: if the
worker dies in between, the unreaped task passes to its supervisor, which writes it.
"""

from __future__ import annotations

import os
import select
import signal
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from buildrunner.parallel.record import AttemptFiles, ExitRecord, append, fenced, kill_tree, locked
from buildrunner.security.stream_masking import StreamMasker
from buildrunner.words import plural

# `starttime` in /proc/<pid>/stat: clock ticks from boot to the process's start; its index among the fields after the
# command name's closing parenthesis (field 22 of proc(5), counted from the state, field 3).
_STARTTIME_FIELD = 19
_FLAGS_FIELD = 6  # `flags` (field 9): PF_EXITING says the process is in its exit path
PF_EXITING = 0x4
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

if TYPE_CHECKING:
    from buildrunner.security.rules import RuleSet

IDLE_FLUSH_S = 0.5
LEFTOVER_GRACE_S = 2.0  # what a finished task left running gets TERM, then KILL after this (at most the grace)
READ_CHUNK = 65536
# Signals Python changes for itself that a task must get back at their defaults.
_RESET_SIGNALS = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None), getattr(signal, "SIGXFZ", None)) if s)


def exiting(pid: int) -> bool:
    """Whether process `pid` is already exiting by itself (a zombie, or the kernel's PF_EXITING): it ran to its end,
    and a TERM now would change nothing but the record (a task that had finished was recorded as ended, and run again
    by `resume --retry-failed`). Linux's /proc; elsewhere False."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rpartition(b")")[2].split()
    except OSError:
        return False
    return len(fields) > _FLAGS_FIELD and (fields[0] in (b"Z", b"X") or bool(int(fields[_FLAGS_FIELD]) & PF_EXITING))


@dataclass(frozen=True)
class Launch:
    """What an attempt runs: argv[0] is the program's absolute path."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    files: AttemptFiles
    timeout: float
    grace: float
    stdin: bytes | None = None
    split_stderr: bool = False
    on_line: Callable[[str], None] | None = None  # each line of standard output, masked, as it comes


@dataclass(frozen=True)
class RecordFile:
    """The worker's record file: its path, its open descriptor, and the supervisor named in each start."""

    path: Path
    fd: int
    supervisor: int
    supervisor_started: float
    hold: Callable[[list[int]], None] | None = None  # hands the task's output pipes to the supervisor (`Link.hold`)


class _Output:
    """One output stream of the task: masked as it arrives, appended to its log (made on the first output).

    `on_line` gets each complete line, masked, as it is written (an agent's JSON lines, for live progress).
    """

    def __init__(self, path: Path, rules: "RuleSet", on_line: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.fd: int | None = None
        self.masker = StreamMasker(rules)
        self.last_data = time.monotonic()
        self.on_line = on_line
        self._partial = ""
        self.error: str | None = None  # why the log could not be written (a full disk, its folder removed): said, not fatal

    def write(self, text: str) -> None:
        if text:
            data = text.encode("utf-8", "surrogateescape")  # the task's own bytes, masked (StreamMasker)
            self._log(data)
            if self.on_line is not None:
                *lines, self._partial = (self._partial + data.decode("utf-8", "replace")).split("\n")
                for line in lines:
                    self.on_line(line + "\n")

    def _log(self, data: bytes) -> None:
        """Append `data` whole (a write may take part of it); a log that cannot be written is given up, never the
        task: its output is still read (a full pipe would block it) and masked, and the failure is said afterwards."""
        if self.error is not None:
            return
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            self.error = f"{self.path.name}: {exc.strerror or exc}"

    def close(self) -> None:
        self.write(self.masker.flush())
        if self.on_line is not None and self._partial:
            self.on_line(self._partial)  # a last line without its newline (a truncated stream)
            self._partial = ""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_note(path: Path, text: str) -> None:
    """A line of BuildRunner's own in an attempt's log (private, as the log is), where its output would be."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _stdin_fd(data: bytes | None) -> int:
    """A descriptor to read `data` from (a memory file, never on disk, where the kernel has them), or /dev/null."""
    if data is None:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd = os.memfd_create("br-stdin", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        with tempfile.TemporaryFile() as handle:
            fd = os.dup(handle.fileno())
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Attempt:
    """Start with `start()`, then call `wait()` until it returns True; `stop()` ends it early."""

    def __init__(self, launch: Launch, rules: "RuleSet", record: RecordFile | None, *, claimed: float, lease: float) -> None:
        """`record`: the worker's record file, or None for a step run outside any attempt (`isolation.run_step`)."""
        self.launch = launch
        self.rules = rules
        self.record = record
        self.claimed = claimed  # when the store last confirmed the worker still held its claims (time.monotonic())
        self.lease = lease
        self.exit: dict[str, Any] | None = None
        self.task: int | None = None
        self.ending: str | None = None
        self.kill_at: float | None = None
        self.outputs: dict[int, _Output] = {}
        self.reading: dict[int, _Output] = {}
        self._pidfd: int | None = None
        self._done = False

    # -- start -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the task, unless a reaper fenced the attempt or the claim is older than the lease (then it is ended)."""
        self.started = time.monotonic()
        with locked(self.record.fd) if self.record is not None else nullcontext():
            refusal = self._refusal()
            if refusal is not None:
                self._record({"outcome": "ended", "reason": refusal, "duration_ms": 0.0})
                return
            # Before the spawn: if the worker dies between the two, its supervisor still knows an attempt began.
            if self.record is not None:
                self._append({"starting": {"supervisor": self.record.supervisor, "created": self.record.supervisor_started}})
            try:
                self.task = self._spawn()
            except (OSError, ValueError) as exc:
                self._record({"outcome": "error", "error": f"could not start {self.launch.argv[0]}: {exc}", "duration_ms": 0.0})
                return
            self._append({"started": {"task": self.task, "created": _created(self.task)}})
        self.deadline = self.started + self.launch.timeout
        try:
            self._pidfd = os.pidfd_open(self.task)
        except (AttributeError, OSError):  # not Linux >= 5.3: wait in short steps instead
            self._pidfd = None

    def _refusal(self) -> str | None:
        """Why this attempt must not start, if it must not: the worker may have lost it meanwhile."""
        files = self.launch.files
        if self.record is not None and fenced(self.record.path, files.task_id, files.attempt):
            return "settled by a reaper before it started (its worker was declared lost)"
        if self.lease > 0 and time.monotonic() - self.claimed > self.lease:
            return "the worker was silent past the heartbeat timeout since it claimed the task: it may have been declared lost"
        return None

    def _spawn(self) -> int:
        launch = self.launch
        out_r, out_w = os.pipe()
        self.outputs = {out_r: _Output(launch.files.log, self.rules, launch.on_line)}
        err_w = out_w
        if launch.split_stderr:
            err_r, err_w = os.pipe()
            self.outputs[err_r] = _Output(launch.files.err, self.rules)
        stdin = _stdin_fd(launch.stdin)
        cwd = os.getcwd()
        try:
            os.chdir(launch.cwd)
            pid = os.posix_spawn(
                launch.argv[0], launch.argv, launch.env,
                file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)],
                setsid=True, setsigdef=_RESET_SIGNALS,
            )
        except BaseException:
            for fd, output in self.outputs.items():
                os.close(fd)
                output.close()
            self.outputs = {}
            raise
        finally:
            os.chdir(cwd)
            for fd in {stdin, out_w, err_w}:
                os.close(fd)
        for fd in self.outputs:
            os.set_blocking(fd, False)
        self.reading = dict(self.outputs)
        if self.record is not None and self.record.hold is not None:
            self.record.hold(list(self.outputs))
        return pid

    def _record(self, exit: dict[str, Any]) -> None:
        self.exit = exit
        self._append({"exit": exit})

    def _append(self, entry: dict[str, Any]) -> None:
        if self.record is not None:
            append(self.record.fd, self.launch.files.task_id, self.launch.files.attempt, entry)

    # -- run -------------------------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Stream output and watch the task for up to `timeout` seconds; True once it has ended and its output is in."""
        if self._done:
            return True
        if self.task is None:
            self._done = True
            return True
        until = time.monotonic() + timeout
        while self.exit is None:
            now = time.monotonic()
            due = [until, self.deadline if self.ending is None else until, self.kill_at or until]
            if any(out.masker.holding for out in self.outputs.values()):
                due.append(now + IDLE_FLUSH_S)
            ready = self._poll(max(0.0, min(due) - now))
            for fd in ready:
                if fd in self.reading and not self._read(fd):
                    del self.reading[fd]
            self._check_exit()
            now = time.monotonic()
            for output in self.outputs.values():
                if output.masker.holding and now - output.last_data >= IDLE_FLUSH_S:
                    output.write(output.masker.idle())
            if self.exit is not None:
                break
            if self.ending is None and now >= self.deadline:
                self._end("timeout", self.launch.grace)
            if self.kill_at is not None and now >= self.kill_at:
                self._signal_tree(signal.SIGKILL)
                self.kill_at = None
            if now >= until:
                return False
        self._finish()
        return True

    @property
    def output_errors(self) -> list[str]:
        """Why parts of the task's output are missing from its logs (the task itself ran on)."""
        return [out.error for out in self.outputs.values() if out.error is not None]

    def abandon(self, reason: str) -> None:
        """Something of ours failed while the task ran: end its tree now and wait for it (bounded), so that a retry
        never runs beside it. Used where `wait` cannot be trusted any more."""
        if self.task is None or self._done:
            return
        self.ending = self.ending or reason
        self._signal_tree(signal.SIGKILL)
        deadline = time.monotonic() + ABANDON_WAIT_S
        while time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(self.task, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                code = os.waitstatus_to_exitcode(status)
                try:
                    self._record({"outcome": "ended", "reason": reason, "code": code, "duration_ms": (time.monotonic() - self.started) * 1000})
                except OSError:
                    pass  # the record could not be written either: the supervisor's view is what is left
                break
            time.sleep(0.01)
        self._signal_tree(signal.SIGKILL)  # what it left behind
        for fd in list(self.outputs):
            try:
                os.close(fd)
            except OSError:
                pass
        self._done = True

    def stop(self, reason: str, *, force: bool = False) -> None:
        """End the tree: TERM, then KILL after the grace period (at once with `force`)."""
        if self.task is not None and self.exit is None:
            self._end(reason, 0.0 if force else self.launch.grace)

    def result(self) -> ExitRecord:
        if self.record is None:
            return ExitRecord(task_pid=self.task, exit=self.exit)
        return ExitRecord(self.record.supervisor, self.record.supervisor_started, self.task, self.exit)

    def _poll(self, seconds: float) -> list[int]:
        """Wait for output or the task's end (its pidfd); without a pidfd, in short steps."""
        fds = [*self.reading, *([self._pidfd] if self._pidfd is not None else [])]
        if self._pidfd is None:
            seconds = min(seconds, 0.01)
        if not fds:
            time.sleep(seconds)
            return []
        ready, _, _ = select.select(fds, [], [], seconds)
        return ready

    def _read(self, fd: int) -> bool:
        """Read what is there; False at end of file."""
        output = self.outputs[fd]
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return True
        if not data:
            return False
        output.last_data = time.monotonic()
        output.write(output.masker.feed(data))
        return True

    def _check_exit(self) -> None:
        """Record the task's end the moment it is seen, before reaping it (see the module docstring)."""
        assert self.task is not None
        try:
            info = os.waitid(os.P_PID, self.task, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = None
        if info is None:
            return
        code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        duration_ms = (time.monotonic() - self.started) * 1000
        if self.ending == "timeout":
            exit: dict[str, Any] = {"outcome": "timeout", "code": code, "timeout_s": self.launch.timeout}
        elif self.ending is not None:
            exit = {"outcome": "ended", "reason": self.ending, "code": code}
        else:
            exit = {"outcome": "exited", "code": code}
        exit["duration_ms"] = duration_ms
        self._record(exit)
        try:
            os.waitpid(self.task, 0)
        except ChildProcessError:
            pass

    def _end(self, reason: str, grace: float) -> None:
        self._check_exit()
        if self.exit is not None or (self.ending is None and self.task is not None and exiting(self.task)):
            return  # it finished by itself first (or is on its way out): that is its result
        if self.ending is None:
            self.ending = reason
            self._signal_tree(signal.SIGTERM if grace > 0 else signal.SIGKILL)
            self.kill_at = time.monotonic() + grace if grace > 0 else None
        elif grace == 0:
            self._signal_tree(signal.SIGKILL)
            self.kill_at = None

    def _signal_tree(self, sig: int) -> int:
        """Signal the task's group and every process under this one; how many processes were under it."""
        if self.task is not None:
            try:
                os.killpg(self.task, sig)
            except OSError:
                pass
        return kill_tree(psutil.Process(), sig)

    def _finish(self) -> None:
        """End what the task left running (a background job, a daemon: TERM, then KILL); drain and close the output."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        deadline = time.monotonic() + min(LEFTOVER_GRACE_S, self.launch.grace)
        sig = signal.SIGTERM
        left = 0
        while _reap_any():
            left = max(left, self._signal_tree(sig))
            if time.monotonic() >= deadline:
                sig = signal.SIGKILL
            time.sleep(0.01)
        if left and self.record is not None and self.exit is not None and self.exit.get("outcome") == "exited":  # a worker's task
            write_note(  # said where its output is: a background job (nohup, &) silently gone surprised a user
                self.launch.files.log,
                f"[br] the task exited leaving {plural(left, 'process', 'processes')} running; {'it was' if left == 1 else 'they were'} ended with it "
                "(run a service that must outlive its task outside BuildRunner)\n",
            )
        open_fds = set(self.reading)
        drain_until = time.monotonic() + 5.0
        while open_fds and time.monotonic() < drain_until:
            ready, _, _ = select.select(list(open_fds), [], [], 0.1)
            for fd in ready:
                if not self._read(fd):
                    open_fds.discard(fd)
        for fd, output in self.outputs.items():
            os.close(fd)
            output.close()
        if self.record is not None and self.record.hold is not None:
            self.record.hold([])  # the supervisor lets go of them too
        self._done = True


ABANDON_WAIT_S = 5.0  # a killed tree is gone within this; an unkillable process (D state) is left to the supervisor


def _reap_any() -> bool:
    """Collect exited children (orphans the task left, re-parented to this subreaper); whether any still run."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _created(pid: int) -> float | None:
    """The process's start time as psutil's `create_time()` gives it (to know it later from a process that reuses its pid).

    Read from /proc in one go where there is one: the boot time, fixed, is read once, where psutil reads
    it again (and builds a Process) on every call, and this runs for every task.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return int(fields[_STARTTIME_FIELD]) / _CLOCK_TICKS + _boot_time()
    except (OSError, ValueError, IndexError):
        try:
            return psutil.Process(pid).create_time()
        except psutil.Error:
            return None


@cache
def _boot_time() -> float:
    return psutil.boot_time()
