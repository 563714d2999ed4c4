"""Landing: merge a session's passing task branches into a branch, one verified merge commit each.

`merge_session(project, session, *, into, dry_run, on_step, verify_timeout, tick) -> MergeReport`
takes a `MergeSession` (what the store knows: the session, the branch it was started from,
its passing tasks with branch, commit, `verify` and dependencies) and, in dependency order:

1. skips a task whose commit the target already holds (so a re-run after fixing a conflict
   lands the rest), or that changed nothing;
2. merges it with `--no-ff` in a temporary worktree of the target (`.buildrunner/worktrees/
   <session>/merge`), never in the user's checkout;
3. re-runs the task's `verify` there on the merged result (the plan's `setup` first, once),
   its output masked into `.buildrunner/logs/<session>/merge.<task>.verify.log`, ended with its
   process group at its timeout;
4. only then moves the target to the merge commit: a compare-and-swap `update-ref` when the
   target is not checked out, else a fast-forward of the checkout that has it, which git refuses
   (leaving everything as it was) if uncommitted changes there would be overwritten.

It stops at the first conflict or failing verify, with the target exactly as it was before
that task's merge, and says which task, which files and what to do next. `dry_run` merges in
the temporary worktree only (no verify): no branch moves. One merge runs at a time per project.

`SessionManager.merge_plan` builds the `MergeSession` from the store.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import ConfigError, NotFoundError, ParallelError
from buildrunner.parallel.isolation import (
    DEFAULT_AUTHOR,
    StepResult,
    Tick,
    add_worktree,
    flock,
    git,
    masking_rules,
    no_tick,
    project_prefix,
    remove_worktree,
    run_step,
    step_env,
    worktrees_dir,
)
from buildrunner.parallel.states import StrEnum
from buildrunner.security.masking import mask_secrets, masked_line

if TYPE_CHECKING:
    from buildrunner.project import Project

MERGE_FOLDER = "merge"


class StepStatus(StrEnum):
    MERGED = "merged"  # landed on the target, verify passed
    WOULD_MERGE = "would_merge"  # dry run: merges cleanly
    ALREADY_MERGED = "already_merged"  # the target already holds the task's commit
    NO_CHANGES = "no_changes"  # the task passed without changing a file: nothing to merge
    CONFLICT = "conflict"
    VERIFY_FAILED = "verify_failed"
    NOT_REACHED = "not_reached"  # after the step that stopped the merge


@dataclass(frozen=True)
class MergeTask:
    """A passing task as the store records it."""

    task_id: str
    branch: str
    commit: str | None  # the passing attempt's commit; None when it changed nothing
    verify: str | None = None
    depends_on: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None  # the task's folder, relative to the project: verify runs there
    timeout: float | None = None  # for verify; default `verify_timeout`, else parallel.task_timeout


@dataclass(frozen=True)
class MergeSession:
    session_id: str
    name: str
    base_branch: str | None  # the branch the session was started from: the default target
    tasks: tuple[MergeTask, ...]
    setup: str | None = None  # the plan's setup, run once in the merge worktree before the first verify


@dataclass
class MergeStep:
    task_id: str
    branch: str
    commit: str | None
    status: StepStatus
    merge_commit: str | None = None
    conflicts: list[str] = field(default_factory=list)
    verify: StepResult | None = None


@dataclass
class MergeReport:
    session_id: str
    session_name: str
    target: str
    dry_run: bool
    tip_before: str
    tip_after: str
    steps: list[MergeStep] = field(default_factory=list)
    error: str | None = None  # why it stopped, one line
    next_step: str | None = None  # what to do about it
    kept_worktree: Path | None = None  # the merged tree a failing verify ran on, kept for inspection

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def merged(self) -> list[MergeStep]:
        return [step for step in self.steps if step.status in (StepStatus.MERGED, StepStatus.WOULD_MERGE)]


def dependency_order(tasks: Iterable[MergeTask]) -> list[MergeTask]:
    """`tasks` with each after the ones it depends on (dependencies outside `tasks` ignored), plan order otherwise."""
    by_id = {task.task_id: task for task in tasks}
    position = {task_id: n for n, task_id in enumerate(by_id)}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for task in by_id.values():
        sorter.add(task.task_id, *(dep for dep in task.depends_on if dep in by_id))
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ConfigError(f"tasks depend on each other in a cycle: {' -> '.join(exc.args[1])}", hint="fix depends_on in the plan") from None
    ordered: list[MergeTask] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        ordered.extend(by_id[task_id] for task_id in ready)
        sorter.done(*ready)
    return ordered


def merge_target(project: "Project", session: MergeSession, into: str | None = None) -> str:
    """The branch a session's work lands on (`into`, else the branch it started from), checked to exist."""
    repo = project.paths.root
    if git(repo, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise ParallelError(f"{repo} is not in a git repository: there is nothing to merge", hint="run `br parallel merge` in the project the session ran in")
    target = into or session.base_branch
    if not target:
        raise ConfigError(
            f"session {session.session_id} was started on no branch (a detached HEAD, or a repository without a commit): no branch to merge into",
            hint="pass --into BRANCH",
        )
    found = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/heads/{target}^{{commit}}", check=False)
    if found.returncode != 0:
        raise NotFoundError(f"branch {target}: not found in {repo}", hint="pass --into with an existing branch (see `git branch`)")
    return target


def unlanded(project: "Project", session: MergeSession) -> tuple[str, list[MergeTask]]:
    """The branch a session's work lands on and its passing tasks whose commit that branch does not hold yet: what
    `br parallel merge` would land. Nothing when there is no branch to land on, or no task made a commit (then
    git is not asked)."""
    if not any(t.commit is not None for t in session.tasks):
        return "", []
    try:
        target = merge_target(project, session)
    except (ConfigError, NotFoundError, ParallelError):
        return "", []
    waiting = [
        t for t in session.tasks
        if t.commit is not None and git(project.paths.root, "merge-base", "--is-ancestor", t.commit, f"refs/heads/{target}", check=False).returncode != 0
    ]
    return target, waiting


def merge_session(
    project: "Project",
    session: MergeSession,
    *,
    into: str | None = None,
    dry_run: bool = False,
    on_step: Callable[[MergeStep], None] | None = None,
    verify_timeout: float | None = None,
    tick: Tick | None = None,
) -> MergeReport:
    """Merge `session`'s passing tasks into `into` (default: the branch it was started from); see the module doc.

    Raises `ConfigError` without a target, `NotFoundError` for a branch that does not exist,
    `ParallelError` when the target's checkout has uncommitted changes the merge would overwrite
    (before anything is merged) or git refuses a step. A conflict or failing verify is not an
    exception: the report says it (`ok` is False).
    """
    target = merge_target(project, session, into)
    ref = f"refs/heads/{target}"
    tick = tick or no_tick
    with flock(project.paths.state_dir / "worktrees" / ".merge.lock", tick):
        landing = _Landing(project, session, target, ref, dry_run, tick, verify_timeout)
        return landing.run(dependency_order(session.tasks), on_step or (lambda step: None))


class _Landing:
    """One run of `merge_session`, holding the target's tip as it moves."""

    def __init__(
        self, project: "Project", session: MergeSession, target: str, ref: str, dry_run: bool, tick: Tick, verify_timeout: float | None
    ) -> None:
        self.project = project
        self.repo = project.paths.root
        self.session = session
        self.target = target
        self.ref = ref
        self.dry_run = dry_run
        self.tick = tick
        self.verify_timeout = verify_timeout
        self.tip = git(self.repo, "rev-parse", ref).stdout.strip()
        self.checkout = _checkout_of(self.repo, ref)
        self.worktree = worktrees_dir(project, session.session_id) / MERGE_FOLDER
        self.workdir = self.worktree / project_prefix(project)  # the project's folder in it
        self.created = False
        self.set_up = False
        self.report = MergeReport(session.session_id, session.name, target, dry_run, self.tip, self.tip)

    def run(self, tasks: list[MergeTask], on_step: Callable[[MergeStep], None]) -> MergeReport:
        for task in tasks:
            if task.commit is not None and git(self.repo, "cat-file", "-e", f"{task.commit}^{{commit}}", check=False).returncode != 0:
                raise NotFoundError(
                    f"task {task.task_id}: its commit {task.commit[:12]} ({task.branch}) is not in {self.repo}",
                    hint="merge in the repository its worker ran in, or fetch its branch here first",
                )
        if self.checkout is not None and not self.dry_run:
            self._refuse_overwrite(tasks)
        keep = False
        try:
            for n, task in enumerate(tasks):
                step = self._step(task)
                self.report.steps.append(step)
                on_step(step)
                if step.status in (StepStatus.CONFLICT, StepStatus.VERIFY_FAILED):
                    keep = step.status == StepStatus.VERIFY_FAILED
                    for rest in tasks[n + 1 :]:
                        skipped = MergeStep(rest.task_id, rest.branch, rest.commit, StepStatus.NOT_REACHED)
                        self.report.steps.append(skipped)
                        on_step(skipped)
                    break
        finally:
            if self.created and not keep:
                self._remove_worktree()
        self.report.kept_worktree = self.worktree if keep else None
        self.report.tip_after = self.tip if not self.dry_run else self.report.tip_before
        return self.report

    def _step(self, task: MergeTask) -> MergeStep:
        if task.commit is None:
            return MergeStep(task.task_id, task.branch, None, StepStatus.NO_CHANGES)
        if git(self.repo, "merge-base", "--is-ancestor", task.commit, self.tip, check=False).returncode == 0:
            return MergeStep(task.task_id, task.branch, task.commit, StepStatus.ALREADY_MERGED)
        self._ensure_worktree()
        merged = git(
            self.worktree, "merge", "--no-ff", "--no-log", "--no-stat", "--quiet", "--no-autostash", "--no-verify-signatures",
            "-m", self._message(task), task.commit, check=False, tick=self.tick, env=_identity(self.repo),
        )
        if merged.returncode != 0:
            return self._conflict(task, merged)
        new = git(self.worktree, "rev-parse", "HEAD").stdout.strip()
        step = MergeStep(task.task_id, task.branch, task.commit, StepStatus.WOULD_MERGE, merge_commit=new)
        if self.dry_run:
            self.tip = new  # the next task merges onto this, as the real run would
            return step
        if task.verify:
            step.verify = self._verify(task)
            if not step.verify.passed:
                step.status = StepStatus.VERIFY_FAILED
                self.report.error = (
                    f"verify `{masked_line(task.verify, 100)}` of task {task.task_id} failed on {self.target} merged with {task.branch}: {step.verify.describe()}"
                )
                self.report.next_step = (
                    f"{self.target} is left as it was before this merge; the merged tree is in {self.worktree} and the output in {step.verify.log}. "
                    + self._by_hand(task)
                )
                return step
        self._land(new, task)
        step.status = StepStatus.MERGED
        return step

    def _ensure_worktree(self) -> None:
        if not self.created:
            add_worktree(self.project, self.worktree, self.tip, self.tick)
            self.created = True

    def _remove_worktree(self) -> None:
        remove_worktree(self.project, self.worktree)

    def _message(self, task: MergeTask) -> str:
        return mask_secrets(
            f"Merge task {task.task_id} of session {self.session.name} ({task.branch})\n\n"
            f"BuildRunner-Session: {self.session.name} ({self.session.session_id})\nBuildRunner-Task: {task.task_id}\n"
        )

    def _conflict(self, task: MergeTask, merged: subprocess.CompletedProcess[str]) -> MergeStep:
        paths = git(self.worktree, "diff", "--name-only", "--diff-filter=U", "-z").stdout.split("\0")
        conflicts = sorted(path for path in paths if path)
        what = "would conflict" if self.dry_run else "conflicts"
        if conflicts:
            shown = ", ".join(conflicts[:10]) + (f" (+{len(conflicts) - 10} more)" if len(conflicts) > 10 else "")
            self.report.error = f"task {task.task_id} ({task.branch}) {what} with {self.target} in {shown}"
        else:
            detail = [line for line in (merged.stderr + merged.stdout).splitlines() if line.strip()]
            self.report.error = f"task {task.task_id} ({task.branch}) cannot be merged into {self.target}: {detail[-1] if detail else 'git merge failed'}"
        self.report.next_step = (
            "Nothing was changed (dry run): the merge would stop here, after landing the tasks before it. " if self.dry_run
            else f"{self.target} is left as it was before this merge. "
        ) + self._by_hand(task)
        return MergeStep(task.task_id, task.branch, task.commit, StepStatus.CONFLICT, conflicts=conflicts)

    def _by_hand(self, task: MergeTask) -> str:
        return (
            f"Merge it by hand (`git switch {self.target} && git merge {task.branch}`), fix and commit, "
            f"then run `br parallel merge {self.session.session_id}` again: tasks already merged are skipped"
        )

    def _verify(self, task: MergeTask) -> StepResult:
        settings = self.project.config.parallel
        env = step_env(
            **task.env, BR_SESSION_ID=self.session.session_id, BR_TASK_ID=task.task_id, BR_PROJECT_ROOT=str(self.repo), BR_WORKTREE=str(self.workdir)
        )
        if self.session.setup and not self.set_up:
            setup = run_step(
                self.session.setup, cwd=self.workdir, env=env, log=self._log("merge.setup.log"), rules=masking_rules(self.project),
                timeout=settings.task_timeout, grace=settings.kill_grace, tick=self.tick,
            )
            if not setup.passed:
                raise ParallelError(
                    f"setup `{masked_line(self.session.setup, 100)}` failed in the merge worktree: {setup.describe()}",
                    hint=f"its output is in {setup.log}; nothing was merged from task {task.task_id} on",
                )
            self.set_up = True
        timeout = self.verify_timeout or task.timeout or settings.task_timeout
        return run_step(
            task.verify or "", cwd=self.workdir / (task.cwd or ""), env=env, log=self._log(f"merge.{task.task_id}.verify.log"), rules=masking_rules(self.project),
            timeout=timeout, grace=settings.kill_grace, tick=self.tick,
        )

    def _log(self, name: str) -> Path:
        return self.project.paths.logs_dir / self.session.session_id / name

    def _land(self, new: str, task: MergeTask) -> None:
        """Move the target from `self.tip` to `new`, and the checkout that has it, or nothing at all."""
        if self.checkout is None:
            moved = git(self.repo, "update-ref", "-m", f"br parallel merge: task {task.task_id}", self.ref, new, self.tip, check=False)
        else:
            moved = git(
                self.checkout, "merge", "--ff-only", "--no-stat", "--quiet", "--no-autostash", "--no-verify-signatures", new,
                check=False, tick=self.tick,
            )
        if moved.returncode != 0:
            again = f"run `br parallel merge {self.session.session_id}` again"
            if git(self.repo, "rev-parse", self.ref).stdout.strip() != self.tip:
                raise ParallelError(f"{self.target} moved while task {task.task_id} was being merged (a new commit)", hint=f"{again} to merge onto it")
            detail = " ".join(line.strip() for line in moved.stderr.splitlines()[:3] if line.strip())
            if self.checkout is None:
                raise ParallelError(f"git refused to move {self.target} for task {task.task_id}: {detail}", hint=again)
            raise ParallelError(
                f"{self.target} is checked out in {self.checkout} and git refused to update it for task {task.task_id}: {detail}",
                hint=f"commit or stash your changes there, then {again}",
            )
        self.tip = new

    def _refuse_overwrite(self, tasks: list[MergeTask]) -> None:
        """Before anything is merged: uncommitted changes in the target's checkout that a task's change would overwrite."""
        assert self.checkout is not None
        dirty = _dirty_paths(self.checkout)
        if not dirty:
            return
        touched: set[str] = set()
        for task in tasks:
            if task.commit is not None:
                changed = git(self.repo, "diff", "--name-only", "-z", "--no-renames", f"{self.tip}...{task.commit}").stdout.split("\0")
                touched.update(path for path in changed if path)
        clash = sorted(dirty & touched)
        if clash:
            shown = ", ".join(clash[:10]) + (f" (+{len(clash) - 10} more)" if len(clash) > 10 else "")
            raise ParallelError(
                f"{self.target} is checked out in {self.checkout} with uncommitted changes to {shown}, which the merge would overwrite",
                hint=f"commit or stash them (git stash), then run `br parallel merge {self.session.session_id}` again",
            )


def _checkout_of(repo: Path, ref: str) -> Path | None:
    """The worktree (the main one or a linked one) that has `ref` checked out, if any."""
    records = git(repo, "worktree", "list", "--porcelain", "-z").stdout.split("\0\0")
    for record in records:
        lines = record.strip("\0").split("\0")
        fields = dict(line.split(" ", 1) for line in lines if " " in line)
        if fields.get("branch") == ref and "bare" not in lines and "prunable" not in fields:
            return Path(fields["worktree"])
    return None


def _dirty_paths(checkout: Path) -> set[str]:
    """Paths with uncommitted changes (staged, unstaged, untracked) in a checkout, without refreshing its index."""
    out = git(checkout, "status", "--porcelain=v1", "-z", "--untracked-files=all", env={"GIT_OPTIONAL_LOCKS": "0"}).stdout.split("\0")
    paths: set[str] = set()
    entries = iter(out)
    for entry in entries:
        if len(entry) < 4:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC":
            paths.add(next(entries, ""))  # the rename's source follows
    return paths


def _identity(repo: Path) -> dict[str, str]:
    """Merge commits are the user's when git knows who they are, else BuildRunner's."""
    name = git(repo, "config", "--get", "user.name", check=False).stdout.strip()
    email = git(repo, "config", "--get", "user.email", check=False).stdout.strip()
    return {} if name and email else DEFAULT_AUTHOR.env()
