"""`isolation: worktree`: each attempt in a fresh worktree, `setup` run in it, its work committed on `br/<session>/<task>`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parallel_helpers import FAKE_AWS_KEY, session_id_of, wait_for, write_plan

from buildrunner.errors import NotFoundError, ParallelError
from buildrunner.parallel.isolation import DEFAULT_AUTHOR, Worktree, branch_name, commit_message, remove_session_worktrees
from buildrunner.parallel.models import Task
from buildrunner.parallel.plan import TASK_ID_PATTERN
from buildrunner.project import Project


def git(root: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", *args], cwd=root, check=check, capture_output=True, text=True).stdout


def commit_all(root: Path, files: dict[str, str], message: str = "base") -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def make_task(task_id: str = "t1", attempt: int = 1, *, description: str = "", session_id: str = "session-test") -> Task:
    return Task(session_id, task_id, attempt, "command", description, "true", None, None, 60.0, 0, {}, None, "worktree", None)


def registered_worktrees(root: Path) -> list[str]:
    """Paths of the linked worktrees git knows of (not the main one)."""
    lines = git(root, "worktree", "list", "--porcelain").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.startswith("worktree ")][1:]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def repo(tmp_project: Path) -> Path:
    commit_all(tmp_project, {".gitignore": ".buildrunner/\n*.log\n", "app.txt": "v1\n", "gone.txt": "bye\n", "lib/util.py": "x = 1\n"})
    return tmp_project


# -- through real sessions --------------------------------------------------------------------------


@pytest.mark.slow
def test_worktree_tasks_work_on_their_own_branches(fast_project: Path, run_br: Any) -> None:
    commit_all(fast_project, {"app.txt": "v1\n", ".gitignore": ".buildrunner/\n"})
    plan = write_plan(
        fast_project,
        {"tasks": [
            {"id": "left", "command": "echo left > app.txt", "isolation": "worktree"},
            {"id": "right", "command": "echo right > app.txt && echo extra > new.txt", "isolation": "worktree"},
            {"id": "secret", "command": f"echo 'aws_key = \"{FAKE_AWS_KEY}\"' > config.py", "isolation": "worktree"},
        ]},
    )
    result = run_br("parallel", "start", "iso run", "--config", str(plan), "--workers", "3", "--wait")
    assert result.returncode == 1
    sid = session_id_of(result.stdout)
    assert (fast_project / "app.txt").read_text() == "v1\n"  # the main checkout is untouched
    assert git(fast_project, "show", "br/iso-run/left:app.txt") == "left\n"
    assert git(fast_project, "show", "br/iso-run/right:app.txt") == "right\n"
    assert git(fast_project, "show", "br/iso-run/right:new.txt") == "extra\n"
    assert "BuildRunner <buildrunner@localhost>" in git(fast_project, "log", "-1", "--format=%an <%ae>", "br/iso-run/left")
    project = Project(fast_project)
    secret = project.store.fetchone("SELECT status, error FROM tasks WHERE session_id = ? AND task_id = 'secret'", (sid,))
    assert secret is not None and secret["status"] == "failed"
    assert "security: the attempt's changes hold 1 secret" in secret["error"] and "config.py:1" in secret["error"] and FAKE_AWS_KEY not in secret["error"]
    assert not git(fast_project, "branch", "--list", "br/iso-run/secret")  # nothing of it was committed
    # Passing attempts' worktrees are gone; the failed one's is kept for inspection.
    assert [Path(p).name for p in registered_worktrees(fast_project)] == ["secret.1"]
    remove_session_worktrees(project, sid)
    assert registered_worktrees(fast_project) == []
    assert not (fast_project / ".buildrunner" / "worktrees" / sid).exists()
    project.close()


def test_a_worktree_plan_in_a_repository_without_a_commit_is_refused_up_front(fast_project: Path, run_br: Any) -> None:
    """A worktree branches from a commit: without one the plan cannot run, said before anything is stored or started."""
    plan = write_plan(fast_project, {"isolation": "worktree", "tasks": [{"id": "plain", "command": "true", "isolation": "none"}, {"id": "edit", "command": "touch ran"}]})
    result = run_br("parallel", "start", "x", "--config", str(plan), "--wait")
    assert result.returncode == 2, result.stderr
    assert "task 'edit': isolation: worktree needs a git repository with at least one commit" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "git commit --allow-empty" in result.stderr
    assert run_br("parallel", "list", "--format", "json").stdout.strip() == "[]" and not (fast_project / "ran").exists()
    commit_all(fast_project, {".gitignore": ".buildrunner/\n"})
    assert run_br("parallel", "start", "x", "--config", str(plan), "--wait").returncode == 0  # one commit is all it needs


@pytest.mark.slow
def test_start_says_when_a_worktree_task_will_not_see_its_dependencys_work(fast_project: Path, run_br: Any) -> None:
    """Without `merge: true` a dependent worktree starts at the base commit: the plan's author is told at start, and is right."""
    commit_all(fast_project, {".gitignore": ".buildrunner/\n", "app.txt": "v1\n"})
    tasks = [
        {"id": "write", "command": "echo v2 > app.txt", "isolation": "worktree"},
        {"id": "read", "command": "cat app.txt > seen.txt", "isolation": "worktree", "depends_on": ["write"]},
    ]
    result = run_br("parallel", "start", "apart", "--config", str(write_plan(fast_project, {"tasks": tasks})), "--wait")
    assert result.returncode == 0, result.stderr
    assert "note: 'read' runs in a worktree of the session's base commit and will not see what 'write'" in result.stderr
    assert "set merge: true" in result.stderr
    assert git(fast_project, "show", "br/apart/read:seen.txt") == "v1\n"  # what the note said
    # With merge: true each passing task lands first: no note, and the dependent sees the work.
    plan = write_plan(fast_project, {"merge": True, "tasks": tasks})
    result = run_br("parallel", "start", "landed", "--config", str(plan), "--wait")
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stderr
    assert git(fast_project, "show", "br/landed/read:seen.txt") == "v2\n"
    # A dependency run in the checkout is not committed at all: that is said too.
    tasks[0]["isolation"] = "none"
    result = run_br("parallel", "start", "mixed", "--config", str(write_plan(fast_project, {"merge": True, "tasks": tasks})), "--wait")
    assert "will not see what 'write', which it depends on, changes in your checkout" in result.stderr


@pytest.mark.slow
def test_many_worktree_tasks_at_once_each_get_their_branch(fast_project: Path, run_br: Any) -> None:
    """Workers starting together add worktrees at the same moment; git's shared worktree files must not be raced."""
    commit_all(fast_project, {".gitignore": ".buildrunner/\n"})
    tasks = [{"id": f"t{i}", "command": f"echo {i} > out.txt", "isolation": "worktree"} for i in range(12)]
    plan = write_plan(fast_project, {"tasks": tasks})
    result = run_br("parallel", "start", "many", "--config", str(plan), "--workers", "4", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [git(fast_project, "show", f"br/many/t{i}:out.txt") for i in range(12)] == [f"{i}\n" for i in range(12)]


# -- prepare and setup ---------------------------------------------------------------------------------


def test_each_attempt_gets_a_fresh_worktree_at_the_base_commit(repo: Path, project: Project) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    commit_all(repo, {"app.txt": "v2\n"}, "later work on main")
    first = Worktree.prepare(project, make_task(attempt=1), session_name="s", base_commit=base)
    (first.path / "app.txt").write_text("broken\n")
    second = Worktree.prepare(project, make_task(attempt=2), session_name="s", base_commit=base)
    assert first.path != second.path and first.path.name == "t1.1" and second.path.name == "t1.2"
    assert (second.path / "app.txt").read_text() == "v1\n"  # from the session's base, not main's tip nor attempt 1
    assert (first.path / "app.txt").read_text() == "broken\n"  # the failed attempt is kept for inspection
    assert git(second.path, "rev-parse", "HEAD").strip() == base
    assert (repo / "app.txt").read_text() == "v2\n"


def test_setup_copies_env_into_the_worktree_and_the_task_sees_it(repo: Path, project: Project) -> None:
    (repo / ".env").write_text("API_URL=http://localhost:8080\n")  # untracked and not ignored: setup's copy must not become the task's work
    ticks: list[int] = []
    worktree = Worktree.prepare(
        project, make_task(), session_name="s", setup='cp "$BR_PROJECT_ROOT/.env" .env && echo copied', tick=lambda: ticks.append(1)
    )
    task = subprocess.run(["/bin/sh", "-c", ". ./.env && echo \"$API_URL\" > seen.txt"], cwd=worktree.path, check=True)
    assert task.returncode == 0
    assert (worktree.path / "seen.txt").read_text() == "http://localhost:8080\n"
    log = repo / ".buildrunner" / "logs" / "session-test" / "t1.1.setup.log"
    assert log.read_text() == "copied\n"
    assert worktree.diff_files() == {"seen.txt": b"http://localhost:8080\n"}
    sha = worktree.commit(agent=None, model=None)
    assert sha is not None
    assert git(repo, "ls-tree", "-r", "--name-only", sha).split() == [".gitignore", "app.txt", "gone.txt", "lib/util.py", "seen.txt"]


def test_a_task_that_changes_a_file_setup_wrote_commits_it(repo: Path, project: Project) -> None:
    worktree = Worktree.prepare(project, make_task(), session_name="s", setup="echo generated > config.local")
    assert worktree.diff_files() == {}
    (worktree.path / "config.local").write_text("edited by the task\n")
    assert worktree.diff_files() == {"config.local": b"edited by the task\n"}


def test_a_later_attempt_adopts_a_worktree_with_what_setup_changed_still_left_out(repo: Path, project: Project) -> None:
    """What a lost worker's attempt left is checked and committed by the next one as if it were its own (a new process: nothing in memory)."""
    base = git(repo, "rev-parse", "HEAD").strip()
    first = Worktree.prepare(project, make_task(attempt=1), session_name="s", setup="echo generated > config.local && echo v1-setup > app.txt")
    (first.path / "lib" / "util.py").write_text("x = 2\n")  # the task's work
    commit_all(repo, {"app.txt": "v2\n"}, "main moves on meanwhile")
    adopted = Worktree.adopt(project, make_task(attempt=2), 1, session_name="s")
    assert adopted is not None and (adopted.path, adopted.base_commit) == (first.path, base)
    assert adopted.diff_files() == {"lib/util.py": b"x = 2\n"}  # setup's two changes are still not the attempt's work
    sha = adopted.commit(agent=None, model=None)
    assert sha is not None and git(repo, "rev-parse", f"{sha}^").strip() == base
    assert "BuildRunner-Attempt: 2" in git(repo, "log", "-1", "--format=%B", sha)
    adopted.remove()
    assert Worktree.adopt(project, make_task(attempt=3), 1, session_name="s") is None  # gone: the next attempt runs the task afresh
    assert Worktree.adopt(project, make_task(attempt=3), 7, session_name="s") is None  # never existed


def test_a_failing_setup_fails_with_its_output_logged_and_leaves_no_worktree(repo: Path, project: Project) -> None:
    setup = f"echo installing; echo 'token {FAKE_AWS_KEY} rejected' >&2; exit 3"
    with pytest.raises(ParallelError) as failure:
        Worktree.prepare(project, make_task(), session_name="s", setup=setup)
    message = str(failure.value)
    assert "setup `echo installing;" in message and "exit code 3" in message and "rejected" in message
    assert FAKE_AWS_KEY not in message  # the last line is quoted masked
    log = repo / ".buildrunner" / "logs" / "session-test" / "t1.1.setup.log"
    assert str(log) in message
    logged = log.read_text()
    assert "installing" in logged and "rejected" in logged and FAKE_AWS_KEY not in logged
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert registered_worktrees(repo) == []
    assert not (repo / ".buildrunner" / "worktrees" / "session-test" / "t1.1").exists()


def wait_for_file(path: Path, once: Path) -> Callable[[], None]:
    """A `tick` that, once the step's log `once` exists, holds the caller until `path` exists too:
    the step's timeout is judged only after it got going, however slow the machine."""

    def tick() -> None:
        if once.exists():
            wait_for(path.exists, what=str(path))

    return tick


def test_a_hanging_setup_is_ended_with_its_children_at_its_timeout(repo: Path, project: Project, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    with pytest.raises(ParallelError, match=r"timed out after \d+s \(ended\)"):
        Worktree.prepare(
            project, make_task(), session_name="s", setup=f"sleep 300 & echo $! > {pid_file}; wait", setup_timeout=0.5,
            tick=wait_for_file(pid_file, once=repo / ".buildrunner" / "logs" / "session-test" / "t1.1.setup.log"),
        )
    assert not alive(int(pid_file.read_text()))
    assert registered_worktrees(repo) == []


def test_setup_keeps_the_worker_ticking_and_stops_when_the_tick_raises(repo: Path, project: Project, tmp_path: Path) -> None:
    class Lost(Exception):
        pass

    ticks: list[int] = []

    pid_file = tmp_path / "setup.pid"

    def tick() -> None:
        ticks.append(1)
        if len(ticks) >= 3 and pid_file.exists():
            raise Lost("declared lost")

    with pytest.raises(Lost):
        Worktree.prepare(project, make_task(), session_name="s", setup=f"echo $$ > {pid_file}; sleep 300", tick=tick)
    assert len(ticks) >= 3
    assert not alive(int(pid_file.read_text()))
    assert registered_worktrees(repo) == []


# -- what the attempt changed, and its commit ---------------------------------------------------------------------


def test_diff_files_returns_exactly_what_the_attempt_added_or_changed(repo: Path, project: Project) -> None:
    worktree = Worktree.prepare(project, make_task(), session_name="s")
    wt = worktree.path
    (wt / "lib" / "util.py").write_text("x = 2\n")  # changed, unstaged
    (wt / "new.py").write_text("print('new')\n")  # new, untracked
    (wt / "debug.log").write_text("ignored\n")  # ignored by .gitignore
    (wt / "gone.txt").unlink()  # deleted: nothing to check
    (wt / "committed.txt").write_text("by the agent\n")
    git(wt, "add", "committed.txt")
    git(wt, "commit", "-qm", "the agent's own commit")
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")
    (wt / "blob.bin").write_bytes(b"\x00\x01\xff")
    assert worktree.diff_files() == {
        "lib/util.py": b"x = 2\n", "new.py": b"print('new')\n", "staged.txt": b"staged\n", "committed.txt": b"by the agent\n", "blob.bin": b"\x00\x01\xff",
    }
    assert git(wt, "diff", "--cached", "--name-only").split() == ["staged.txt"]  # the worktree's own index is left as the agent had it


def test_commit_squashes_the_attempt_onto_the_base_with_who_made_it(repo: Path, project: Project) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    worktree = Worktree.prepare(project, make_task("add-api", 2, description="Add the API\nmore detail"), session_name="Sprint 42")
    assert worktree.commit(agent="claude", model="claude-sonnet-4-5") is None  # nothing changed yet
    (worktree.path / "api.py").write_text(f"KEY = '{FAKE_AWS_KEY}'\n")
    git(worktree.path, "add", "api.py")
    git(worktree.path, "commit", "-qm", "agent commit with a secret")
    (worktree.path / "api.py").write_text("KEY = os.environ['KEY']\n")
    sha = worktree.commit(agent="claude", model="claude-sonnet-4-5")
    assert sha is not None and worktree.branch == "br/Sprint-42/add-api"
    assert git(repo, "rev-parse", "br/Sprint-42/add-api").strip() == sha
    assert git(repo, "rev-list", f"{base}..{sha}").split() == [sha]  # one commit on the base: the agent's history (and its secret) is gone
    assert FAKE_AWS_KEY not in git(repo, "log", "-p", "br/Sprint-42/add-api")
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha).strip() == "BuildRunner <buildrunner@localhost>|BuildRunner <buildrunner@localhost>"
    message = git(repo, "log", "-1", "--format=%B", sha)
    assert message.startswith("br(add-api): Add the API\n")
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", sha)
    for expected in ("BuildRunner-Session: Sprint 42 (session-test)", "BuildRunner-Task: add-api", "BuildRunner-Attempt: 2",
                     "BuildRunner-Agent: claude", "BuildRunner-Model: claude-sonnet-4-5"):
        assert expected in trailers
    worktree.remove()
    assert registered_worktrees(repo) == [] and not worktree.path.exists()
    assert git(repo, "show", f"{worktree.branch}:api.py") == "KEY = os.environ['KEY']\n"  # the branch keeps the work


def test_commit_needs_no_user_config(repo: Path, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    git(repo, "config", "user.useConfigOnly", "true")  # no guessing an identity from the host
    worktree = Worktree.prepare(project, make_task(), session_name="s")
    (worktree.path / "app.txt").write_text("v2\n")
    plain = subprocess.run(["git", "commit", "-qam", "x"], cwd=worktree.path, capture_output=True, text=True)
    assert plain.returncode != 0  # git itself cannot commit here
    sha = worktree.commit(agent="codex", model="gpt-5")
    assert sha is not None
    assert git(repo, "log", "-1", "--format=%an <%ae>", sha).strip() == f"{DEFAULT_AUTHOR.name} <{DEFAULT_AUTHOR.email}>"


def test_a_change_made_in_the_second_of_the_checkout_is_committed(repo: Path, project: Project) -> None:
    """An agent that rewrites a file (same size) in the second git checked it out: only the index's own mtime
    tells git to look at the content ("racy git"). Here that moment is set up exactly: the entry, the file and
    the index all carry one past mtime (ctime is left out, as `core.trustctime false` does)."""
    git(repo, "config", "core.trustctime", "false")
    worktree = Worktree.prepare(project, make_task(), session_name="s")
    app = worktree.path / "app.txt"
    past = (time.time_ns() // 10**9 - 60) * 10**9
    os.utime(app, ns=(past, past))
    git(worktree.path, "update-index", "--refresh")  # the entry now records that mtime
    index = Path(git(worktree.path, "rev-parse", "--path-format=absolute", "--git-path", "index").strip())
    app.write_text("v2\n")
    os.utime(app, ns=(past, past))
    os.utime(index, ns=(past, past))  # the index written in that second, as a checkout writes it
    sha = worktree.commit(agent=None, model=None)
    assert sha is not None and git(repo, "show", f"{sha}:app.txt") == "v2\n"


def test_commit_ignores_signing_and_hooks_of_the_user(repo: Path, project: Project, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    for hook in ("pre-commit", "commit-msg", "prepare-commit-msg", "post-commit", "post-checkout", "reference-transaction"):
        (hooks / hook).write_text(f"#!/bin/sh\necho {hook} >> {marker}\nexit 1\n")
        (hooks / hook).chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    git(repo, "config", "commit.gpgsign", "true")
    git(repo, "config", "gpg.program", "false")
    worktree = Worktree.prepare(project, make_task(), session_name="s")
    (worktree.path / "app.txt").write_text("v2\n")
    plain = subprocess.run(["git", "commit", "--no-verify", "-qam", "x"], cwd=worktree.path, capture_output=True, text=True)
    assert plain.returncode != 0  # signing (and the hooks) would stop a plain commit
    marker.unlink(missing_ok=True)
    sha = worktree.commit(agent=None, model=None)
    assert sha is not None and git(repo, "show", f"{sha}:app.txt") == "v2\n"
    assert git(repo, "log", "-1", "--format=%G?", sha).strip() == "N"  # unsigned
    worktree.remove()
    assert not marker.exists()  # no hook ran


def test_git_variables_of_a_calling_hook_do_not_redirect_the_worktree(repo: Path, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from inside a git hook, GIT_DIR and GIT_INDEX_FILE point at the caller's repository."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    worktree = Worktree.prepare(project, make_task(), session_name="s")
    (worktree.path / "app.txt").write_text("v2\n")
    assert worktree.diff_files() == {"app.txt": b"v2\n"}
    assert worktree.commit(agent=None, model=None) is not None
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert git(repo, "show", "br/s/t1:app.txt") == "v2\n"


def test_prepare_outside_a_repository_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "plain"
    (folder / ".buildrunner").mkdir(parents=True)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    project = Project(folder)
    with pytest.raises(NotFoundError, match="no such commit") as failure:
        Worktree.prepare(project, make_task(), session_name="s")
    assert "at least one commit" in str(failure.value)
    project.close()


# -- branch names -----------------------------------------------------------------------------------


def check_ref_format(name: str) -> bool:
    return subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    "session_name",
    ["Sprint 42", "..", "-rf", "a..b", "x.lock", "@", "@{u}", "feat/one", "a b\tc\n", "~^:?*[\\", "Café crème", "🚀", "", ".hidden.", "a/.lock/b", "HEAD"],
)
def test_hostile_session_names_make_valid_branches(session_name: str) -> None:
    name = branch_name(session_name, "t1")
    assert check_ref_format(name), name
    assert name.startswith("br/") and name.endswith("/t1") and name.count("/") == 2


def test_branch_names_keep_readable_names() -> None:
    assert branch_name("Sprint 42", "add-api") == "br/Sprint-42/add-api"
    assert branch_name("Café crème", "t1") == "br/Cafe-creme/t1"
    assert branch_name("release/2.0", "fix.tests") == "br/release-2.0/fix.tests"


@settings(max_examples=150, deadline=None)
@given(session_name=st.text(max_size=120), task_id=st.from_regex(TASK_ID_PATTERN, fullmatch=True))
def test_any_session_name_and_task_id_make_a_valid_branch(session_name: str, task_id: str) -> None:
    name = branch_name(session_name, task_id)
    assert check_ref_format(name), name
    assert name.count("/") == 2 and name == branch_name(session_name, task_id)


@settings(max_examples=150, deadline=None)
@given(task_ids=st.lists(st.from_regex(TASK_ID_PATTERN, fullmatch=True), min_size=2, max_size=6, unique=True))
def test_tasks_of_one_session_never_share_a_branch(task_ids: list[str]) -> None:
    names = [branch_name("s", task_id) for task_id in task_ids]
    assert len(set(names)) == len(names)



def test_a_project_inside_a_larger_repository_works_in_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "mono"
    (top / "svc" / ".buildrunner").mkdir(parents=True)
    git(top, "init", "-q", "-b", "main")
    git(top, "config", "user.email", "test@example.com")
    git(top, "config", "user.name", "Test")
    commit_all(top, {".gitignore": ".buildrunner/\n", "svc/app.py": "x = 1\n", "other/readme": "r\n"})
    project = Project(top / "svc")
    worktree = Worktree.prepare(project, make_task(), session_name="s", setup="pwd")
    assert worktree.workdir == worktree.path / "svc"
    assert (top / "svc" / ".buildrunner" / "logs" / "session-test" / "t1.1.setup.log").read_text().strip() == str(worktree.workdir)
    (worktree.workdir / "app.py").write_text("x = 2\n")
    assert worktree.diff_files() == {"svc/app.py": b"x = 2\n"}
    project.close()


def test_worktrees_are_replaced_and_removed_without_touching_the_users_own(repo: Path, project: Project, tmp_path: Path) -> None:
    mine = tmp_path / "on-a-usb-stick"
    git(repo, "worktree", "add", "-q", "--detach", str(mine))
    shutil.rmtree(mine)  # the user's worktree is missing for now (a drive not mounted): git still knows it
    first = Worktree.prepare(project, make_task(), session_name="s")
    shutil.rmtree(first.path)  # deleted by hand: git's record of it is stale
    again = Worktree.prepare(project, make_task(), session_name="s")
    assert again.path == first.path and (again.path / "app.txt").read_text() == "v1\n"
    Worktree.prepare(project, make_task(attempt=2), session_name="s")
    remove_session_worktrees(project, "session-test")
    assert registered_worktrees(repo) == [str(mine)]


def test_a_commit_subject_cut_to_72_characters_keeps_no_part_of_a_secret_whole() -> None:
    """The subject is the task's description; a key the cut would split is masked first (git history is forever)."""
    key = "AKIA" + "QWERTYUIOPASDFGH"
    for lead in range(40, 72):  # the key straddles the cut, or ends just before it
        task = make_task(description="x" * lead + " " + key + " and some more words after it")
        message = commit_message("s", task, agent=None, model=None)
        subject = message.splitlines()[0]
        assert len(subject) <= 72 and not any(key[i : i + 8] in message for i in range(len(key) - 7)), subject
