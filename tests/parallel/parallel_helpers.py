"""Helpers for the parallel tests: fast settings, plan files, waiting on real worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import yaml

FAST = {"heartbeat_timeout": 10, "heartbeat_interval": 0.3, "poll_interval": 0.1, "kill_grace": 1, "retry_backoff": 0.1}


def write_config(root: Path, **parallel: Any) -> None:
    path = root / ".buildrunner" / "config.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("parallel", {}).update({**FAST, **parallel})
    path.write_text(json.dumps(data))


def write_plan(root: Path, plan: dict[str, Any] | list[Any], name: str = "plan.yaml") -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# A fake AWS access key id, assembled at run time so the repository holds no key-shaped literal.
FAKE_AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLF"


def session_id_of(stdout: str) -> str:
    """The session id `br parallel start` prints."""
    return next(line.split(": ")[1] for line in stdout.splitlines() if line.startswith("Session ID: "))


def exited(pids: list[int]) -> bool:
    """Every one of these processes has exited (a zombie has, its parent not having reaped it yet)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def make_repo(root: Path) -> None:
    """A first commit in the project's repository (worktree tasks start from it): `.gitignore` and `app.txt`."""
    (root / ".gitignore").write_text(".buildrunner/\n")
    (root / "app.txt").write_text("v1\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"], cwd=root, check=True)


def kill_left_in(root: Path) -> None:
    """Whatever still runs in the project `root` (a failed test's workers or hanging agent) is killed."""
    spared = {os.getpid(), *(proc.pid for proc in psutil.Process().parents())}
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info["cwd"]
        if proc.pid not in spared and cwd and (cwd == str(root) or cwd.startswith(f"{root}{os.sep}")):
            try:
                proc.kill()
            except psutil.Error:
                pass
