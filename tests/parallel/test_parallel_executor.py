"""Running one attempt: which commands skip the shell (an agent's command line is its adapter's: tests/agents)."""

from __future__ import annotations

import os

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
