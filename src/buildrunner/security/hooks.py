"""The git pre-commit hook: install, inspect, remove, without ever losing someone else's hook."""

from __future__ import annotations

import os
import shlex
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import BuildRunnerError
from buildrunner.project import ensure_project
from buildrunner.security.git import NotARepository, hooks_dir, repo_root

if TYPE_CHECKING:
    from buildrunner.project import Project

HOOK_NAME = "pre-commit"
# git runs pre-merge-commit, not pre-commit, for a merge that commits by itself: ours runs the pre-commit hook, as
# git's own sample does, so a branch merged in with a secret is checked too.
MERGE_HOOK_NAME = "pre-merge-commit"
MARKER = "# buildrunner-managed-hook"
BACKUP_SUFFIX = ".br-backup"


def merge_hook_script() -> str:
    """The pre-merge-commit hook: the pre-commit hook, on the merge's staged result."""
    return (
        "#!/bin/sh\n"
        f"{MARKER}\n"
        "# Installed by `br security hooks install`: merges that commit by themselves are checked as commits are.\n"
        f'hook="$(dirname "$0")/{HOOK_NAME}"\n'
        'if [ -x "$hook" ]; then\n'
        '    exec "$hook"\n'
        "fi\n"
    )


def hook_script(python: str = sys.executable, project: str = ".") -> str:
    """The hook: run `br security precommit` with this Python, or `br` from PATH if it moved; then the hook it
    replaced (`install --force` keeps it as `pre-commit.br-backup`), as the pre-commit framework runs a legacy hook.

    git runs a hook from the top of the working tree; `project` is the project's folder relative to it
    (a project in a subfolder of a monorepo), so the hook checks with that project's rules and allowlist."""
    py = shlex.quote(python)
    br = "" if project == "." else f"-C {shlex.quote(project)} "
    return (
        "#!/bin/sh\n"
        f"{MARKER}\n"
        "# Installed by `br security hooks install`; remove with `br security hooks uninstall`.\n"
        "# Blocks commits that stage secrets or SQL injection. Bypass once: git commit --no-verify\n"
        f"if [ -x {py} ]; then\n"
        f"    {py} -m buildrunner {br}security precommit || exit $?\n"
        "else\n"
        f"    br {br}security precommit || exit $?\n"
        "fi\n"
        f'replaced="$(dirname "$0")/{HOOK_NAME}{BACKUP_SUFFIX}"\n'
        'if [ -x "$replaced" ]; then\n'
        '    exec "$replaced" "$@"\n'
        "fi\n"
    )


@dataclass(frozen=True)
class HookStatus:
    """`state`: installed (ours), foreign (someone else's), missing."""

    state: str
    path: str
    permissions: str = ""
    executable: bool = False
    backup: str | None = None
    merge_commits: bool = False  # our pre-merge-commit hook is there too: merges that commit by themselves are checked


@dataclass(frozen=True)
class HookRemoval:
    """What `uninstall` did: whether our hook was removed, the earlier hook put back (its path), and the state after."""

    removed: bool
    restored: str | None
    status: HookStatus


class HookManager:
    """Manage BuildRunner's pre-commit hook in the repository's real hooks folder."""

    def __init__(self, project: "Project | None" = None) -> None:
        project = ensure_project(project)
        self.project = project

    @property
    def path(self) -> Path:
        return hooks_dir(self.project.paths.root) / HOOK_NAME

    def status(self) -> HookStatus:
        path = self.path
        backup = path.with_name(HOOK_NAME + BACKUP_SUFFIX)
        backup_s = str(backup) if backup.exists() else None
        if not path.exists():
            return HookStatus("missing", str(path), backup=backup_s)
        mode = path.stat().st_mode
        merge = path.with_name(MERGE_HOOK_NAME)
        state = "installed" if _ours(path) else "foreign"
        return HookStatus(state, str(path), stat.filemode(mode), bool(mode & stat.S_IXUSR), backup_s, state == "installed" and _ours(merge))

    def install(self, force: bool = False) -> HookStatus:
        """Write our hook; a foreign hook is kept as `pre-commit.br-backup` and only replaced with `force`.

        Any failure is an installation failure (exit 1, as the spec says), a missing repository included.
        """
        try:
            current = self.status()
        except NotARepository as exc:
            raise BuildRunnerError(f"cannot install the pre-commit hook: {exc.message}", hint=exc.hint) from None
        path = Path(current.path)
        if current.state == "foreign":
            if not force:
                raise BuildRunnerError(
                    f"{path} is a pre-commit hook BuildRunner did not install",
                    hint="rerun with --force to put BuildRunner's in front of it (it is kept as pre-commit.br-backup and still runs after), or add `br security precommit` to it",
                )
            backup = path.with_name(HOOK_NAME + BACKUP_SUFFIX)
            if backup.exists():  # an older replaced hook: kept aside; the one replaced now is the one that runs after ours
                os.replace(backup, path.with_name(f"{HOOK_NAME}{BACKUP_SUFFIX}.{int(time.time())}"))
            os.replace(path, backup)
        path.parent.mkdir(parents=True, exist_ok=True)
        root = self.project.paths.root.resolve()
        _write(path, hook_script(project=root.relative_to(repo_root(root).resolve()).as_posix()))
        merge = path.with_name(MERGE_HOOK_NAME)
        if not merge.exists() or _ours(merge):  # another tool's pre-merge-commit hook stays as it is (status says so)
            _write(merge, merge_hook_script())
        return self.status()

    def uninstall(self) -> HookRemoval:
        """Remove our hook and put back the hook it replaced, if any; never touch a foreign hook."""
        current = self.status()
        path = Path(current.path)
        if current.state == "foreign":
            raise BuildRunnerError(f"{path} was not installed by BuildRunner; leaving it alone", hint="remove it yourself if you no longer want it")
        restored = None
        if current.state == "installed":
            path.unlink()
            merge = path.with_name(MERGE_HOOK_NAME)
            if _ours(merge):
                merge.unlink()
            if current.backup:
                os.replace(current.backup, path)
                restored = str(path)
        return HookRemoval(current.state == "installed", restored, self.status())


def _ours(path: Path) -> bool:
    """Whether the hook at `path` is one BuildRunner wrote."""
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _write(path: Path, script: str) -> None:
    """Replace the hook at `path` whole (a half-written hook would run)."""
    tmp = path.with_name(f".{path.name}.br-tmp")
    tmp.write_text(script, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, path)
