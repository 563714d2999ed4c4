"""Start a session's local worker processes, detached from the caller.

Each worker runs in its own process session, so closing the terminal or killing the
caller leaves it running, and writes to `.buildrunner/logs/<session>/workers.log`.
A worker is normally a fresh `python -m buildrunner parallel worker SESSION_ID`.
`br parallel start` asks for forked workers instead: it has already imported what a
worker needs, so a forked worker claims its first task a few milliseconds after the
session is stored rather than after an interpreter start and about 0.2 s of imports.
Only the `br` command asks, because a fork copies the whole process (a host
application's sockets and files would live on in every worker), and even then it
forks only with one thread running and no database connection open (SQLite must not
be carried across a fork): the caller's store is closed first and reopens on next use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from buildrunner.errors import BuildRunnerError, ExitCode, ParallelError
from buildrunner.parallel.supervisor import name_process
from buildrunner.parallel.worker import Worker
from buildrunner.paths import make_private_dir
from buildrunner.project import Project
from buildrunner.store import open_stores


def launch_workers(project: "Project", session_id: str, count: int, *, fork: bool = False) -> list[int]:
    """Start `count` detached workers of `session_id`; returns their pids. `fork`: see the module docstring."""
    log = project.paths.logs_dir / session_id / "workers.log"
    make_private_dir(log.parent)
    forking = False
    if fork and sys.platform.startswith("linux"):  # elsewhere system libraries may not survive a fork
        project.close()
        forking = threading.active_count() == 1 and open_stores() == 0
    pids: list[int] = []
    for _ in range(count):
        try:
            pids.append(_fork(project, session_id, log) if forking else _spawn(project.paths.root, session_id, log))
        except OSError as exc:  # the machine's process limit, or memory
            raise ParallelError(
                f"session {session_id}: started {len(pids)} of {count} workers, then the system refused another ({exc.strerror or exc})",
                hint=(f"the {len(pids)} started keep working; " if pids else "") + "ask for fewer workers, or raise the process limit (ulimit -u)",
            ) from None
    return pids


def _spawn(root: Path, session_id: str, log: Path) -> int:
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "buildrunner", "parallel", "worker", session_id],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        os.close(out)
    return proc.pid


def _fork(project: "Project", session_id: str, log: Path) -> int:
    for stream in (sys.stdout, sys.stderr):  # or the child would write the parent's buffered output again
        stream.flush()
    pid = os.fork()
    if pid:
        return pid
    code = int(ExitCode.GENERAL)
    try:
        code = _child(project, session_id, log)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException as exc:  # noqa: BLE001 - the last word of a detached process: say it, then exit
        sys.stderr.write(f"error: worker process: unexpected {type(exc).__name__}: {exc}\n")
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _child(project: "Project", session_id: str, log: Path) -> int:
    """Become what a spawned worker is: its own session, named like one, in the project, writing to the log."""
    os.setsid()
    name_process(session_id)
    os.chdir(project.paths.root)
    _redirect(log)
    _close_inherited()
    return _work(project, session_id)


def _redirect(log: Path) -> None:
    """stdin from /dev/null, stdout and stderr to the log: the caller's terminal or pipes are not held open."""
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)


def _close_inherited() -> None:
    """Close what the caller handed `br` beyond stdin, stdout and stderr (a pipe, a held lock file).

    A spawned worker never gets those; a forked one would hold them until it ends. They are the
    inheritable descriptors: what Python opens itself is close-on-exec and may belong to an object.
    """
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                os.close(fd)
        except OSError:  # the listing's own descriptor, already gone
            continue


def _work(parent: "Project", session_id: str) -> int:
    """What `br parallel worker SESSION_ID` does, in the forked child; returns the exit code."""
    try:
        project = Project(parent.paths.root, config=parent.config)
        try:
            report = Worker(session_id, project).run()
        finally:
            project.close()
    except BuildRunnerError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return int(exc.exit_code)
    except Exception as exc:  # the log is all a detached worker has: say what happened, in one line
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
        return int(ExitCode.GENERAL)
    sys.stderr.write(f"{report}\n")
    return int(ExitCode.OK)
