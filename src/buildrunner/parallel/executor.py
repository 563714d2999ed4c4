"""One attempt of a task: what to run (a shell command, or the agent with a prompt) and what its end means.

The executor turns a claimed task into a `Launch` for the worker's supervisor (program,
arguments, working folder, environment, timeout) and the supervisor's `ExitRecord` into an
`ExecutionResult`. Anything that cannot be started — a missing program, a working folder
that does not exist, an argument or environment value the kernel refuses — is a failed
attempt with a one-line reason, never an exception that could take the worker down.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.agents.settings import LEGACY_NAME
from buildrunner.parallel.attempt import Launch
from buildrunner.parallel.models import Task
from buildrunner.parallel.record import AttemptFiles, ExitRecord
from buildrunner.parallel.settings import DEFAULT_AGENT_COMMAND
from buildrunner.parallel.states import AttemptState
from buildrunner.paths import make_private_dir
from buildrunner.store import DATABASE_URL_ENV

if TYPE_CHECKING:
    from buildrunner.agents.base import Agent, Invocation
    from buildrunner.config import Config

MAX_ERROR_CHARS = 500
TAIL_BYTES = 8192
SHELL = "/bin/sh"


@dataclass
class ExecutionResult:
    """What one attempt did (its `status` is where it ended)."""

    status: AttemptState
    exit_code: int | None
    duration_ms: float
    error: str | None = None
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
    """PATH for tasks and the agent: the user's PATH as it is, then this Python's bin folder, so `br` is found even
    when it is not on PATH (a pipx install run by its full path) without shadowing the project's own `python` or
    `pytest` (first, BuildRunner's venv ran `verify: pytest -q` without the project's dependencies)."""
    own = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    return path if own in path.split(os.pathsep) else os.pathsep.join(filter(None, [path, own]))


def inherited_env(leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    """What a task, an agent or a step inherits from the worker: its environment with `task_path()` as PATH, without
    the store's URL (a credential: an agent that prints its environment would hand it to its model provider; a task
    that needs it names it in its `env:`) and without `leave_out`."""
    return {**{k: v for k, v in os.environ.items() if k != DATABASE_URL_ENV and k not in leave_out}, "PATH": task_path()}


def agent_name(task_agent: str | None, plan_agent: str | None, plan_command: str | None, config: "Config") -> tuple[str, str | None]:
    """Which agent runs a prompt task, resolved once when the session is created: (name, legacy template).

    The task's `agent`, else the plan's; else a plan's `agent_command` template, else a
    `parallel.agent_command` changed from its default (both run as Claude-format custom agents);
    else `agents.default`.
    """
    if task_agent or plan_agent:
        return str(task_agent or plan_agent), None
    template = plan_command or (config.parallel.agent_command if config.parallel.agent_command != DEFAULT_AGENT_COMMAND else None)
    if template:
        return LEGACY_NAME, template
    return config.agents.default, None


def agent_of(task: Task, config: "Config") -> "Agent":
    """The agent object that runs `task` (a prompt task)."""
    # the adapters: only a worker running a prompt task needs them
    from buildrunner.agents.registry import get_agent, legacy_agent

    if task.agent == LEGACY_NAME:
        return legacy_agent(task.agent_command or "", config)
    return get_agent(task.agent, config)


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
            self._base_env = inherited_env()
        return {
            **self._base_env,
            **task.env,
            "BR_SESSION_ID": task.session_id,
            "BR_TASK_ID": task.task_id,
            "BR_TASK_ATTEMPT": str(task.attempt),
        }

    def launch(
        self,
        task: Task,
        *,
        workdir: Path | None = None,
        invocation: "Invocation | None" = None,
        command: str | None = None,
        files: AttemptFiles | None = None,
        timeout: float | None = None,
    ) -> Launch:
        """What this attempt runs: the task's command, an agent's `invocation`, or another `command` (verify).

        `LaunchError` when it cannot be run as written (a missing folder or program).
        """
        files = files or self.files(task)
        base = workdir or self.root
        cwd = (base / task.cwd) if task.cwd else base
        if not cwd.is_dir():
            raise LaunchError(f"cwd {task.cwd!r} does not exist under {base}")
        env = self._env(task)
        path = env.get("PATH")
        stdin = None
        if invocation is not None:
            argv, stdin, env = list(invocation.argv), invocation.stdin, {**invocation.env, **env}  # the adapter's defaults; the task's and the worker's environment win
            program = argv[0] if "/" in argv[0] else _which(argv[0], path)
            if program is None:
                raise LaunchError(f"agent {invocation.agent}: {argv[0]!r} is not on PATH")
            argv[0] = str((cwd / program) if not os.path.isabs(program) else program)
        else:
            command = command if command is not None else (task.command or "")
            argv = direct_argv(command, path) or [SHELL, "-c", command]
        make_private_dir(files.log.parent)
        return Launch(
            argv=argv, cwd=cwd, env=env, files=files, timeout=timeout or task.timeout, grace=self.grace,
            stdin=stdin, split_stderr=invocation is not None,
        )

    def result(self, task: Task, record: ExitRecord, stopped: str | None = None, files: AttemptFiles | None = None) -> ExecutionResult:
        """What the process's end means. `stopped`: why the worker ended it (session stopped, worker quitting, a cap)."""
        exit = record.exit or {"outcome": "ended", "reason": "no exit was recorded"}
        outcome = exit.get("outcome")
        code = exit.get("code")
        duration = float(exit.get("duration_ms") or 0.0)
        pid = record.task_pid
        if outcome == "error":
            return ExecutionResult(AttemptState.FAILED, None, duration, str(exit.get("error"))[:MAX_ERROR_CHARS], pid=pid)
        if outcome == "ended":
            reason = stopped or str(exit.get("reason") or "ended")
            return ExecutionResult(AttemptState.CANCELLED if stopped else AttemptState.LOST, code, duration, reason, pid=pid)
        if outcome == "timeout":
            return ExecutionResult(AttemptState.TIMEOUT, code, duration, f"timed out after {round(float(exit.get('timeout_s') or task.timeout), 1):g}s (killed)", pid=pid)
        if code != 0:
            files = files or self.files(task)
            detail = _last_line(_read(files.err, tail=True)) or _last_line(_read(files.log, tail=True))
            what = f"killed by {_signal_name(code)}" if isinstance(code, int) and code < 0 else f"exit code {code}"
            return ExecutionResult(AttemptState.FAILED, code, duration, what + (f": {detail}" if detail else ""), pid=pid)
        return ExecutionResult(AttemptState.COMPLETED, 0, duration, None, pid=pid)
