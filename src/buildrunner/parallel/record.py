"""The record of a worker's attempts on its machine: which task process each started, and how it ended.

One file per worker (`<logs>/<session>/<worker id>.run`), JSON lines appended: for each
attempt `{"task", "attempt", "starting": {...}}` (naming the worker's supervisor) just before the
task is spawned, `{"task", "attempt", "started": {"task": pid}}` just after, then
`{"task", "attempt", "exit": {...}}` (and `"asked"` when a reaper first asks the supervisor to end it). The worker writes the exit the moment it
sees the task's end, before it reaps the process; if the worker dies first, the task's
zombie (or the task, still running) passes to its supervisor, which writes it. So a task that
ends while its worker is frozen or dead keeps its result, and a reaper on the same machine
reads it here (`end_orphan`) rather than running the task again.

A reaper that settles an attempt whose task never started *fences* it (under the record's
lock, which the worker also takes to start a task), so a worker frozen between claiming a task
and starting it never starts it after all.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from buildrunner.paths import make_private_dir

# Sent by a reaper to a lost worker's supervisor: end the worker and its attempt at once.
LOST_SIGNAL = signal.SIGUSR1


# The steps of an attempt that have logs of their own, in the order they run.
SETUP_STEP = "setup"
VERIFY_STEP = "verify"
STEPS = (SETUP_STEP, VERIFY_STEP)
STDERR_STEP = "stderr"  # an agent's standard error, kept apart from its output stream (`br parallel logs` shows it)
PROMPT_STEP = "prompt"  # the prompt an agent attempt was given (its task's, with what a failed check said), masked


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
    def of(cls, logs_dir: Path, session_id: str, task_id: str, attempt: int, step: str | None = None) -> "AttemptFiles":
        """The attempt's files; a `step` of it (verify) has its own logs and its own entries in the record."""
        folder = logs_dir / session_id
        name = f"{task_id}.{attempt}" + (f".{step}" if step else "")
        return cls(f"{task_id}#{step}" if step else task_id, attempt, log=folder / f"{name}.log", err=folder / f"{name}.err.log")

    @property
    def snapshot(self) -> Path:
        """What the working tree held before the attempt (digests), when it runs without a worktree but is checked."""
        return self.log.with_name(self.log.name.removesuffix(".log") + ".before.json")


def record_path(logs_dir: Path, session_id: str, worker_id: str) -> Path:
    """The record file of a worker's attempts."""
    return logs_dir / session_id / f"{worker_id}.run"


def fence_path(record: Path) -> Path:
    """Attempts a reaper settled before their task started: never to be started after all."""
    return record.with_suffix(".fence")


@dataclass
class ExitRecord:
    """What the record says of one attempt: whether its task started, and how it ended (None while it runs)."""

    supervisor_pid: int | None = None
    supervisor_started: float | None = None
    task_pid: int | None = None
    exit: dict[str, Any] | None = None
    starting: bool = False  # the worker was about to spawn the task (it may have, if no pid follows)
    task_started: float | None = None  # the task process's start time (psutil's create_time), to tell it from a reused pid
    asked: float | None = None  # when a reaper first asked the supervisor to end it (this machine's monotonic clock)

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
    for entry in _entries(path):
        if entry.get("task") != task_id or entry.get("attempt") != attempt:
            continue
        if "starting" in entry:
            record.starting = True
            record.supervisor_pid, record.supervisor_started = entry["starting"].get("supervisor"), entry["starting"].get("created")
        elif "started" in entry:
            record.task_pid, record.task_started = entry["started"].get("task"), entry["started"].get("created")
        elif "exit" in entry:
            record.exit = entry["exit"]
        elif "asked" in entry and record.asked is None:
            record.asked = float(entry["asked"])
    return record


def last_unfinished(path: Path) -> tuple[str, int, int | None] | None:
    """(task id, attempt, task pid or None if none was written) of the attempt being started or run, if any."""
    open_attempts: dict[tuple[str, int], int | None] = {}
    for entry in _entries(path):
        key = (entry.get("task"), entry.get("attempt"))
        if "starting" in entry:
            open_attempts[key] = None  # type: ignore[index]
        elif "started" in entry:
            open_attempts[key] = int(entry["started"].get("task") or 0) or None  # type: ignore[index]
        elif "exit" in entry:
            open_attempts.pop(key, None)  # type: ignore[arg-type]
    if not open_attempts:
        return None
    (task_id, attempt), pid = list(open_attempts.items())[-1]
    return str(task_id), int(attempt), pid


def was_asked(path: Path) -> bool:
    """Whether a reaper asked to end an attempt of this record's worker (it writes so before it signals)."""
    return any("asked" in entry for entry in _entries(path))


def _entries(path: Path) -> Iterator[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            yield entry


@contextmanager
def locked(fd: int) -> Iterator[None]:
    """The record's lock: a worker starting a task and a reaper settling its attempt take turns."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def open_record(path: Path) -> int:
    """The record file, opened for appending (created private to its owner)."""
    make_private_dir(path.parent)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


def append(fd: int, task_id: str, attempt: int, entry: dict[str, Any]) -> None:
    """One line of the record, in one write: a crash leaves it whole or absent."""
    os.write(fd, (json.dumps({"task": task_id, "attempt": attempt, **entry}) + "\n").encode())


def fenced(record: Path, task_id: str, attempt: int) -> bool:
    """Whether a reaper fenced this attempt (settled it before its task started): it must never start."""
    try:
        text = fence_path(record).read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    return json.dumps([task_id, attempt]) in text.splitlines()


def process(pid: int | None, created: float | None) -> psutil.Process | None:
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


def end_orphan(path: Path, task_id: str, attempt: int, timeout: float = 1.0, patience: float = 10.0) -> ExitRecord | None:
    """End a lost worker's attempt on this machine and return its record, or None to be asked again later.

    Under the record's lock: an attempt that was not being started is fenced (it never will be).
    Otherwise its supervisor is told to end the worker and the task at once, and the record is
    read until it holds the exit (the supervisor writes it) — for up to `timeout` seconds the first
    time, once on later passes. A supervisor that is alive but slower than that (a loaded machine)
    is left to finish: None says to settle on a later pass, so the attempt is never called lost
    while the task may yet be found to have finished. Only a supervisor that is gone, or has not
    answered for `patience` seconds since it was first asked, has the tree ended here; a task that
    had already exited then keeps its result, read from its zombie's status.
    """
    record = read_record(path, task_id, attempt)
    supervisor = process(*_supervisor_of(path, record))
    first_ask = record.asked is None
    fd = open_record(path)
    try:
        if not _lock_within(fd, timeout if first_ask else 0.0):
            # The worker holds it (it froze while starting the task): its supervisor ends it, and the kernel frees the lock.
            asked = _ask(fd, task_id, attempt, record, supervisor)
            if supervisor is None or time.monotonic() - asked < patience:
                return None  # asked again next pass; with no supervisor known, never block the reaper on a frozen holder
            _end_supervisor(supervisor)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            record = read_record(path, task_id, attempt)
            if record.exit is None and not record.starting:
                with open(fence_path(path), "a", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)) as fence:
                    fence.write(json.dumps([task_id, attempt]) + "\n")
                return record
            if record.exit is None:
                _ask(fd, task_id, attempt, record, None)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    if record.exit is not None:
        return record
    supervisor = process(record.supervisor_pid, record.supervisor_started)
    if supervisor is not None:
        _signal(supervisor, LOST_SIGNAL)
        deadline = time.monotonic() + (timeout if first_ask else 0.0)
        while True:
            record = read_record(path, task_id, attempt)
            if record.exit is not None:
                return record
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        if time.monotonic() - (record.asked or 0.0) < patience and process(record.supervisor_pid, record.supervisor_started) is not None:
            return None
    return _end_here(path, task_id, attempt, record, supervisor)


def _supervisor_of(path: Path, record: ExitRecord) -> tuple[int | None, float | None]:
    """The worker's supervisor: named by the attempt's `starting`, else by any earlier attempt's (one worker, one supervisor)."""
    if record.supervisor_pid is not None:
        return record.supervisor_pid, record.supervisor_started
    for entry in _entries(path):
        if "starting" in entry:
            return entry["starting"].get("supervisor"), entry["starting"].get("created")
    return None, None


def _ask(fd: int, task_id: str, attempt: int, record: ExitRecord, supervisor: psutil.Process | None) -> float:
    """Note (once) when the supervisor was first asked to end the attempt, and ask it; returns that time."""
    if record.asked is None:
        record.asked = time.monotonic()
        append(fd, task_id, attempt, {"asked": record.asked})
    if supervisor is not None:
        _signal(supervisor, LOST_SIGNAL)
    return record.asked


def _end_supervisor(supervisor: psutil.Process | None) -> None:
    """Kill a supervisor that did not answer, with everything under it (its worker, the task)."""
    if supervisor is not None:
        kill_tree(supervisor, signal.SIGKILL)
        _signal(supervisor, signal.SIGKILL)


def _end_here(path: Path, task_id: str, attempt: int, record: ExitRecord, supervisor: psutil.Process | None) -> ExitRecord:
    """No supervisor answered: keep a finished task's result from its zombie, end the tree, and read the record.

    Only a task that exited counts: one killed by a signal more likely went down with its worker
    and supervisor (a crash, an OOM kill) than ended by itself, so it is retried.
    """
    status = zombie_status(record.task_pid, record.task_started)
    if status is not None and os.WIFEXITED(status):
        fd = open_record(path)
        try:
            with locked(fd):
                if read_record(path, task_id, attempt).exit is None:
                    append(fd, task_id, attempt, {"exit": {"outcome": "exited", "code": os.waitstatus_to_exitcode(status), "duration_ms": None}})
        finally:
            os.close(fd)
    if record.task_pid:
        try:
            os.killpg(record.task_pid, signal.SIGKILL)
        except OSError:
            pass
    _end_supervisor(supervisor)
    return read_record(path, task_id, attempt)


def zombie_status(pid: int | None, created: float | None) -> int | None:
    """The wait status of our task `pid` if it has exited and is not yet reaped (Linux: /proc/PID/stat's last field).

    Anyone may read it, not only the parent: how a lost worker's task ended, while its parent is
    frozen. None unless the zombie is that task (its start time matches `created`) and ours to read
    (same user, or root): the kernel shows 0 to a reader it does not trust.
    """
    if not pid or created is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        owners = [line.split()[1:] for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(("Uid:", "Gid:"))]
        started = psutil.Process(pid).create_time()
    except (OSError, psutil.Error):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if not fields or fields[0] != "Z" or len(fields) < 50 or abs(started - created) > 1.0:
        return None
    if os.geteuid() != 0 and any(ids != [str(os.geteuid() if i == 0 else os.getegid())] * len(ids) for i, ids in enumerate(owners)):
        return None
    return int(fields[-1])


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def _lock_within(fd: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
