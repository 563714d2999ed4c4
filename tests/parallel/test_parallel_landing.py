"""Landing: `merge_session` and `br parallel merge` on real repositories, with task branches made by real worktrees."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import FAKE_AWS_KEY, session_id_of, write_plan
from test_parallel_isolation import alive, commit_all, git, make_task, registered_worktrees, wait_for_file

from buildrunner.errors import ConfigError, NotFoundError, ParallelError
from buildrunner.parallel.isolation import Worktree
from buildrunner.parallel.landing import MergeSession, MergeStep, MergeTask, StepStatus, dependency_order, merge_session
from buildrunner.project import Project

BuildTask = Callable[..., MergeTask]


@pytest.fixture
def repo(tmp_project: Path) -> Path:
    commit_all(tmp_project, {".gitignore": ".buildrunner/\n", "app.txt": "v1\n", "notes.txt": "notes\n"})
    return tmp_project


@pytest.fixture
def base(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def passing(project: Project, base: str) -> BuildTask:
    """`passing(task_id, {file: text}, verify=..., depends_on=...)`: a task whose attempt passed, committed on its branch."""

    def build(task_id: str, files: dict[str, str], *, verify: str | None = None, depends_on: tuple[str, ...] = (), env: dict[str, str] | None = None) -> MergeTask:
        worktree = Worktree.prepare(project, make_task(task_id), session_name="Sprint 42", base_commit=base)
        for name, text in files.items():
            (worktree.path / name).write_text(text)
        sha = worktree.commit(agent="claude", model="claude-sonnet-4-5")
        worktree.remove()
        return MergeTask(task_id, worktree.branch, sha, verify=verify, depends_on=depends_on, env=env or {})

    return build


def session_of(*tasks: MergeTask, setup: str | None = None) -> MergeSession:
    return MergeSession("session-test", "Sprint 42", "main", tuple(tasks), setup=setup)


def snapshot(root: Path) -> dict[str, Any]:
    """Every ref, HEAD, the index and the working tree's files: what "changed nothing" compares."""
    files = {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.parts and ".buildrunner" not in path.parts
    }
    return {
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"), "head": git(root, "symbolic-ref", "HEAD"),
        "status": git(root, "status", "--porcelain"), "staged": git(root, "diff", "--cached"), "files": files,
    }


def first_parent_subjects(repo: Path, count: int) -> list[str]:
    return git(repo, "log", "--first-parent", f"-{count}", "--format=%s", "main").splitlines()


# -- merging in dependency order ---------------------------------------------------------------


def test_three_dependent_tasks_land_in_order_with_verify_rerun_each_time(repo: Path, project: Project, passing: BuildTask, base: str, tmp_path: Path) -> None:
    runs = tmp_path / "verify-runs"
    env = {"RUNS": str(runs)}
    schema = passing("schema", {"schema.sql": "create table t (id int);\n"}, verify='test -f schema.sql && echo "$BR_TASK_ID" >> "$RUNS"', env=env)
    api = passing("api", {"api.py": "def get(): ...\n"}, verify='test -f schema.sql && test -f api.py && echo "$BR_TASK_ID" >> "$RUNS"', depends_on=("schema",), env=env)
    ui = passing("ui", {"ui.js": "render()\n"}, verify='test -f api.py && test -f ui.js && echo "$BR_TASK_ID" >> "$RUNS"', depends_on=("api",), env=env)
    seen: list[MergeStep] = []
    report = merge_session(project, session_of(ui, api, schema), on_step=seen.append)  # listed out of order on purpose
    assert report.ok, report.error
    assert [(s.task_id, s.status) for s in report.steps] == [("schema", "merged"), ("api", "merged"), ("ui", "merged")]
    assert seen == report.steps
    assert runs.read_text() == "schema\napi\nui\n"  # verify ran on each merged result, in order
    assert first_parent_subjects(repo, 4) == [
        "Merge task ui of session Sprint 42 (br/Sprint-42/ui)", "Merge task api of session Sprint 42 (br/Sprint-42/api)",
        "Merge task schema of session Sprint 42 (br/Sprint-42/schema)", "base",
    ]
    tip = git(repo, "rev-parse", "main").strip()
    assert report.tip_before == base and report.tip_after == tip == report.steps[-1].merge_commit
    for step, task in zip(report.steps, (schema, api, ui)):
        assert git(repo, "rev-parse", f"{step.merge_commit}^2").strip() == task.commit  # --no-ff: one merge commit per task
    # main is checked out here: the checkout moved with it and is clean.
    assert (repo / "schema.sql").exists() and (repo / "api.py").exists() and (repo / "ui.js").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert registered_worktrees(repo) == []


def test_verify_failing_on_the_merged_result_stops_with_the_target_untouched(repo: Path, project: Project, passing: BuildTask) -> None:
    one = passing("one", {"one.txt": "1\n"}, verify="test -f one.txt")
    # Passes on its own branch; fails once merged with `one`.
    two = passing("two", {"two.txt": "2\n"}, verify=f"if test -f one.txt; then echo 'clash with one.txt, key {FAKE_AWS_KEY}'; exit 4; fi")
    three = passing("three", {"three.txt": "3\n"}, depends_on=("two",))
    report = merge_session(project, session_of(one, two, three))
    assert not report.ok
    assert [s.status for s in report.steps] == [StepStatus.MERGED, StepStatus.VERIFY_FAILED, StepStatus.NOT_REACHED]
    after_one = report.steps[0].merge_commit
    assert git(repo, "rev-parse", "main").strip() == after_one == report.tip_after
    assert (repo / "one.txt").exists() and not (repo / "two.txt").exists() and git(repo, "status", "--porcelain") == ""
    failed = report.steps[1].verify
    assert failed is not None and failed.exit_code == 4 and "clash with one.txt" in failed.last_line and FAKE_AWS_KEY not in failed.last_line
    log_text = failed.log.read_text()
    assert "clash with one.txt" in log_text and FAKE_AWS_KEY not in log_text
    assert report.error is not None and "verify" in report.error and "two" in report.error and FAKE_AWS_KEY not in report.error
    assert report.next_step is not None and "br parallel merge session-test" in report.next_step
    kept = report.kept_worktree
    assert kept is not None and (kept / "one.txt").exists() and (kept / "two.txt").exists()  # the merged tree, for inspection


def test_a_verify_that_hangs_is_ended_with_its_children(repo: Path, project: Project, passing: BuildTask, tmp_path: Path) -> None:
    pid_file = tmp_path / "verify-child.pid"
    slow = passing("slow", {"slow.txt": "x\n"}, verify=f"sleep 300 & echo $! > {pid_file}; wait")
    report = merge_session(project, session_of(slow), verify_timeout=0.5, tick=wait_for_file(pid_file, once=repo / ".buildrunner" / "logs" / "session-test" / "merge.slow.verify.log"))
    step = report.steps[0]
    assert step.status == StepStatus.VERIFY_FAILED and step.verify is not None and step.verify.timed_out
    assert "timed out" in (report.error or "")
    assert not alive(int(pid_file.read_text()))
    assert git(repo, "rev-parse", "main").strip() == report.tip_before


def test_setup_runs_once_in_the_merge_worktree_before_verify(repo: Path, project: Project, passing: BuildTask, tmp_path: Path) -> None:
    (repo / ".env").write_text("API_URL=http://localhost\n")
    counter = tmp_path / "setups"
    first = passing("first", {"a.txt": "a\n"}, verify="grep -q API_URL .env")
    second = passing("second", {"b.txt": "b\n"}, verify="grep -q API_URL .env")
    setup = f'cp "$BR_PROJECT_ROOT/.env" .env && echo ran >> {counter}'
    report = merge_session(project, session_of(first, second, setup=setup))
    assert report.ok, report.error
    assert counter.read_text() == "ran\n"
    assert ".env" not in git(repo, "ls-tree", "-r", "--name-only", "main").split()  # setup's files are not merged


def test_verify_runs_in_the_task_folder_and_a_missing_folder_fails_it(repo: Path, project: Project, passing: BuildTask) -> None:
    inside = passing("inside", {"sub.txt": "x\n"})
    (repo / "sub").mkdir()
    commit_all(repo, {"sub/keep": "k\n"}, "a folder")
    located = MergeTask(inside.task_id, inside.branch, inside.commit, verify='test "$(basename "$PWD")" = sub', cwd="sub")
    assert merge_session(project, session_of(located)).ok
    nowhere = passing("nowhere", {"n.txt": "n\n"})
    report = merge_session(project, session_of(MergeTask(nowhere.task_id, nowhere.branch, nowhere.commit, verify="true", cwd="missing")))
    step = report.steps[0]
    assert step.status == StepStatus.VERIFY_FAILED and step.verify is not None and "cannot start" in step.verify.last_line


# -- conflicts ----------------------------------------------------------------------------------


def test_a_conflicting_pair_stops_at_the_second_with_the_file_named_and_the_target_untouched(repo: Path, project: Project, passing: BuildTask) -> None:
    left = passing("left", {"app.txt": "left\n"})
    right = passing("right", {"app.txt": "right\n"})
    later = passing("later", {"later.txt": "later\n"})
    (repo / "notes.txt").write_text("my unsaved notes\n")  # the user's uncommitted work, in files the merge does not touch
    (repo / "scratch.txt").write_text("untracked\n")
    states: list[dict[str, Any]] = []
    report = merge_session(project, session_of(left, right, later), on_step=lambda step: states.append(snapshot(repo)))
    assert [s.status for s in report.steps] == [StepStatus.MERGED, StepStatus.CONFLICT, StepStatus.NOT_REACHED]
    assert report.steps[1].conflicts == ["app.txt"]
    assert report.error == "task right (br/Sprint-42/right) conflicts with main in app.txt"
    assert "git merge br/Sprint-42/right" in (report.next_step or "")
    # Exactly as it was after `left` landed: tip, index and working tree (the user's changes included).
    assert snapshot(repo) == states[0]
    assert git(repo, "rev-parse", "main").strip() == report.steps[0].merge_commit == report.tip_after
    assert (repo / "app.txt").read_text() == "left\n" and (repo / "notes.txt").read_text() == "my unsaved notes\n"
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert registered_worktrees(repo) == [] and report.kept_worktree is None


def test_a_conflict_with_the_target_itself_leaves_it_exactly_as_it_was(repo: Path, project: Project, passing: BuildTask) -> None:
    task = passing("edit", {"app.txt": "from the task\n"})
    commit_all(repo, {"app.txt": "changed on main meanwhile\n"}, "main moves on")
    before = snapshot(repo)
    report = merge_session(project, session_of(task))
    assert report.steps[0].status == StepStatus.CONFLICT and report.steps[0].conflicts == ["app.txt"]
    assert snapshot(repo) == before and report.tip_after == report.tip_before


def test_after_a_conflict_is_resolved_by_hand_a_rerun_lands_the_rest(repo: Path, project: Project, passing: BuildTask) -> None:
    left = passing("left", {"app.txt": "left\n"})
    right = passing("right", {"app.txt": "right\n"})
    later = passing("later", {"later.txt": "later\n"}, depends_on=("right",))
    session = session_of(left, right, later)
    assert not merge_session(project, session).ok
    git(repo, "merge", "--no-edit", right.branch, check=False)  # conflicts, as reported
    (repo / "app.txt").write_text("left and right\n")
    git(repo, "commit", "-qam", "resolve right by hand")
    report = merge_session(project, session)
    assert report.ok, report.error
    assert [s.status for s in report.steps] == [StepStatus.ALREADY_MERGED, StepStatus.ALREADY_MERGED, StepStatus.MERGED]
    assert (repo / "later.txt").exists() and (repo / "app.txt").read_text() == "left and right\n"


# -- dry run, other targets, the user's checkout -----------------------------------------------------


def test_dry_run_says_what_would_merge_and_changes_nothing(repo: Path, project: Project, passing: BuildTask) -> None:
    one = passing("one", {"one.txt": "1\n"}, verify="exit 1")  # a dry run does not verify
    two = passing("two", {"app.txt": "two\n"})
    clash = passing("clash", {"app.txt": "clash\n"})
    (repo / "notes.txt").write_text("dirty\n")
    before = snapshot(repo)
    clean = merge_session(project, session_of(one, two), dry_run=True)
    assert clean.ok and clean.dry_run
    assert [s.status for s in clean.steps] == [StepStatus.WOULD_MERGE, StepStatus.WOULD_MERGE] and clean.steps[0].verify is None
    assert clean.tip_after == clean.tip_before
    conflicting = merge_session(project, session_of(one, two, clash), dry_run=True)
    assert [s.status for s in conflicting.steps] == [StepStatus.WOULD_MERGE, StepStatus.WOULD_MERGE, StepStatus.CONFLICT]
    assert conflicting.error is not None and "would conflict" in conflicting.error and conflicting.steps[2].conflicts == ["app.txt"]
    assert snapshot(repo) == before
    assert registered_worktrees(repo) == []


def test_a_target_that_is_not_checked_out_moves_alone(repo: Path, project: Project, passing: BuildTask, base: str) -> None:
    git(repo, "branch", "release", base)
    task = passing("fix", {"fix.txt": "fixed\n"}, verify="test -f fix.txt")
    before = snapshot(repo)
    report = merge_session(project, session_of(task), into="release")
    assert report.ok and report.target == "release"
    assert git(repo, "show", "release:fix.txt") == "fixed\n"
    after = snapshot(repo)
    assert after["files"] == before["files"] and after["status"] == before["status"] and after["head"] == before["head"]
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", base)


def test_a_target_checked_out_in_another_worktree_has_that_checkout_updated(repo: Path, project: Project, passing: BuildTask, base: str, tmp_path: Path) -> None:
    other = tmp_path / "release-checkout"
    git(repo, "worktree", "add", "-q", "-b", "release", str(other), base)
    task = passing("fix", {"fix.txt": "fixed\n"})
    report = merge_session(project, session_of(task), into="release")
    assert report.ok
    assert (other / "fix.txt").read_text() == "fixed\n" and git(other, "status", "--porcelain") == ""


def test_uncommitted_changes_the_merge_would_overwrite_are_refused_before_anything_moves(repo: Path, project: Project, passing: BuildTask) -> None:
    harmless = passing("harmless", {"other.txt": "x\n"})
    task = passing("edit", {"app.txt": "from the task\n"})
    (repo / "app.txt").write_text("the user's unsaved edit\n")
    before = snapshot(repo)
    with pytest.raises(ParallelError, match=r"uncommitted changes to app\.txt.*git stash"):
        merge_session(project, session_of(harmless, task))
    assert snapshot(repo) == before
    assert registered_worktrees(repo) == []


@pytest.mark.parametrize("checked_out", [True, False])
def test_a_target_that_moves_during_verify_is_not_overwritten(repo: Path, project: Project, passing: BuildTask, base: str, checked_out: bool) -> None:
    target = "main" if checked_out else "release"
    git(repo, "branch", "release", base)
    meanwhile = f'git -C "$BR_PROJECT_ROOT" commit-tree -p {target} -m meanwhile {target}^{{tree}} | xargs git -C "$BR_PROJECT_ROOT" update-ref refs/heads/{target}'
    task = passing("fix", {"fix.txt": "fixed\n"}, verify=meanwhile)
    with pytest.raises(ParallelError, match=f"{target} moved while task fix was being merged"):
        merge_session(project, session_of(task), into=target)
    assert git(repo, "log", "-1", "--format=%s", target).strip() == "meanwhile"


def test_an_unknown_target_or_none_at_all_is_a_clear_error(project: Project, passing: BuildTask) -> None:
    task = passing("fix", {"fix.txt": "fixed\n"})
    with pytest.raises(NotFoundError, match="branch nosuch: not found"):
        merge_session(project, session_of(task), into="nosuch")
    with pytest.raises(ConfigError, match="detached HEAD"):
        merge_session(project, MergeSession("session-test", "s", None, (task,)))
    elsewhere = MergeTask("remote", "br/Sprint-42/remote", "ab" * 20)  # made by a worker on another machine, never fetched
    with pytest.raises(NotFoundError, match="task remote: its commit abababababab .* is not in"):
        merge_session(project, session_of(task, elsewhere))
    assert git(project.paths.root, "log", "-1", "--format=%s", "main").strip() == "base"  # checked before anything merged


def test_a_task_without_changes_or_already_merged_is_skipped(repo: Path, project: Project, passing: BuildTask) -> None:
    empty = MergeTask("noop", "br/Sprint-42/noop", None)
    task = passing("fix", {"fix.txt": "fixed\n"})
    git(repo, "merge", "-q", "--no-edit", task.branch)
    report = merge_session(project, session_of(empty, task))
    assert [s.status for s in report.steps] == [StepStatus.NO_CHANGES, StepStatus.ALREADY_MERGED] and report.ok
    assert report.tip_after == report.tip_before


def test_dependency_order_keeps_plan_order_where_free() -> None:
    tasks = [
        MergeTask("c", "b/c", "1", depends_on=("b",)), MergeTask("a", "b/a", "2"), MergeTask("b", "b/b", "3", depends_on=("a", "failed-elsewhere")),
        MergeTask("d", "b/d", "4"),
    ]
    assert [t.task_id for t in dependency_order(tasks)] == ["a", "d", "b", "c"]


# -- the command -----------------------------------------------------------------------------------


def start_session(run_br: Any, root: Path, name: str, tasks: list[dict[str, Any]]) -> str:
    plan = write_plan(root, {"tasks": [{**task, "isolation": "worktree"} for task in tasks]}, name=f"{name}.yaml")
    started = run_br("parallel", "start", name, "--config", str(plan), "--workers", "2", "--wait")
    assert started.returncode == 0, started.stdout + started.stderr
    return session_id_of(started.stdout)


@pytest.mark.slow
def test_merge_command_text_json_and_exit_codes(fast_project: Path, run_br: Any) -> None:
    commit_all(fast_project, {".gitignore": ".buildrunner/\n", "app.txt": "v1\n"})
    tip = git(fast_project, "rev-parse", "main").strip()
    good = start_session(run_br, fast_project, "land", [
        {"id": "two", "command": "echo two > two.txt", "depends_on": ["one"]}, {"id": "one", "command": "echo one > one.txt"},
    ])
    clash = start_session(run_br, fast_project, "clash", [{"id": "left", "command": "echo left > app.txt"}, {"id": "right", "command": "echo right > app.txt"}])

    dry = run_br("parallel", "merge", good, "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["ok"] is True and data["dry_run"] is True and data["target"] == "main" and data["tip_before"] == data["tip_after"] == tip
    assert [(s["task_id"], s["status"]) for s in data["steps"]] == [("one", "would_merge"), ("two", "would_merge")]
    assert set(data["steps"][0]) == {"task_id", "branch", "commit", "status", "merge_commit", "conflicts", "verify"}
    assert git(fast_project, "rev-parse", "main").strip() == tip

    landed = run_br("parallel", "merge", good[:12])
    assert landed.returncode == 0, landed.stderr
    assert "✓ one  merged         br/land/one" in landed.stdout and "✓ two  merged         br/land/two" in landed.stdout
    assert f"main: {tip[:12]} -> " in landed.stdout and "(2 tasks merged)" in landed.stdout
    assert (fast_project / "one.txt").read_text() == "one\n" and (fast_project / "two.txt").read_text() == "two\n"
    again = run_br("parallel", "merge", good)
    assert again.returncode == 0 and again.stdout.count("already merged") == 2

    conflict = run_br("parallel", "merge", clash, "--format", "json")
    assert conflict.returncode == 1
    data = json.loads(conflict.stdout)
    assert data["ok"] is False and [s["status"] for s in data["steps"]] == ["merged", "conflict"] and data["steps"][1]["conflicts"] == ["app.txt"]
    assert len(conflict.stderr.strip().splitlines()) == 1 and "conflicts with main in app.txt" in conflict.stderr
    assert (fast_project / "app.txt").read_text() == "left\n"

    assert run_br("parallel", "merge", "session-nosuch").returncode == 6
    missing = run_br("parallel", "merge", good, "--into", "nosuch")
    assert missing.returncode == 6 and "branch nosuch: not found" in missing.stderr and "Merging" not in missing.stdout
    assert run_br("parallel", "merge", good, "--format", "xml").returncode == 2
    bad_timeout = run_br("parallel", "merge", good, "--verify-timeout", "0")
    assert bad_timeout.returncode == 2 and "--verify-timeout" in bad_timeout.stderr
    assert "Example: br parallel merge" in run_br("parallel", "merge", "--help").stdout
