"""Run one attempt of a task: a shell command or the agent with a prompt.

The process gets its own process group so a timeout or a stop ends everything it
started: TERM, then KILL after the grace period. Output goes to
`.buildrunner/logs/<session>/<task>.<attempt>.log` with secrets masked.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Callable

from buildrunner.parallel.models import Task

POLL_S = 0.25
MAX_ERROR_CHARS = 500


@dataclass
class ProcessOutcome:
    pid: int | None
    exit_code: int | None
    duration_ms: float
    timed_out: bool
    cancelled: bool
    stdout: str
    stderr: str


@dataclass
class ExecutionResult:
    """What one attempt did; `status` is completed, failed, timeout or cancelled."""

    status: str
    exit_code: int | None
    duration_ms: float
    error: str | None = None
    agent_result: dict[str, Any] | None = None
    pid: int | None = None


class StopRequest:
    """Set by the worker's watcher thread when the session is stopped (or the worker must quit)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.grace: float | None = None
        self.reason = ""

    def set(self, reason: str, grace: float | None) -> None:
        self.reason, self.grace = reason, grace
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early on a stop."""
        return self._event.wait(seconds)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """TERM the process group, then KILL it if it has not exited after `grace` seconds."""
    _signal_group(proc, signal.SIGTERM)
    if grace > 0:
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _wait_exit(proc: subprocess.Popen[bytes], pidfd: int | None, timeout: float) -> bool:
    """Wait up to `timeout` for the process to exit; a pidfd wakes us the moment it does."""
    if pidfd is not None:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            return False
    try:
        proc.wait(timeout=None if pidfd is not None else timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: fall back to polling
        return None


def _create(path: Path) -> BinaryIO:
    """Open a new log for writing; its folder is made only when missing (a worker writes all its logs to one)."""
    try:
        return open(path, "wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "wb")


def run_process(
    args: str | list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    grace: float,
    stop: StopRequest,
    log_path: Path,
    mask: Callable[[str], str],
    split_stderr: bool = False,
) -> ProcessOutcome:
    """Run `args` (a shell command when a string); its output, secrets masked, ends up in `log_path`."""
    err_path = log_path.with_name(log_path.name + ".err")
    started = time.monotonic()
    timed_out = cancelled = False
    with _create(log_path) as out, (open(err_path, "wb") if split_stderr else contextlib.nullcontext()) as err:
        try:
            proc = subprocess.Popen(
                args,
                shell=isinstance(args, str),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err if split_stderr else subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            out.write(mask(f"could not start: {exc}\n").encode())
            return ProcessOutcome(None, 127, (time.monotonic() - started) * 1000, False, False, "", str(exc))
        pidfd = _open_pidfd(proc.pid)
        try:
            deadline = started + timeout
            while True:
                if stop.is_set():
                    cancelled = True
                    _kill_group(proc, grace if stop.grace is None else stop.grace)
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    _kill_group(proc, grace)
                    break
                if _wait_exit(proc, pidfd, min(POLL_S, remaining)):
                    break
        finally:
            if pidfd is not None:
                os.close(pidfd)
        written = os.fstat(out.fileno()).st_size
    duration_ms = (time.monotonic() - started) * 1000
    raw = log_path.read_bytes().decode("utf-8", "replace") if written else ""
    stdout = mask(raw)
    stderr = ""
    if split_stderr:
        stderr = mask(err_path.read_bytes().decode("utf-8", "replace"))
        err_path.unlink(missing_ok=True)
    if stdout != raw or stderr:
        log_path.write_text(stdout + (f"\n--- stderr ---\n{stderr}" if stderr else ""), encoding="utf-8")
    return ProcessOutcome(proc.pid, proc.returncode, duration_ms, timed_out, cancelled, stdout, stderr)


# Like make: a command with none of these characters means the same with or without a shell,
# so it is run directly, saving a shell start per task. Anything else goes to /bin/sh -c.
_SHELL_CHARS = frozenset("\"'`$\\|&;<>(){}[]*?~#!=%\n\r\t")
# Keywords and builtins with no program of the same name (or one that behaves differently).
_SHELL_WORDS = frozenset(
    ". : alias bg break case cd command continue do done elif else esac eval exec exit export fg fi for "
    "function getopts hash if in jobs kill read readonly return select set shift source then time times "
    "trap type ulimit umask unalias unset until wait while".split()
)


def direct_argv(command: str, path: str | None) -> list[str] | None:
    """The argv to run `command` without a shell, or None when only a shell can run it as written."""
    if not command.strip() or any(char in _SHELL_CHARS for char in command):
        return None
    words = command.split()
    if words[0] in _SHELL_WORDS or "/" in words[0]:  # a relative path would resolve against the worker's folder
        return None
    program = _which(words[0], path)
    return [program, *words[1:]] if program else None


@lru_cache(maxsize=256)
def _which(name: str, path: str | None) -> str | None:
    return shutil.which(name, path=path)


def task_path() -> str:
    """PATH for tasks and the agent: this Python's bin folder first, so `br` and `python` are this install."""
    return os.pathsep.join(filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")]))


def agent_argv(template: str, prompt: str, model_id: str, model: str) -> list[str]:
    """The agent command: the template split like a shell would, each placeholder one argument."""
    return [
        word.replace("{prompt}", prompt).replace("{model_id}", model_id).replace("{model}", model)
        for word in shlex.split(template)
    ]


def parse_agent_output(stdout: str) -> dict[str, Any] | None:
    """Claude Code's `--output-format json` result: the whole output, or its last JSON-object line."""
    text = stdout.strip()
    candidates = [text, *reversed(text.splitlines())]
    for candidate in candidates:
        candidate = candidate.strip()
        if candidate.startswith("{"):
            try:
                value = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last[:MAX_ERROR_CHARS]


class Executor:
    """Runs attempts for one worker; `stop` is shared with its watcher thread."""

    def __init__(self, root: Path, logs_dir: Path, *, grace: float, timeout: float, agent_command: str, stop: StopRequest) -> None:
        self.root = root
        self.logs_dir = logs_dir
        self.grace = grace
        self.timeout = timeout
        self.agent_command = agent_command
        self.stop = stop
        self._mask: Callable[[str], str] | None = None
        self._base_env: dict[str, str] | None = None

    def mask(self, text: str) -> str:
        if self._mask is None:
            from buildrunner.security.masking import mask_secrets

            self._mask = mask_secrets
        return self._mask(text) if text else text

    def log_path(self, task: Task) -> Path:
        return self.logs_dir / task.session_id / f"{task.task_id}.{task.attempt}.log"

    def _env(self, task: Task) -> dict[str, str]:
        """The worker's environment with `task_path()` as PATH."""
        if self._base_env is None:
            self._base_env = {**os.environ, "PATH": task_path()}
        return {
            **self._base_env,
            **task.env,
            "BR_SESSION_ID": task.session_id,
            "BR_TASK_ID": task.task_id,
            "BR_TASK_ATTEMPT": str(task.attempt),
        }

    def run(
        self,
        task: Task,
        *,
        workdir: Path | None = None,
        model_id: str | None = None,
        model: str | None = None,
    ) -> ExecutionResult:
        """One attempt: the command, or the agent with `model_id` for a prompt task."""
        base = workdir or self.root
        cwd = (base / task.cwd) if task.cwd else base
        if not cwd.is_dir():
            return ExecutionResult("failed", None, 0.0, f"cwd {task.cwd!r} does not exist under {base}")
        timeout = task.timeout or self.timeout
        if task.kind == "command":
            env = self._env(task)
            command = task.command or ""
            outcome = run_process(
                direct_argv(command, env.get("PATH")) or command, cwd=cwd, env=env, timeout=timeout, grace=self.grace,
                stop=self.stop, log_path=self.log_path(task), mask=self.mask,
            )
            return self._result(outcome, timeout, None)
        argv = agent_argv(self.agent_command, task.prompt or "", model_id or "", model or "")
        outcome = run_process(
            argv, cwd=cwd, env=self._env(task), timeout=timeout, grace=self.grace, stop=self.stop,
            log_path=self.log_path(task), mask=self.mask, split_stderr=True,
        )
        parsed = parse_agent_output(outcome.stdout)
        result = self._result(outcome, timeout, parsed)
        if result.status == "completed":
            if parsed is None:
                result.status, result.error = "failed", f"{argv[0]} printed no JSON result (is agent_command using --output-format json?)"
            elif parsed.get("is_error"):
                result.status = "failed"
                result.error = f"agent reported an error: {_tail(str(parsed.get('result') or parsed.get('subtype') or 'is_error'))}"
        return result

    def _result(self, outcome: ProcessOutcome, timeout: float, parsed: dict[str, Any] | None) -> ExecutionResult:
        result = self._classify(outcome, timeout, parsed)
        result.pid = outcome.pid
        return result

    def _classify(self, outcome: ProcessOutcome, timeout: float, parsed: dict[str, Any] | None) -> ExecutionResult:
        if outcome.cancelled:
            return ExecutionResult("cancelled", outcome.exit_code, outcome.duration_ms, self.stop.reason or "stopped", parsed)
        if outcome.timed_out:
            return ExecutionResult("timeout", outcome.exit_code, outcome.duration_ms, f"timed out after {timeout:g}s (killed)", parsed)
        if outcome.exit_code != 0:
            detail = _tail(outcome.stderr) or _tail(outcome.stdout)
            return ExecutionResult("failed", outcome.exit_code, outcome.duration_ms, f"exit code {outcome.exit_code}" + (f": {detail}" if detail else ""), parsed)
        return ExecutionResult("completed", 0, outcome.duration_ms, None, parsed)
