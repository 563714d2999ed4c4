"""The supervisor: a small process between a worker and the process trees of its attempts.

Each worker forks one supervisor when it starts (the worker is single-threaded, so the fork
is safe, and the child inherits the compiled masking rules); the supervisor runs the worker's
attempts one at a time, as the worker asks over a pipe. For each attempt it:

- starts the task in a session of its own and is its *child subreaper*, so every process the
  task starts stays its descendant even when an intermediate parent exits;
- reads the task's output and writes it to the attempt's log masked, line by line, as it runs;
- writes the task's exit status to the attempt's record file the moment the task exits, where
  it outlives the worker: a task that ends while its worker is frozen or dead keeps its result;
- ends the whole tree (TERM to it, KILL after the grace period; every descendant, not only the
  task's process group) on a timeout, on a stop from the worker, when the worker dies (the end
  of its control pipe), when the worker has sent nothing for the lease time (it is frozen: by
  then it may be declared lost), and on SIGUSR1 from a reaper that declared the worker lost;
- after the task exits, ends whatever it left behind.

The worker's record file (one per worker, appended to) holds JSON lines: for each attempt,
`{"task", "attempt", "started": {...}}` with the supervisor's and the task's pid, then
`{"task", "attempt", "exit": {...}}`. A reaper on the same machine reads it (`read_record`) and
ends the attempt of a lost worker (`end_orphan`), so a retry never runs beside the first attempt.

One supervisor per worker rather than one per attempt, one record file per worker, and a log
only for an attempt that prints something: forking a worker costs about 2 ms here (its page
tables) and creating a file about 0.2 ms, against about 1.6 ms for all of xargs' work per task.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import select
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from buildrunner.paths import make_private_dir
from buildrunner.security.stream_masking import StreamMasker

if TYPE_CHECKING:
    from buildrunner.security.rules import RuleSet

PR_SET_CHILD_SUBREAPER = 36
KILL_SIGNAL = signal.SIGUSR1  # from a reaper: end the running attempt's tree at once
LEFTOVER_GRACE_S = 2.0  # what a finished task left running gets TERM, then KILL after this
IDLE_FLUSH_S = 0.5
READ_CHUNK = 65536
# Signals Python changes for itself that a task must get back at their defaults.
_RESET_SIGNALS = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None), getattr(signal, "SIGXFZ", None)) if s)


@dataclass(frozen=True)
class AttemptFiles:
    """Where one attempt's output goes, derived here only: its log and, for agents, its stderr log.

    A log exists only once the attempt printed something.
    """

    task_id: str
    attempt: int
    log: Path
    err: Path

    @classmethod
    def of(cls, logs_dir: Path, session_id: str, task_id: str, attempt: int) -> "AttemptFiles":
        base = logs_dir / session_id / f"{task_id}.{attempt}"
        return cls(task_id, attempt, log=base.with_name(base.name + ".log"), err=base.with_name(base.name + ".err.log"))


def record_path(logs_dir: Path, session_id: str, worker_id: str) -> Path:
    """The record file of a worker's attempts (written by its supervisor)."""
    return logs_dir / session_id / f"{worker_id}.run"


@dataclass(frozen=True)
class Launch:
    """What a supervisor runs: argv[0] is the program's absolute path."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    files: AttemptFiles
    timeout: float
    grace: float
    claimed: float  # when the worker claimed the attempt (time.monotonic(), this machine)
    stdin: bytes | None = None
    split_stderr: bool = False


@dataclass
class ExitRecord:
    """What a supervisor wrote: whether the task started, and how it ended (None while it runs)."""

    supervisor_pid: int | None = None
    supervisor_started: float | None = None
    task_pid: int | None = None
    exit: dict[str, Any] | None = None

    @property
    def outcome(self) -> str | None:
        """exited | timeout | ended | error, or None when no exit was recorded."""
        return None if self.exit is None else str(self.exit.get("outcome"))

    @property
    def own_result(self) -> bool:
        """The task ended by itself (or timed out): a result, not an attempt cut short by us."""
        return self.outcome in ("exited", "timeout", "error")


def read_record(path: Path, task_id: str, attempt: int) -> ExitRecord:
    """What the record file says of one attempt, as far as it was written (a torn last line is ignored)."""
    record = ExitRecord()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return record
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("task") != task_id or entry.get("attempt") != attempt:
            continue
        if "started" in entry:
            started = entry["started"]
            record.supervisor_pid, record.supervisor_started, record.task_pid = started.get("supervisor"), started.get("created"), started.get("task")
        elif "exit" in entry:
            record.exit = entry["exit"]
    return record


def _libc() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


_LIBC = _libc()


def _prctl(option: int, value: int) -> None:
    if _LIBC is not None:
        _LIBC.prctl(option, value, 0, 0, 0)


def _same_process(pid: int | None, created: float | None) -> psutil.Process | None:
    """`pid` if it is still the process that started at `created` (not a later one given the pid)."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or (created is not None and abs(proc.create_time() - created) > 1.0):
            return None
        return proc
    except psutil.Error:
        return None


def kill_tree(root: psutil.Process, sig: int) -> int:
    """Send `sig` to every descendant of `root` (found through /proc); returns how many got it."""
    try:
        found = root.children(recursive=True)
    except psutil.Error:
        return 0
    for proc in found:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass
    return len(found)


def fence_path(record: Path) -> Path:
    """Attempts a reaper settled before their supervisor started them: never to be started after all."""
    return record.with_suffix(".fence")


def _fenced(record: Path, task_id: str, attempt: int) -> bool:
    try:
        text = fence_path(record).read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return json.dumps([task_id, attempt]) in text.splitlines()


@contextmanager
def _locked(fd: int) -> Iterator[None]:
    """The record file's lock: a supervisor starting an attempt and a reaper settling it take turns."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def end_orphan(path: Path, task_id: str, attempt: int, timeout: float = 10.0) -> ExitRecord:
    """End a lost worker's attempt on this machine and return its record.

    Under the record's lock: an attempt its supervisor has not started yet is fenced (it never
    will be: its worker may only have been frozen between claiming it and asking for it). One
    still running is ended at once by its supervisor, and the record read until it holds the
    exit; a supervisor that is gone (or does not answer within `timeout`) has the task's tree
    killed directly. The record then says whether the task finished by itself first (its
    result counts) or not (the task is retried).
    """
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        with _locked(fd):
            record = read_record(path, task_id, attempt)
            if record.exit is None and record.supervisor_pid is None:
                with open(fence_path(path), "a", encoding="utf-8", opener=_private) as fence:
                    fence.write(json.dumps([task_id, attempt]) + "\n")
                return record
    finally:
        os.close(fd)
    if record.exit is not None:
        return record
    supervisor = _same_process(record.supervisor_pid, record.supervisor_started)
    if supervisor is not None:
        try:
            supervisor.send_signal(KILL_SIGNAL)
        except psutil.Error:
            supervisor = None
    deadline = time.monotonic() + timeout
    while supervisor is not None and time.monotonic() < deadline:
        record = read_record(path, task_id, attempt)
        if record.exit is not None:
            return record
        if not supervisor.is_running() or supervisor.status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.02)
    if supervisor is not None and supervisor.is_running():  # it did not answer: end what it ran ourselves
        kill_tree(supervisor, signal.SIGKILL)
    if record.task_pid:
        try:
            os.killpg(record.task_pid, signal.SIGKILL)
        except OSError:
            pass
    return read_record(path, task_id, attempt)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _close_all_but(*keep: int) -> None:
    """Close every descriptor the worker had open except `keep`: above all its database connection.

    A copy of the worker's socket held here would keep the worker's session (and any row lock of
    a transaction it was in) open on the server after the worker is killed, stalling every
    other worker until the supervisor exits. Closing the copy leaves the worker's own intact.
    """
    highest = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096
    low = 0
    for fd in [*sorted(set(keep)), highest]:
        if low < fd:  # closerange(n, n) would close everything on some Pythons
            os.closerange(low, fd)
        low = fd + 1


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


class _Output:
    """One output stream of the task: masked as it arrives, appended to its log."""

    def __init__(self, path: Path, rules: "RuleSet") -> None:
        self.path = path
        self.fd: int | None = None  # opened on the first output: most tasks print nothing
        self.masker = StreamMasker(rules)
        self.last_data = time.monotonic()

    def write(self, text: str) -> None:
        if text:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
            os.write(self.fd, text.encode("utf-8", "replace"))

    def close(self) -> None:
        self.write(self.masker.flush())
        if self.fd is not None:
            os.close(self.fd)


class Supervisor:
    """A worker's supervisor process, as the worker sees it: one attempt at a time."""

    def __init__(self, pid: int, control: int, replies: int, record: Path) -> None:
        self.pid = pid
        self.record = record
        self._control = control
        self._replies = replies
        self._buffer = b""
        self.current: AttemptFiles | None = None

    @classmethod
    def start(cls, rules: "RuleSet", lease_timeout: float, record: Path) -> "Supervisor":
        """Fork the supervisor; it masks output with `rules` (compiled before the fork, so inherited).

        `record`: the worker's record file (`record_path`), appended to.

        `lease_timeout`: a running attempt is ended when the worker has sent nothing for this long
        (it is frozen; by then it may have been declared lost and its task retried elsewhere).
        """
        control_r, control_w = os.pipe()
        replies_r, replies_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _close_all_but(0, 1, 2, control_r, replies_w)
                code = _Serve(rules, lease_timeout, control_r, replies_w, record).run()
            except BaseException as exc:  # noqa: BLE001 - a forked child must never return into the worker's code
                os.write(2, f"error: supervisor: unexpected {type(exc).__name__}: {exc}\n".encode("utf-8", "replace"))
                code = 1
            finally:
                os._exit(code)
        os.close(control_r)
        os.close(replies_w)
        return cls(pid, control_w, replies_r, record)

    def _send(self, message: dict[str, Any]) -> bool:
        try:
            os.write(self._control, (json.dumps(message) + "\n").encode())
            return True
        except OSError:  # the supervisor is gone: `wait` will say so
            return False

    def run(self, launch: Launch) -> None:
        """Start an attempt; `wait` for its end."""
        self.current = launch.files
        self._send({"run": {
            "argv": launch.argv, "cwd": str(launch.cwd), "env": launch.env, "timeout": launch.timeout, "grace": launch.grace,
            "task": launch.files.task_id, "attempt": launch.files.attempt, "files": [str(launch.files.log), str(launch.files.err)],
            "claimed": launch.claimed,
            "stdin": None if launch.stdin is None else launch.stdin.decode("utf-8", "surrogateescape"),
            "split_stderr": launch.split_stderr,
        }})

    def renew(self) -> None:
        """Tell the supervisor the worker is alive (its lease on the running attempt)."""
        self._send({"ping": 1})

    def stop(self, *, force: bool = False) -> None:
        """End the running attempt's tree: with the grace period, or at once."""
        self._send({"stop": {"force": force}})

    def wait(self, timeout: float) -> ExitRecord | None:
        """The attempt's record once it has ended (output drained, logs closed); None if still running."""
        assert self.current is not None
        ready, _, _ = select.select([self._replies], [], [], max(0.0, timeout))
        if not ready:
            return None
        try:
            data = os.read(self._replies, 4096)
        except OSError:
            data = b""
        files = self.current
        if not data:  # the supervisor died: whatever it recorded is all there is; end what it left
            record = read_record(self.record, files.task_id, files.attempt)
            if record.exit is None and record.task_pid:
                try:
                    os.killpg(record.task_pid, signal.SIGKILL)
                except OSError:
                    pass
            self.current = None
            return record if record.exit is not None else ExitRecord(exit={"outcome": "ended", "reason": "its supervisor died"})
        self._buffer += data
        if b"\n" not in self._buffer:
            return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.current = None
        reply = json.loads(line)
        started = reply.get("started") or {}
        return ExitRecord(started.get("supervisor"), started.get("created"), started.get("task"), reply["exit"])

    @property
    def alive(self) -> bool:
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def close(self) -> None:
        """Let the supervisor go (it exits when it sees the end of its control pipe) and reap it."""
        for fd in (self._control, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class _Serve:
    """The supervisor's main loop (in the forked child): run attempts as the worker asks."""

    def __init__(self, rules: "RuleSet", lease_timeout: float, control: int, replies: int, record: Path) -> None:
        self.rules, self.lease_timeout, self.control, self.replies = rules, lease_timeout, control, replies
        self.record_path = record
        self.buffer = b""
        self.messages: list[dict[str, Any]] = []
        self.worker_gone = False
        self.signals: list[int] = []

    def run(self) -> int:
        gc.disable()  # the child only loops; the worker's objects are not its to collect
        os.setsid()  # signals sent to the worker's process group do not reach us
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        self.created = psutil.Process().create_time()  # with the pid, identifies this process to reapers
        self.record = os.open(self.record_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (KILL_SIGNAL, signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        while True:
            while not self.messages and not self.worker_gone:
                self.poll(None)
            if not self.messages:
                return 0
            message = self.messages.pop(0)
            if "run" in message:
                attempt = _Attempt(self, message["run"])
                exit = attempt.run()
                try:
                    os.write(self.replies, (json.dumps({"started": attempt.started_entry, "exit": exit}) + "\n").encode())
                except OSError:
                    pass

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signals.append(signum)

    def poll(self, timeout: float | None, outputs: "dict[int, _Output] | None" = None) -> list[int]:
        """Wait for a message, a signal or output; returns the output descriptors ready to read."""
        fds = [self.wake_r, *(outputs or ())]
        if not self.worker_gone:
            fds.append(self.control)
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            ready = []
        if self.wake_r in ready:
            try:
                while os.read(self.wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        if self.control in ready:
            data = os.read(self.control, 65536)
            if not data:
                self.worker_gone = True
            self.buffer += data
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                self.messages.append(json.loads(line))
        return [fd for fd in ready if outputs and fd in outputs]


class _Attempt:
    """One attempt: spawn, stream output masked, watch deadline, lease and stops; record the exit."""

    def __init__(self, serve: _Serve, spec: dict[str, Any]) -> None:
        self.serve, self.spec = serve, spec
        log, err = (Path(p) for p in spec["files"])
        self.files = AttemptFiles(spec["task"], spec["attempt"], log=log, err=err)
        self.grace = float(spec["grace"])
        self.ending: str | None = None
        self.kill_at: float | None = None
        self.exit: dict[str, Any] | None = None
        self.renewed = time.monotonic()
        self.started_entry: dict[str, Any] | None = None

    def run(self) -> dict[str, Any]:
        self.started = time.monotonic()
        self.serve.signals.clear()  # a reaper's signal meant for an attempt that had already ended
        with _locked(self.serve.record):
            refusal = self._refusal()
            if refusal is not None:
                return self._record({"outcome": "ended", "reason": refusal, "duration_ms": 0.0})
            try:
                self.task, self.outputs = self._spawn()
            except (OSError, ValueError) as exc:
                return self._record({"outcome": "error", "error": f"could not start {self.spec['argv'][0]}: {exc}", "duration_ms": 0.0})
            self.started_entry = {"supervisor": os.getpid(), "created": self.serve.created, "task": self.task}
            self._write({"started": self.started_entry})
        self.reading = dict(self.outputs)  # the pipes not yet at their end
        self.deadline = self.started + float(self.spec["timeout"])
        while self.exit is None:
            self._step()
        self._end_leftovers()
        self._drain()
        return self.exit

    def _refusal(self) -> str | None:
        """Why this attempt must not start, if it must not: its worker may have lost it meanwhile."""
        if _fenced(self.serve.record_path, self.files.task_id, self.files.attempt):
            return "settled by a reaper before it started (its worker was declared lost)"
        lease = self.serve.lease_timeout
        if lease > 0 and time.monotonic() - float(self.spec["claimed"]) > lease:
            return "claimed too long ago: its worker was silent past the heartbeat timeout and may have been declared lost"
        return None

    def _spawn(self) -> tuple[int, dict[int, _Output]]:
        spec = self.spec
        out_r, out_w = os.pipe()
        outputs = {out_r: _Output(self.files.log, self.serve.rules)}
        err_w = out_w
        if spec["split_stderr"]:
            err_r, err_w = os.pipe()
            outputs[err_r] = _Output(self.files.err, self.serve.rules)
        stdin = _stdin_fd(None if spec["stdin"] is None else spec["stdin"].encode("utf-8", "surrogateescape"))
        try:
            os.chdir(spec["cwd"])
            return os.posix_spawn(
                spec["argv"][0], spec["argv"], spec["env"],
                file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)],
                setsid=True, setsigdef=_RESET_SIGNALS,
            ), outputs
        except BaseException:
            for fd, output in outputs.items():
                os.close(fd)
                output.close()
            raise
        finally:
            for fd in {stdin, out_w, err_w}:
                os.close(fd)

    def _write(self, entry: dict[str, Any]) -> None:
        """One line of the record file, in one write (a crash leaves it whole or absent)."""
        line = {"task": self.files.task_id, "attempt": self.files.attempt, **entry}
        os.write(self.serve.record, (json.dumps(line) + "\n").encode())

    def _record(self, exit: dict[str, Any]) -> dict[str, Any]:
        self.exit = exit
        self._write({"exit": exit})
        return exit

    def _step(self) -> None:
        now = time.monotonic()
        due = [self.deadline if self.ending is None else float("inf"), self.kill_at or float("inf")]
        lease = self.serve.lease_timeout
        if lease > 0 and self.ending is None:
            due.append(self.renewed + lease)
        if any(out.masker.holding for out in self.outputs.values()):
            due.append(now + IDLE_FLUSH_S)
        soonest = min(due)
        for fd in self.serve.poll(None if soonest == float("inf") else max(0.0, soonest - now), self.reading):
            if not self._read(fd):
                del self.reading[fd]
        self._reap()  # first: a task that has already exited keeps its own result whatever else arrived
        self._handle_messages()
        self._handle_signals()
        now = time.monotonic()
        for output in self.outputs.values():
            if output.masker.holding and now - output.last_data >= IDLE_FLUSH_S:
                output.write(output.masker.idle())
        if self.exit is not None:
            return
        if self.ending is None and now >= self.deadline:
            self._end("timeout", self.grace)
        elif self.ending is None and lease > 0 and now - self.renewed > lease:
            self._end("worker unresponsive (its lease expired)", self.grace)
        if self.kill_at is not None and now >= self.kill_at:
            self._signal_tree(signal.SIGKILL)
            self.kill_at = None

    def _handle_messages(self) -> None:
        serve = self.serve
        if serve.messages or serve.buffer:
            self.renewed = time.monotonic()
        keep = []
        for message in serve.messages:
            if "stop" in message:
                self._end("stopped", 0.0 if message["stop"].get("force") else self.grace)
            elif "run" in message:
                keep.append(message)
        serve.messages = keep
        if serve.worker_gone:
            self._end("worker gone", self.grace)

    def _handle_signals(self) -> None:
        signals = self.serve.signals
        while signals:
            sig = signals.pop(0)
            if sig == KILL_SIGNAL:
                self._end("ended by a reaper: its worker was declared lost", 0.0)
            elif sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self._end("stopped", self.grace)

    def _end(self, reason: str, grace: float) -> None:
        self._reap()
        if self.exit is not None:
            return  # it finished by itself first: that is its result
        if self.ending is None:
            self.ending = reason
            self._signal_tree(signal.SIGTERM if grace > 0 else signal.SIGKILL)
            self.kill_at = time.monotonic() + grace if grace > 0 else None
        elif grace == 0:
            self._signal_tree(signal.SIGKILL)
            self.kill_at = None

    def _signal_tree(self, sig: int) -> None:
        try:
            os.killpg(self.task, sig)
        except OSError:
            pass
        kill_tree(psutil.Process(), sig)

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

    def _reap(self) -> bool:
        """Collect exited children (the task, and orphans re-parented to us); record the task's exit.

        Returns whether any child is still running (a cheap check: no scan of /proc).
        """
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.task and self.exit is None:
                self._record_exit(status)

    def _record_exit(self, status: int) -> None:
        duration_ms = (time.monotonic() - self.started) * 1000
        code = os.waitstatus_to_exitcode(status)
        if self.ending == "timeout":
            exit: dict[str, Any] = {"outcome": "timeout", "code": code, "timeout_s": float(self.spec["timeout"])}
        elif self.ending is not None:
            exit = {"outcome": "ended", "reason": self.ending, "code": code}
        else:
            exit = {"outcome": "exited", "code": code}
        exit["duration_ms"] = duration_ms
        self._record(exit)

    def _end_leftovers(self) -> None:
        """What the task left running (a background job, a daemon): TERM, then KILL."""
        deadline = time.monotonic() + min(LEFTOVER_GRACE_S, self.grace)
        sig = signal.SIGTERM
        while self._reap():
            self._signal_tree(sig)
            if time.monotonic() >= deadline:
                sig = signal.SIGKILL
            time.sleep(0.01)

    def _drain(self) -> None:
        """Read the pipes to their end (every writer is gone now), then close the logs."""
        open_fds = set(self.reading)
        deadline = time.monotonic() + 5.0
        while open_fds and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_fds), [], [], 0.1)
            for fd in ready:
                if not self._read(fd):
                    open_fds.discard(fd)
        for fd, output in self.outputs.items():
            os.close(fd)
            output.close()


