"""`isolation: worktree`: each attempt of a task runs in a fresh git worktree of its own.

Agents working at once never trample each other's files, and a failed attempt's
worktree is kept for inspection while the next attempt starts clean. The calls the
worker makes, in order:

- `Worktree.prepare(project, task, *, session_name, base_commit, setup, tick, setup_timeout)`:
  a detached worktree at `base_commit` under `.buildrunner/worktrees/<session id>/<task id>.<attempt>`,
  then the plan's `setup` command run once in it (output masked into
  `.buildrunner/logs/<session id>/<task id>.<attempt>.setup.log`). A failed or timed-out
  setup raises `ParallelError` (command, exit code, last output line, masked) and removes the
  worktree; so does anything else that goes wrong, `tick` raising included: nothing leaks.
  The task runs in `worktree.workdir`: the project's folder in the worktree (its top, unless the
  project is a folder inside a larger repository).
- `Worktree.adopt(project, task, attempt, *, session_name, tick) -> Worktree | None`: the worktree an
  earlier attempt left when its worker was lost after its task exited, for the next attempt to
  check and land instead of running the task again (`prepare` keeps, beside each worktree, the two
  facts git does not: its base commit and what `setup` changed).
- `Worktree.diff_files() -> dict[str, bytes]`: the files (paths relative to the repository) the
  attempt added or changed against `base_commit` (committed by the agent, staged, unstaged or new and not ignored), with their
  content, for the security check. Files `setup` wrote and the task left alone are not the
  attempt's work: they are neither returned nor committed (a copied `.env` stays out).
- `Worktree.commit(*, agent, model, author) -> sha | None`: one commit of the attempt's result on
  `base_commit` (the agent's own commits are squashed, so a secret it committed and removed again
  never reaches the branch), set as branch `br/<session name>/<task id>` (`branch_name`). No hook,
  signing or identity setting of the user's git config is used or needed.
- `Worktree.remove()`: for a passing attempt (its branch keeps the work). Failed attempts'
  worktrees stay until `br parallel cleanup` (`remove_session_worktrees`).

Long git and setup steps call `tick()` at least every `TICK_S` seconds, so a single-threaded
worker keeps heartbeating. Worktrees are added and removed under one flock
(`_admin_lock`): git does not lock `.git/worktrees` itself.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from buildrunner.errors import NotFoundError, ParallelError
from buildrunner.localdays import WEEK_S
from buildrunner.parallel.attempt import Attempt, Launch
from buildrunner.parallel.branches import branch_name
from buildrunner.parallel.executor import SHELL, inherited_env
from buildrunner.parallel.models import Task
from buildrunner.parallel.record import SETUP_STEP, AttemptFiles
from buildrunner.paths import make_private_dir, read_json, write_private_json
from buildrunner.security.masking import mask_secrets, masked_line
from buildrunner.security.rules import rules_for, ruleset

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.security.rules import RuleSet

Tick = Callable[[], None]

# Long steps call `tick` at least this often (the worker's heartbeat needs one every 0.5 s at most).
TICK_S = 0.2
MAX_LINE = 300
# Settings from the user's git config that must not change what BuildRunner's own git calls do.
GIT_FLAGS = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false", "-c", "rerere.enabled=false")
DELETED = "000000"
SYMLINK_OR_SUBMODULE = ("120000", "160000")


@dataclass(frozen=True)
class Identity:
    """Who a commit is by: passed to git through the environment, so no user config is needed."""

    name: str
    email: str

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name, "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name, "GIT_COMMITTER_EMAIL": self.email,
        }


DEFAULT_AUTHOR = Identity("BuildRunner", "buildrunner@localhost")


def no_tick() -> None:
    """The `tick` of callers with nothing to keep alive."""


# -- git --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _repo_env_vars() -> frozenset[str]:
    """`GIT_DIR`, `GIT_INDEX_FILE`, ...: set by a calling hook or script, they would point our git elsewhere."""
    try:
        out = subprocess.run(["git", "rev-parse", "--local-env-vars"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        raise NotFoundError("git is not installed", hint="install git: isolation: worktree and `br parallel merge` need it") from None
    return frozenset(out.split())


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of BuildRunner's git calls: the caller's, without repository overrides, never prompting."""
    env = {key: value for key, value in os.environ.items() if key not in _repo_env_vars()}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_EDITOR": ":", "GIT_MERGE_AUTOEDIT": "no", "LC_ALL": "C"})
    env.update(extra or {})
    return env


def step_env(**values: str) -> dict[str, str]:
    """The environment of a setup or verify step: the caller's (without a calling hook's `GIT_DIR` & co.), PATH as tasks get it, `values`."""
    return {**inherited_env(_repo_env_vars()), **values}


def git(
    cwd: Path, *args: str, tick: Tick = no_tick, input: bytes | None = None, env: Mapping[str, str] | None = None,
    check: bool = True, hint: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run git in `cwd` (hooks, signing and rerere off), calling `tick` while it runs; a failure raises `ParallelError`.

    Output is decoded as UTF-8 with undecodable bytes kept as surrogates, so any file name round-trips.
    """
    try:
        proc = subprocess.Popen(
            ["git", *GIT_FLAGS, *args], cwd=cwd, env=git_env(env), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise NotFoundError("git is not installed", hint="install git: isolation: worktree and `br parallel merge` need it") from None
    try:
        while True:
            try:
                out, err = proc.communicate(input, timeout=TICK_S)
                break
            except subprocess.TimeoutExpired:
                tick()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape"))
    if check and result.returncode != 0:
        detail = [line for line in (result.stderr.strip() or result.stdout.strip()).splitlines() if line.strip()]
        # git's own verdict, not the advice it prints after it ("remove the file manually to continue.")
        said = [line for line in detail if line.startswith(("fatal: ", "error: "))] or detail
        raise ParallelError(f"git {args[0]} failed in {cwd}: {said[-1] if said else f'exit code {result.returncode}'}", hint=hint)
    return result


def repo_base(root: Path) -> tuple[str | None, str | None]:
    """(branch, commit) the repository at `root` is on; None for what it does not have (no repository, no commit, detached)."""
    try:
        commit = git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    except NotFoundError:  # no git: only worktree tasks need it, and they say so when they start
        return None, None
    if commit.returncode != 0:
        return None, None
    branch = git(root, "symbolic-ref", "--short", "-q", "HEAD", check=False)
    return (branch.stdout.strip() or None) if branch.returncode == 0 else None, commit.stdout.strip()


def resolve_commit(repo: Path, revision: str) -> str:
    """The full sha of `revision` as a commit; `NotFoundError` when there is none."""
    found = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}", check=False)
    if found.returncode != 0:
        raise NotFoundError(f"{revision}: no such commit in {repo}", hint="isolation: worktree needs a git repository with at least one commit")
    return found.stdout.strip()


def tree_changes(repo: Path, old: str, new: str) -> dict[str, tuple[str, str, str, str]]:
    """Per path changed between two tree-ish: (old mode, old sha, new mode, new sha); a deleted file has mode 000000."""
    raw = git(repo, "diff-tree", "-r", "-z", "--no-renames", "--no-abbrev", old, new).stdout.split("\0")
    changes = {}
    for meta, path in zip(raw[0::2], raw[1::2]):
        fields = meta.lstrip(":").split()
        if len(fields) >= 4:
            changes[path] = (fields[0], fields[2], fields[1], fields[3])
    return changes


def read_blobs(repo: Path, shas: list[str], tick: Tick = no_tick) -> list[bytes]:
    """The contents of blobs, in order (one `git cat-file --batch` for all of them)."""
    if not shas:
        return []
    batch = git(repo, "cat-file", "--batch", input="".join(f"{sha}\n" for sha in shas).encode(), tick=tick)
    out, pos, blobs = batch.stdout.encode("utf-8", "surrogateescape"), 0, []  # the bytes git wrote, exactly
    for _ in shas:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        blobs.append(out[header_end + 1 : header_end + 1 + size])
        pos = header_end + 1 + size + 1
    return blobs


# -- paths and the admin lock -------------------------------------------------------------------


def worktrees_dir(project: "Project", session_id: str) -> Path:
    """The folder holding a session's worktrees (each attempt's, and `merge`)."""
    return project.paths.state_dir / "worktrees" / session_id


def project_prefix(project: "Project") -> str:
    """Where the project sits in its repository ("" at the top, else e.g. "services/api/"): the same place in a worktree."""
    return git(project.paths.root, "rev-parse", "--show-prefix").stdout.strip()


def attempt_dir(project: "Project", task: Task, attempt: int | None = None) -> Path:
    """The worktree of the task's attempt (`attempt`, default the one `task` is)."""
    return worktrees_dir(project, task.session_id) / f"{task.task_id}.{task.attempt if attempt is None else attempt}"


def facts_file(path: Path) -> Path:
    """Beside a worktree: what its attempt must remember to have its work checked by a later one (base, setup's changes)."""
    return path.with_name(path.name + ".json")


def setup_log(project: "Project", task: Task) -> Path:
    """Next to the attempt's own log: `<task>.<attempt>.setup.log`."""
    return AttemptFiles.of(project.paths.logs_dir, task.session_id, task.task_id, task.attempt, step=SETUP_STEP).log


@contextmanager
def flock(path: Path, tick: Tick = no_tick) -> Iterator[None]:
    """Hold an exclusive lock on `path`, calling `tick` while another process holds it.

    The kernel drops the lock if its holder dies.
    """
    make_private_dir(path.parent)
    with open(path, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                tick()
                time.sleep(TICK_S / 2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _admin_lock(project: "Project", tick: Tick = no_tick) -> AbstractContextManager[None]:
    """One process at a time adds or removes worktrees.

    git keeps them in shared files under `.git/worktrees`, and does not lock them: a prune while
    another worker's `worktree add` is half done deletes its entry ("failed to read commondir").
    """
    return flock(project.paths.state_dir / "worktrees" / ".lock", tick)


def discard_worktree(repo: Path, path: Path, tick: Tick = no_tick) -> None:
    """Unregister and delete the worktree at `path` (call under `_admin_lock`); no error if it is half gone or missing.

    Only this worktree's record goes: no `git worktree prune`, which would also drop the user's own
    worktrees that are merely missing for now (on a drive not mounted).
    """
    git(repo, "worktree", "remove", "--force", "--force", str(path), check=False, tick=tick)
    shutil.rmtree(path, ignore_errors=True)
    facts_file(path).unlink(missing_ok=True)


def add_worktree(project: "Project", path: Path, commit: str, tick: Tick = no_tick) -> None:
    """A detached worktree of `commit` at `path` (replacing whatever is there), checked out outside the lock."""
    root = project.paths.root
    with _admin_lock(project, tick):
        discard_worktree(root, path, tick)
        make_private_dir(path.parent)
        git(
            root, "worktree", "add", "--force", "--detach", "--no-checkout", str(path), commit,
            hint="isolation: worktree needs a git repository with at least one commit",
        )
    try:
        git(path, "reset", "--hard", "--quiet", tick=tick)  # the long part (every file written): other workers need not wait
    except BaseException:
        remove_worktree(project, path)
        raise


def remove_worktree(project: "Project", path: Path, tick: Tick = no_tick) -> None:
    """Delete one worktree (its branch, if any, stays)."""
    with _admin_lock(project, tick):
        discard_worktree(project.paths.root, path, tick)


@contextmanager
def landing_lock(project: "Project", session_id: str, tick: Tick = no_tick) -> Iterator[None]:
    """One merge into a session's target at a time (workers of a `merge: true` session pass together)."""
    with flock(worktrees_dir(project, session_id) / ".landing.lock", tick):
        yield


def remove_session_worktrees(project: "Project", session_id: str) -> None:
    """Delete every worktree of a session (failed attempts', a kept merge) and git's records of them (for `cleanup`)."""
    folder = worktrees_dir(project, session_id)
    if not folder.exists():
        return
    root = project.paths.root
    with _admin_lock(project):
        listed = git(root, "worktree", "list", "--porcelain", "-z", check=False).stdout.split("\0")
        for line in listed:
            if line.startswith("worktree ") and Path(line[len("worktree "):]).resolve().parent == folder.resolve():
                discard_worktree(root, Path(line[len("worktree "):]))
        shutil.rmtree(folder, ignore_errors=True)


# -- running a shell step (setup, verify) --------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """How a shell step (setup, verify) ended; `last_line` is masked."""

    command: str
    exit_code: int | None  # negative: killed by that signal; None: ended at its timeout
    timed_out: bool
    duration_s: float
    log: Path
    last_line: str

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        """E.g. "exit code 2: npm ERR! missing script", "timed out after 30s (ended)"."""
        if self.timed_out:
            what = f"timed out after {self.duration_s:.0f}s (ended)"
        elif self.exit_code is not None and self.exit_code < 0:
            what = f"killed by {_signal_name(-self.exit_code)}"
        else:
            what = f"exit code {self.exit_code}"
        return what + (f": {self.last_line}" if self.last_line else "")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def masking_rules(project: "Project") -> "RuleSet":
    """The secret rules the project's logs are masked with."""
    return ruleset(rules_for(project.config.security))


def run_step(
    command: str, *, cwd: Path, env: Mapping[str, str], log: Path, rules: "RuleSet", timeout: float | None = None,
    grace: float = 5.0, tick: Tick = no_tick,
) -> StepResult:
    """Run `command` with `/bin/sh -c` the way a task's attempt runs (`parallel.attempt`): its output masked as
    it streams into `log`, its whole process tree ended when it ends, at `timeout` (TERM, then KILL after
    `grace`). `tick` is called at least every `TICK_S` seconds; if it raises, the step is ended and the
    exception passes on.
    """
    make_private_dir(log.parent)
    files = AttemptFiles("step", 0, log=log, err=log.with_suffix(".err.log"))
    launch = Launch([SHELL, "-c", command], cwd, dict(env), files, timeout if timeout is not None else WEEK_S, grace)
    attempt = Attempt(launch, rules, None, claimed=time.monotonic(), lease=0)
    attempt.start()
    try:
        while not attempt.wait(TICK_S):
            tick()
    except BaseException:
        attempt.stop("ended with its caller", force=True)
        while not attempt.wait(TICK_S):
            pass
        raise
    exit = attempt.exit or {}
    timed_out = exit.get("outcome") == "timeout"
    code = None if timed_out else exit.get("code", 127 if exit.get("outcome") == "error" else None)
    if exit.get("outcome") == "error":
        with open(log, "a", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
            handle.write(f"cannot start: {exit.get('error')}\n")
        code = 127
    return StepResult(command, code, timed_out, float(exit.get("duration_ms") or 0.0) / 1000, log, _last_line(log))


def _last_line(log: Path) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")[-4096:]
    except FileNotFoundError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:MAX_LINE]


# -- the worktree of one attempt ------------------------------------------------------------------


@dataclass
class Worktree:
    """One attempt's worktree (detached at `base_commit`) and the branch its result goes to.

    `path` is the worktree's top; `workdir` the project's folder in it (the same unless the
    project is a folder inside a larger repository): tasks and `setup` run there.
    """

    project: "Project"
    task: Task
    path: Path
    workdir: Path
    branch: str
    base_commit: str
    session_name: str
    tick: Tick = no_tick
    # What `setup` changed, per path (as `tree_changes` gives it): left out of the attempt's work.
    setup_changes: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls, project: "Project", task: Task, *, session_name: str, base_commit: str | None = None,
        setup: str | None = None, tick: Tick | None = None, setup_timeout: float | None = None,
    ) -> "Worktree":
        """A fresh worktree for this attempt at `base_commit` (default: the project's HEAD), `setup` run in it.

        `session_name` names the branch (`branch_name`); until the worker passes it, it is read
        from the store. `setup_timeout` defaults to the task's timeout. Raises `ParallelError`
        when git or `setup` fails, with the worktree removed.
        """
        tick = tick or no_tick
        root = project.paths.root
        base = resolve_commit(root, base_commit or "HEAD")
        name = session_name
        path = attempt_dir(project, task)
        prefix = project_prefix(project)
        add_worktree(project, path, base, tick)
        worktree = cls(project, task, path, path / prefix, branch_name(name, task.task_id), base, name, tick)
        try:
            if setup:
                worktree._setup(setup, setup_timeout if setup_timeout is not None else task.timeout)
            worktree._save_facts()
        except BaseException:
            worktree.tick = no_tick  # tick may be what raised (the worker was declared lost)
            worktree.remove()
            raise
        return worktree

    @classmethod
    def adopt(cls, project: "Project", task: Task, attempt: int, *, session_name: str, tick: Tick | None = None) -> "Worktree | None":
        """The worktree an earlier `attempt` of the task left (its worker was lost after the task exited), for
        `task`'s attempt to check and land its work; None when it is gone (or never got as far as its task)."""
        path = attempt_dir(project, task, attempt)
        facts = read_json(facts_file(path)) if path.is_dir() else None
        if facts is None:
            return None
        changes = {name: (old_mode, old_sha, new_mode, new_sha) for name, (old_mode, old_sha, new_mode, new_sha) in facts["setup_changes"].items()}
        return cls(
            project, task, path, path / project_prefix(project), branch_name(session_name, task.task_id), facts["base_commit"], session_name,
            tick or no_tick, changes,
        )

    def _save_facts(self) -> None:
        """Written once the worktree is ready for its task: what `adopt` needs, which git does not keep."""
        write_private_json(facts_file(self.path), {"base_commit": self.base_commit, "setup_changes": self.setup_changes})

    def env(self) -> dict[str, str]:
        """What `setup` sees: the task's environment and identity; `BR_PROJECT_ROOT` is the project in the user's checkout, `BR_WORKTREE` in this one."""
        return step_env(
            **self.task.env, BR_SESSION_ID=self.task.session_id, BR_TASK_ID=self.task.task_id, BR_TASK_ATTEMPT=str(self.task.attempt),
            BR_PROJECT_ROOT=str(self.project.paths.root), BR_WORKTREE=str(self.workdir),
        )

    def _setup(self, command: str, timeout: float | None) -> None:
        result = run_step(
            command, cwd=self.workdir, env=self.env(), log=setup_log(self.project, self.task), rules=masking_rules(self.project), timeout=timeout,
            grace=self.project.config.parallel.kill_grace, tick=self.tick,
        )
        if not result.passed:
            raise ParallelError(
                f"setup `{masked_line(command, 100)}` failed: {result.describe()}",
                hint=f"its output is in {result.log}; fix the plan's setup command",
            )
        self.setup_changes = tree_changes(self.path, self.base_commit, self._tree(exclude_setup=False))

    def _tree(self, *, exclude_setup: bool = True) -> str:
        """The tree of everything in the worktree now (git's ignore rules honoured), its own index untouched."""
        index = Path(git(self.path, "rev-parse", "--path-format=absolute", "--git-path", "index", tick=self.tick).stdout.strip())
        with tempfile.TemporaryDirectory(prefix="br-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            if index.exists():
                # Its stat data spares re-reading unchanged files. The copy keeps the index's mtime: git compares
                # the content of an entry as new as its index ("racy git"), or a same-size edit made in the
                # second of the checkout is taken for unchanged.
                shutil.copy2(index, env["GIT_INDEX_FILE"])
            git(self.path, "add", "--all", tick=self.tick, env=env)
            tree = git(self.path, "write-tree", env=env, tick=self.tick).stdout.strip()
            if exclude_setup and self.setup_changes:
                current = tree_changes(self.path, self.base_commit, tree)
                untouched = [path for path, change in self.setup_changes.items() if current.get(path) == change]
                if untouched:
                    entries = "".join(f"{self.setup_changes[p][0]} {self.setup_changes[p][1]}\t{p}\0" for p in untouched)
                    git(self.path, "update-index", "-z", "--index-info", input=entries.encode("utf-8", "surrogateescape"), env=env, tick=self.tick)
                    tree = git(self.path, "write-tree", env=env, tick=self.tick).stdout.strip()
        return tree

    def diff_files(self) -> dict[str, bytes]:
        """Path (relative to the repository) -> content of every file the attempt added or changed (links and submodules left out)."""
        changes = tree_changes(self.path, self.base_commit, self._tree())
        files = [(path, new_sha) for path, (_, _, new_mode, new_sha) in changes.items() if new_mode not in (DELETED, *SYMLINK_OR_SUBMODULE)]
        return dict(zip([path for path, _ in files], read_blobs(self.path, [sha for _, sha in files], self.tick)))

    def commit(self, *, agent: str | None, model: str | None, author: Identity = DEFAULT_AUTHOR) -> str | None:
        """Commit the attempt's result on `base_commit` as branch `self.branch`; its sha, or None when nothing changed.

        The branch is created or moved (a later session of the same name takes it over; the
        earlier commit stays reachable by its sha).
        """
        tree = self._tree()
        if tree == git(self.path, "rev-parse", f"{self.base_commit}^{{tree}}").stdout.strip():
            return None
        message = commit_message(self.session_name, self.task, agent=agent, model=model)
        sha = git(
            self.path, "commit-tree", "--no-gpg-sign", tree, "-p", self.base_commit, "-F", "-", input=message.encode(), env=author.env(),
        ).stdout.strip()
        git(self.project.paths.root, "update-ref", "-m", f"br: {self.task.task_id} attempt {self.task.attempt}", f"refs/heads/{self.branch}", sha)
        return sha

    def remove(self) -> None:
        """Delete the worktree (its branch stays)."""
        remove_worktree(self.project, self.path, self.tick)

def commit_message(session_name: str, task: Task, *, agent: str | None, model: str | None) -> str:
    """Subject naming the task, then git trailers: session, task, attempt, agent, model (masked: plans may hold anything)."""
    summary = (task.description.strip().splitlines() or [""])[0]
    subject = f"br({task.task_id}): {summary}" if summary else f"br({task.task_id}): attempt {task.attempt} of session {session_name}"
    trailers = [
        f"BuildRunner-Session: {session_name} ({task.session_id})",
        f"BuildRunner-Task: {task.task_id}",
        f"BuildRunner-Attempt: {task.attempt}",
        f"BuildRunner-Agent: {agent or 'none'}",
        f"BuildRunner-Model: {model or 'none'}",
    ]
    return masked_line(subject, 72) + "\n\n" + mask_secrets("\n".join(trailers)) + "\n"
