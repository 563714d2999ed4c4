"""`isolation: worktree`: a task runs in its own git worktree on branch `br/<session>/<task>`.

Agents working at once then never trample each other's files. The branch keeps
the result (committed), and the lines the task added are scanned for secrets: a
task that introduces one fails with the finding.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import ParallelError
from buildrunner.parallel.models import Task
from buildrunner.paths import make_private_dir

if TYPE_CHECKING:
    from buildrunner.project import Project


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise ParallelError(f"git {' '.join(args[:3])}: {detail[-1] if detail else f'exit {proc.returncode}'}", hint="isolation: worktree needs a git repository with at least one commit")
    return proc


@contextmanager
def _admin_lock(project: "Project") -> Iterator[None]:
    """One worker at a time adds, prunes or removes worktrees.

    git keeps them in shared files under `.git/worktrees`, and does not lock them: a prune while
    another worker's `worktree add` is half done deletes its entry ("failed to read commondir").
    The kernel drops the lock if its holder dies.
    """
    folder = project.paths.state_dir / "worktrees"
    make_private_dir(folder)
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def added_lines(diff: str) -> dict[str, str]:
    """Per file, the lines a unified diff (`-U0`) adds."""
    files: dict[str, list[str]] = {}
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = None if name == "/dev/null" else name.removeprefix("b/")
            if current is not None:
                files.setdefault(current, [])
        elif line.startswith("+") and current is not None:
            files[current].append(line[1:])
    return {name: "\n".join(lines) + "\n" for name, lines in files.items() if lines}


@dataclass
class Worktree:
    project: "Project"
    task: Task
    path: Path
    branch: str
    base: str

    @classmethod
    def prepare(cls, project: "Project", task: Task) -> "Worktree":
        """A fresh worktree at HEAD on `br/<session>/<task>` (reset on a retry)."""
        root = project.paths.root
        base = _git(root, "rev-parse", "HEAD").stdout.strip()
        path = project.paths.state_dir / "worktrees" / task.session_id / task.task_id
        branch = f"br/{task.session_id}/{task.task_id}"
        with _admin_lock(project):
            if path.exists():
                _git(root, "worktree", "remove", "--force", str(path), check=False)
                shutil.rmtree(path, ignore_errors=True)
            _git(root, "worktree", "prune")
            path.parent.mkdir(parents=True, exist_ok=True)
            _git(root, "worktree", "add", "--force", "-B", branch, str(path), base)
        return cls(project, task, path, branch, base)

    def finish(self, succeeded: bool) -> str | None:
        """Commit the task's changes to its branch, remove the worktree; return a secret finding, if any."""
        finding = None
        try:
            if succeeded:
                _git(self.path, "add", "-A")
                if _git(self.path, "diff", "--cached", "--quiet", check=False).returncode != 0:
                    _git(
                        self.path, "-c", "user.name=BuildRunner", "-c", "user.email=buildrunner@localhost",
                        "commit", "-q", "--no-verify", "-m", f"br: {self.task.task_id} ({self.task.session_id}, attempt {self.task.attempt})",
                    )
                finding = self._scan_diff()
        finally:
            with _admin_lock(self.project):
                _git(self.project.paths.root, "worktree", "remove", "--force", str(self.path), check=False)
        return finding

    def _scan_diff(self) -> str | None:
        from buildrunner.security.scanner import SecretScanner

        diff = _git(self.path, "diff", "-U0", "--no-color", "--no-ext-diff", self.base, "HEAD").stdout
        scanner = SecretScanner(self.project)
        for name, content in added_lines(diff).items():
            matches = scanner.scan_content(content, name)
            if matches:
                first = matches[0]
                more = f" (+{len(matches) - 1} more)" if len(matches) > 1 else ""
                return (
                    f"security: the task added a secret to {name}: {first.secret_type} {first.masked_value}{more}; "
                    f"branch {self.branch} keeps it for review"
                )
        return None
