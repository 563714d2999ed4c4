"""Running one attempt: which commands skip the shell (an agent's command line is its adapter's: tests/agents)."""

from __future__ import annotations

import contextlib
import os
import sys
import time

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from buildrunner.parallel.executor import direct_argv


@pytest.mark.parametrize(
    ("command", "direct"),
    [
        ("true", True),
        ("sleep 0.5", True),
        ("python -m unittest discover -s tests", True),
        ("echo $HOME", False),
        ("exit 3", False),
        ("cd sub && make", False),
        ("FOO=1 env", False),
        ("ls *.py", False),
        ("echo 'quoted words'", False),
        ("./run.sh", False),
        ("no-such-program-xyz --flag", False),
    ],
)
def test_simple_commands_skip_the_shell_and_others_keep_it(command: str, direct: bool) -> None:
    argv = direct_argv(command, os.environ.get("PATH"))
    assert (argv is not None) == direct
    if argv:
        assert os.path.isabs(argv[0]) and argv[1:] == command.split()[1:]



@given(st.lists(st.text(alphabet="abcxyz019.-_,:+@", min_size=1, max_size=8), max_size=5))
def test_direct_argv_passes_the_same_words_a_shell_would(args: list[str]) -> None:
    command = " ".join(["echo", *args])
    argv = direct_argv(command, os.environ.get("PATH"))
    assert argv is not None and argv[1:] == args


def test_a_task_that_has_already_exited_by_itself_is_seen_as_exiting_and_a_running_one_is_not() -> None:
    """Stopping a session must not record as "ended by the stop" a task that ran to its end just before the TERM:
    `resume --retry-failed` would run it a second time."""
    import subprocess
    import time

    from buildrunner.parallel.attempt import exiting

    running = subprocess.Popen(["sleep", "30"])
    done = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 30
        while not exiting(done.pid):  # a zombie until reaped
            assert time.monotonic() < deadline, "the finished process never showed as exiting"
            time.sleep(0.01)
        assert not exiting(running.pid)
    finally:
        running.kill()
        running.wait()
        done.wait()
    assert not exiting(done.pid)  # reaped: gone


def test_an_attempt_abandoned_after_an_internal_error_ends_its_whole_tree_before_it_returns(tmp_path) -> None:
    """When something of ours fails while a task runs, the worker abandons the attempt and the task is retried: the
    first copy (and what it started) must be gone by then, or the retry runs beside it and the work happens twice."""
    from buildrunner.parallel.attempt import Attempt, Launch
    from buildrunner.parallel.record import AttemptFiles
    from buildrunner.security.rules import rules_for, ruleset

    pids = tmp_path / "pids"
    script = (f"import os, subprocess, sys, time\nchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
              f"open({str(pids)!r} + '.tmp', 'w').write(f'{{os.getpid()}} {{child.pid}}')\nos.rename({str(pids)!r} + '.tmp', {str(pids)!r})\n"
              "time.sleep(300)\n")
    launch = Launch([sys.executable, "-c", script], tmp_path, dict(os.environ), AttemptFiles.of(tmp_path / "logs", "s", "t", 1), timeout=600, grace=5)
    attempt = Attempt(launch, ruleset(rules_for(None)), None, claimed=time.monotonic(), lease=60)
    attempt.start()
    deadline = time.monotonic() + 60
    while not pids.exists():
        assert time.monotonic() < deadline, "the task never started its child"
        attempt.wait(0.05)
    task, child = (psutil.Process(int(p)) for p in pids.read_text().split())
    try:
        attempt.abandon("internal error: a test's")
        _assert_gone(task, child, deadline + 60)
    finally:
        for process in (child, task):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def _assert_gone(task: "psutil.Process", child: "psutil.Process", deadline: float) -> None:
    def gone(process: psutil.Process) -> bool:
        try:
            return process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    assert gone(task)  # abandon returns only once the task has ended
    while not gone(child):  # killed with it, not left running (a zombie until its new parent reaps it)
        assert time.monotonic() < deadline, "the task's child outlived the abandoned attempt"
        time.sleep(0.05)
