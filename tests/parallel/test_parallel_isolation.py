"""`isolation: worktree`: each task in its own worktree and branch; a task that adds a secret fails."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import FAKE_AWS_KEY, write_plan

from buildrunner.parallel.isolation import added_lines
from buildrunner.project import Project

pytestmark = pytest.mark.slow


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_worktree_tasks_work_on_their_own_branches(fast_project: Path, run_br: Any) -> None:
    (fast_project / "app.txt").write_text("v1\n")
    (fast_project / ".gitignore").write_text(".buildrunner/\n")
    git(fast_project, "add", "-A")
    git(fast_project, "commit", "-qm", "base")
    plan = write_plan(
        fast_project,
        {"tasks": [
            {"id": "left", "command": "echo left > app.txt", "isolation": "worktree"},
            {"id": "right", "command": "echo right > app.txt && echo extra > new.txt", "isolation": "worktree"},
            {"id": "secret", "command": f"echo 'aws_key = \"{FAKE_AWS_KEY}\"' > config.py", "isolation": "worktree"},
        ]},
    )
    result = run_br("parallel", "start", "iso", "--config", str(plan), "--workers", "3", "--wait")
    assert result.returncode == 1
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    assert (fast_project / "app.txt").read_text() == "v1\n"  # the main checkout is untouched
    assert git(fast_project, "show", f"br/{sid}/left:app.txt") == "left\n"
    assert git(fast_project, "show", f"br/{sid}/right:app.txt") == "right\n"
    assert git(fast_project, "show", f"br/{sid}/right:new.txt") == "extra\n"
    project = Project(fast_project)
    secret = project.store.fetchone("SELECT status, error FROM tasks WHERE session_id = ? AND task_id = 'secret'", (sid,))
    assert secret is not None and secret["status"] == "failed"
    assert "security: the task added a secret to config.py" in secret["error"] and FAKE_AWS_KEY not in secret["error"]
    assert "worktree" not in git(fast_project, "worktree", "list").split("\n", 1)[-1]  # worktrees removed, branches kept
    project.close()


def test_added_lines_reads_only_additions() -> None:
    diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n+more\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
    assert added_lines(diff) == {"x": "new\nmore\n"}


def test_many_worktree_tasks_at_once_each_get_their_branch(fast_project: Path, run_br: Any) -> None:
    """Workers starting together add worktrees at the same moment; git's shared worktree files must not be raced."""
    (fast_project / ".gitignore").write_text(".buildrunner/\n")
    git(fast_project, "add", "-A")
    git(fast_project, "commit", "-qm", "base")
    tasks = [{"id": f"t{i}", "command": f"echo {i} > out.txt", "isolation": "worktree"} for i in range(12)]
    plan = write_plan(fast_project, {"tasks": tasks})
    result = run_br("parallel", "start", "many", "--config", str(plan), "--workers", "4", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    assert [git(fast_project, "show", f"br/{sid}/t{i}:out.txt") for i in range(12)] == [f"{i}\n" for i in range(12)]
