"""One attempt of a task: what to run (a shell command, or the agent with a prompt) and what its end means.

The executor turns a claimed task into a `Launch` for the worker's supervisor (program,
arguments, working folder, environment, timeout) and the supervisor's `ExitRecord` into an
`ExecutionResult`. Anything that cannot be started — a missing program, a working folder
that does not exist, an argument or environment value the kernel refuses — is a failed
attempt with a one-line reason, never an exception that could take the worker down.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from buildrunner.parallel.models import Task
from buildrunner.parallel.attempt import Launch
from buildrunner.parallel.record import AttemptFiles, ExitRecord
from buildrunner.paths import make_private_dir

MAX_ERROR_CHARS = 500
TAIL_BYTES = 8192
SHELL = "/bin/sh"


@dataclass
class ExecutionResult:
    """What one attempt did; `status` is completed, failed, timeout, cancelled or lost."""

    status: str
    exit_code: int | None
    duration_ms: float
    error: str | None = None
    agent_result: dict[str, Any] | None = None
    pid: int | None = None


class LaunchError(Exception):
    """The attempt cannot be started as written (its message is the attempt's one-line error)."""


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
    found = shutil.which(name, path=path)
    return os.path.abspath(found) if found else None


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
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:MAX_ERROR_CHARS]


def _read(path: Path, tail: bool = False) -> str:
    """A log as text ("" when the attempt printed nothing: no log was made); its end only with `tail`."""
    try:
        with open(path, "rb") as handle:
            if tail:
                handle.seek(max(0, os.fstat(handle.fileno()).st_size - TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Executor:
    """Builds the launches of one worker's attempts and reads their ends."""

    def __init__(self, root: Path, logs_dir: Path, *, grace: float) -> None:
        self.root = root
        self.logs_dir = logs_dir
        self.grace = grace
        self._base_env: dict[str, str] | None = None

    def files(self, task: Task) -> AttemptFiles:
        return AttemptFiles.of(self.logs_dir, task.session_id, task.task_id, task.attempt)

    def _env(self, task: Task) -> dict[str, str]:
        """The worker's environment with `task_path()` as PATH, the task's own variables and its identity."""
        if self._base_env is None:
            self._base_env = {**os.environ, "PATH": task_path()}
        return {
            **self._base_env,
            **task.env,
            "BR_SESSION_ID": task.session_id,
            "BR_TASK_ID": task.task_id,
            "BR_TASK_ATTEMPT": str(task.attempt),
        }

    def launch(self, task: Task, *, workdir: Path | None = None, model_id: str | None = None, model: str | None = None) -> Launch:
        """What the supervisor runs for this attempt; `LaunchError` when it cannot be run as written."""
        base = workdir or self.root
        cwd = (base / task.cwd) if task.cwd else base
        if not cwd.is_dir():
            raise LaunchError(f"cwd {task.cwd!r} does not exist under {base}")
        env = self._env(task)
        path = env.get("PATH")
        if task.kind == "command":
            command = task.command or ""
            argv = direct_argv(command, path) or [SHELL, "-c", command]
        else:
            try:
                argv = agent_argv(task.agent_command or "", task.prompt or "", model_id or "", model or "")
            except ValueError as exc:
                raise LaunchError(f"agent command: {exc}") from None
            if not argv:
                raise LaunchError("the agent command is empty")
            program = argv[0] if "/" in argv[0] else _which(argv[0], path)
            if program is None:
                raise LaunchError(f"agent program {argv[0]!r} is not on PATH")
            argv[0] = str((cwd / program) if not os.path.isabs(program) else program)
        make_private_dir(self.files(task).log.parent)
        return Launch(
            argv=argv, cwd=cwd, env=env, files=self.files(task), timeout=task.timeout, grace=self.grace,
            split_stderr=task.kind == "prompt",
        )

    def result(self, task: Task, record: ExitRecord, stopped: str | None = None) -> ExecutionResult:
        """What the attempt's end means. `stopped`: why the worker ended it (session stopped, worker quitting)."""
        exit = record.exit or {"outcome": "ended", "reason": "no exit was recorded"}
        outcome = exit.get("outcome")
        code = exit.get("code")
        duration = float(exit.get("duration_ms") or 0.0)
        pid = record.task_pid
        if outcome == "error":
            return ExecutionResult("failed", None, duration, str(exit.get("error"))[:MAX_ERROR_CHARS], pid=pid)
        if outcome == "ended":
            reason = stopped or str(exit.get("reason") or "ended")
            return ExecutionResult("cancelled" if stopped else "lost", code, duration, reason, pid=pid)
        if outcome == "timeout":
            return ExecutionResult("timeout", code, duration, f"timed out after {float(exit.get('timeout_s') or task.timeout):g}s (killed)", pid=pid)
        files = self.files(task)
        parsed = parse_agent_output(_read(files.log)) if task.kind == "prompt" else None
        if code != 0:
            detail = _last_line(_read(files.err, tail=True)) or _last_line(_read(files.log, tail=True))
            what = f"killed by {_signal_name(code)}" if isinstance(code, int) and code < 0 else f"exit code {code}"
            return ExecutionResult("failed", code, duration, what + (f": {detail}" if detail else ""), parsed, pid)
        if task.kind == "prompt":
            program = Path(shlex.split(task.agent_command or "agent")[0]).name
            if parsed is None:
                return ExecutionResult("failed", 0, duration, f"{program} printed no JSON result (is the agent command using --output-format json?)", None, pid)
            if parsed.get("is_error"):
                detail = _last_line(str(parsed.get("result") or parsed.get("subtype") or "is_error"))
                return ExecutionResult("failed", 0, duration, f"agent reported an error: {detail}", parsed, pid)
        return ExecutionResult("completed", 0, duration, None, parsed, pid)
