"""The loop: verify each attempt, climb a tier when it fails, land what passes (issue 13).

The agent is the Claude Code stand-in (tests/agents/standins), behind a wrapper that does the
"work" the way a model of each tier would: only sonnet and opus write a correct `add()`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import FAKE_AWS_KEY, write_plan

from buildrunner.project import Project
from buildrunner.routing.outcomes import load_outcomes

STANDIN = Path(__file__).resolve().parents[1] / "agents" / "standins" / "claude"
WRAPPER = """#!{python}
import os, sys
args = sys.argv[1:]
model = args[args.index("--model") + 1] if "--model" in args else "?"
work = os.environ.get("FAKE_WORK", "add")
if work == "add":
    capable = "sonnet" in model or "opus" in model
    open("calc.py", "w").write("def add(a, b):\\n    return a " + ("+" if capable else "-") + " b\\n")
elif work == "prune":
    import shutil
    shutil.rmtree("callers")
elif work == "secret":
    open("settings.py", "w").write("AWS_ACCESS_KEY_ID = '" + os.environ["FAKE_KEY"] + "'\\n")
else:
    open("shared.txt", "w").write(work + "\\n")
os.environ["BR_STANDIN_RECORD"] = os.path.join(os.environ["FAKE_RECORD"], os.environ["BR_TASK_ID"] + "." + os.environ["BR_TASK_ATTEMPT"])
os.environ["BR_STANDIN_DELAY"] = "0"
os.execv({standin!r}, [{standin!r}, *args])
"""
VERIFY = "python -c 'import calc; assert calc.add(2, 3) == 5, calc.add(2, 3)'"


@pytest.fixture
def repo(fast_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with a commit, and the wrapped stand-in as `claude` first on PATH."""
    (fast_project / "calc.py").write_text("def add(a, b):\n    raise NotImplementedError\n")
    (fast_project / "shared.txt").write_text("base\n")
    (fast_project / ".gitignore").write_text(".buildrunner/\n")
    for args in (["add", "-A"], ["commit", "-qm", "base"]):
        git(fast_project, *args)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "claude"
    wrapper.write_text(WRAPPER.format(python=sys.executable, standin=str(STANDIN)))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_RECORD", str(tmp_path / "seen"))
    monkeypatch.setenv("FAKE_KEY", FAKE_AWS_KEY)
    return fast_project


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def _start(run_br: Any, plan: Path, name: str = "loop") -> dict[str, Any]:
    result = run_br("parallel", "start", name, "--config", str(plan), "--workers", "2", "--wait", "--format", "json")
    return {"returncode": result.returncode, "stderr": result.stderr, **json.loads(result.stdout)}


def test_haiku_fails_verify_sonnet_passes_its_branch_holds_the_change_and_merge_lands_it(repo: Path, run_br: Any, tmp_path: Path) -> None:
    plan = write_plan(repo, {"isolation": "worktree", "verify": VERIFY, "tasks": [{"id": "add", "prompt": "Implement add() in calc.py", "model": "haiku", "escalate": True}]})
    final = _start(run_br, plan)
    assert final["returncode"] == 0, final["stderr"]
    (task,) = final["tasks"]
    haiku, sonnet = task["ladder"]
    assert (haiku["tier"], haiku["status"], haiku["outcome"]) == ("haiku", "failed", "verify_failed") and haiku["verify_exit"] == 1
    assert (sonnet["tier"], sonnet["status"], sonnet["outcome"]) == ("sonnet", "completed", "passed")
    assert haiku["cost"] > 0 and sonnet["cost"] > 0 and task["cost"] == pytest.approx(haiku["cost"] + sonnet["cost"])
    assert haiku["worktree"] and Path(haiku["worktree"]).is_dir()  # kept for inspection until cleanup
    # --wait's lines: each attempt's end says its tier, a start its number (and its tier once routed, when seen after that)
    lines = re.findall(r" add (started|failed|completed) \(worker-\d((?:, attempt \d)?)((?:, \w+)?)\)", final["stderr"])
    assert [(action, attempt) for action, attempt, _ in lines] == [("started", ""), ("failed", ""), ("started", ", attempt 2"), ("completed", ", attempt 2")]
    assert (lines[1][2], lines[3][2]) == (", haiku", ", sonnet"), final["stderr"]
    text = run_br("parallel", "status", final["session_id"]).stdout
    assert "add: haiku ✗ verify_failed, verify exit 1" in text and "→ sonnet ✓" in text and "(branch br/loop/add)" in text
    selected = json.loads(run_br("telemetry", "events", "--type", "model_selected", "--session", final["session_id"], "-f", "json").stdout)
    assert [e["metadata"]["model"] for e in selected] == ["haiku", "sonnet"]  # each rung
    assert "escalated to sonnet after attempt 1 failed" in selected[1]["message"]
    # The second attempt was told what the check said.
    second_prompt = (tmp_path / "seen" / "add.2" / "prompt.bin").read_bytes().decode()
    assert second_prompt.startswith("Implement add() in calc.py") and "AssertionError" in second_prompt
    branch = sonnet["branch"]
    assert branch == "br/loop/add" and "return a + b" in git(repo, "show", f"{branch}:calc.py")
    assert "raise NotImplementedError" in (repo / "calc.py").read_text()  # nothing landed yet
    log = git(repo, "log", "-1", "--format=%an%n%B", branch)
    assert "BuildRunner" in log and "add" in log and "claude" in log
    logs = json.loads(run_br("parallel", "logs", "loop", "add", "--format", "json").stdout)  # by the session's name
    verify_logs = [(e["attempt"], e["output"]) for e in logs if e["step"] == "verify"]
    assert [n for n, _ in verify_logs] == [1] and "AssertionError: -1" in verify_logs[0][1]  # the passing verify printed nothing
    assert "=== add attempt 1 verify (failed)" in run_br("parallel", "logs", final["session_id"], "add").stdout
    merged = run_br("parallel", "merge", "loop", "--format", "json")
    assert merged.returncode == 0, merged.stderr
    assert "return a + b" in git(repo, "show", "main:calc.py") and "return a + b" in (repo / "calc.py").read_text()
    outcome = next(o for o in load_outcomes(Project(repo)) if o.task_id == "add")
    assert (outcome.start_tier, outcome.passed_tier, outcome.attempts) == ("haiku", "sonnet", 2)
    assert outcome.cost == pytest.approx(task["cost"], abs=1e-6)


def test_the_wait_report_says_passing_work_waits_on_its_branch_to_be_merged(repo: Path, run_br: Any) -> None:
    """A lead read the final report and took the passing work for landed: it was on br/<session>/<task> branches."""
    plan = write_plan(repo, {"isolation": "worktree", "verify": VERIFY, "tasks": [{"id": "add", "prompt": "Implement add() in calc.py", "model": "sonnet"}]})
    waited = run_br("parallel", "start", "hint", "--config", str(plan), "--workers", "1", "--wait")
    assert waited.returncode == 0, waited.stderr
    assert "The work of 1 task is on its branch (br/hint/add), not on main yet: land it with `br parallel merge hint`" in waited.stdout
    assert run_br("parallel", "merge", "hint").returncode == 0
    again = run_br("parallel", "start", "hint2", "--config", str(write_plan(repo, {"tasks": [{"id": "noop", "command": "true"}]})), "--wait")
    assert "br parallel merge" not in again.stdout  # nothing waits: nothing said


def test_the_outcome_keeps_the_estimate_the_task_was_routed_on(repo: Path, run_br: Any) -> None:
    (repo / "calc.py").write_text("def compute_total(items):\n    return sum(items)\n")
    (repo / "callers").mkdir()
    for n in range(30):
        (repo / "callers" / f"c{n}.py").write_text("from calc import compute_total\ncompute_total([1])\n")
    for args in (["add", "-A"], ["commit", "-qm", "callers"]):
        git(repo, *args)
    description = "Make compute_total skip None items"
    routed = json.loads(run_br("routing", "estimate", description, "-f", "json", "-v").stdout)
    assert any(f["name"] == "code reach" for f in routed["factors"])  # the 30 callers count
    plan = write_plan(repo, {"isolation": "none", "escalate": False, "tasks": [{"id": "prune", "prompt": description, "env": {"FAKE_WORK": "prune"}}]})
    final = _start(run_br, plan)
    assert final["returncode"] == 0, final["stderr"]
    assert not (repo / "callers").exists()  # the task changed the code the estimate read
    outcome = next(o for o in load_outcomes(Project(repo)) if o.task_id == "prune")
    assert outcome.score == routed["complexity_score"] and outcome.level == routed["complexity_level"]
    assert [f.name for f in outcome.factors] == [f["name"] for f in routed["factors"]]
    after = json.loads(run_br("routing", "estimate", description, "-f", "json").stdout)["complexity_score"]
    assert after < outcome.score  # estimated now, it would have said something else


def test_escalate_false_keeps_the_tier_and_spends_the_usual_retries(repo: Path, run_br: Any) -> None:
    plan = write_plan(repo, {"verify": VERIFY, "tasks": [{"id": "add", "prompt": "Implement add()", "model": "haiku", "escalate": False, "retries": 1}]})
    final = _start(run_br, plan)
    assert final["returncode"] == 1
    assert [(r["tier"], r["outcome"]) for r in final["tasks"][0]["ladder"]] == [("haiku", "verify_failed"), ("haiku", "verify_failed")]


def test_an_agent_that_cannot_work_is_retried_on_its_tier_never_escalated_nor_held_against_the_tier(repo: Path, run_br: Any) -> None:
    """An invalid API key went haiku -> sonnet -> opus, three paid attempts that could not work, each stored as the
    tier failing: calibration then lowered haiku's threshold on sign-in errors."""
    task = {"id": "signed-out", "prompt": "Implement add() in calc.py", "model": "haiku", "escalate": True, "retries": 1,
            "env": {"BR_STANDIN_SCENARIO": "api-error"}}
    final = _start(run_br, write_plan(repo, {"verify": VERIFY, "tasks": [task]}))
    (result,) = final["tasks"]
    assert result["status"] == "failed" and "Invalid API key" in result["error"] and "could not work" in result["error"]
    assert [(r["tier"], r["outcome"]) for r in result["ladder"]] == [("haiku", "agent_unavailable")] * 2  # its retry, same tier
    outcome = next(o for o in load_outcomes(Project(repo)) if o.task_id == "signed-out")
    assert [step.outcome for step in outcome.ladder] == ["error", "error"]  # says nothing about haiku


def test_a_tasks_own_model_is_pinned_unless_the_task_itself_says_escalate(repo: Path, run_br: Any) -> None:
    """The plan escalates by default; a task naming `model: haiku` chose haiku, so it retries there (a dearer tier
    only with its own `escalate: true`), while its neighbour without a model climbs."""
    plan = write_plan(repo, {"verify": VERIFY, "escalate": True, "isolation": "worktree", "tasks": [
        {"id": "pinned", "prompt": "Implement add()", "model": "haiku", "retries": 1},
        {"id": "routed", "prompt": "Implement add()", "description": "Fix a typo in the add function", "retries": 0},
    ]})
    final = _start(run_br, plan)
    ladders = {t["task_id"]: [(r["tier"], r["outcome"]) for r in t["ladder"]] for t in final["tasks"]}
    assert ladders["pinned"] == [("haiku", "verify_failed"), ("haiku", "verify_failed")]
    assert ladders["routed"] == [("haiku", "verify_failed"), ("sonnet", "passed")]  # routed to haiku, it climbs


def test_an_agent_that_writes_a_secret_fails_the_security_check_and_is_never_merged(repo: Path, run_br: Any) -> None:
    plan = write_plan(
        repo, {"isolation": "worktree", "escalate": False, "tasks": [{"id": "leaky", "prompt": "Configure AWS", "env": {"FAKE_WORK": "secret"}}]}
    )
    final = _start(run_br, plan)
    assert final["returncode"] == 1
    (rung,) = final["tasks"][0]["ladder"]
    assert rung["outcome"] == "security" and "aws" in rung["error"].lower() and FAKE_AWS_KEY not in json.dumps(final)
    assert rung["branch"] is None
    before = git(repo, "rev-parse", "main")
    merged = run_br("parallel", "merge", final["session_id"], "--format", "json")
    assert merged.returncode == 0 and git(repo, "rev-parse", "main") == before and not (repo / "settings.py").exists()


def test_a_conflicting_pair_stops_the_merge_at_the_second_with_the_target_as_it_was(repo: Path, run_br: Any) -> None:
    plan = write_plan(
        repo,
        {"isolation": "worktree", "tasks": [
            {"id": "one", "prompt": "Write shared.txt", "env": {"FAKE_WORK": "one"}},
            {"id": "two", "prompt": "Write shared.txt too", "env": {"FAKE_WORK": "two"}, "depends_on": ["one"]},
        ]},
    )
    final = _start(run_br, plan)
    assert final["returncode"] == 0, final["stderr"]
    merged = run_br("parallel", "merge", final["session_id"], "--format", "json")
    assert merged.returncode == 1
    report = json.loads(merged.stdout)
    assert "shared.txt" in json.dumps(report) and "two" in json.dumps(report)
    after_first = git(repo, "rev-parse", "main")
    assert (repo / "shared.txt").read_text() == "one\n" and git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert git(repo, "log", "-1", "--format=%s", after_first).count("one")


def test_merge_true_lands_each_passing_task_as_it_passes_and_dependents_build_on_it(repo: Path, run_br: Any) -> None:
    plan = write_plan(
        repo,
        {"isolation": "worktree", "merge": True, "verify": VERIFY, "tasks": [
            {"id": "add", "prompt": "Implement add()", "model": "sonnet"},
            {"id": "docs", "command": "grep -q 'return a + b' calc.py && echo '# add' > ADD.md", "depends_on": ["add"], "verify": "test -f ADD.md"},
        ]},
    )
    final = _start(run_br, plan)
    assert final["returncode"] == 0, final["stderr"]
    assert "return a + b" in git(repo, "show", "main:calc.py") and git(repo, "show", "main:ADD.md") == "# add"


def test_merge_true_work_that_does_not_land_fails_its_task_and_its_dependents_do_not_start(repo: Path, run_br: Any, tmp_path: Path) -> None:
    """With `merge: true` a dependent starts from the target: a task whose merge conflicts has not passed.

    `late` starts beside `early` (from the same base), waits until `early` has landed, then changes the same line."""
    (repo / "f.txt").write_text("line1\nline2\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "f")
    started = tmp_path / "late-started"
    landed = f"git -C {repo} show main:f.txt | grep -q ONE"
    plan = write_plan(repo, {"isolation": "worktree", "merge": True, "tasks": [
        {"id": "early", "command": f"until [ -e {started} ]; do sleep 0.05; done; sed -i s/line1/ONE/ f.txt"},
        {"id": "late", "command": f"touch {started}; until {landed}; do sleep 0.05; done; sed -i s/line1/UNO/ f.txt"},
        {"id": "after", "command": "echo after > after.txt", "depends_on": ["late"]},
    ]})
    final = _start(run_br, plan, "conflict")
    assert final["returncode"] == 1  # --wait fails: a task failed
    tasks = {task["task_id"]: task for task in final["tasks"]}
    assert (tasks["early"]["status"], tasks["late"]["status"], tasks["after"]["status"]) == ("completed", "failed", "skipped")
    error = tasks["late"]["error"]
    assert "not landed" in error and "conflicts with main in f.txt" in error and "git merge br/conflict/late" in error
    assert git(repo, "show", "main:f.txt") == "ONE\nline2" and "after.txt" not in git(repo, "ls-tree", "--name-only", "main")
    assert git(repo, "show", "br/conflict/late:f.txt") == "UNO\nline2"  # the work is kept on its branch


def test_merge_true_with_the_targets_checkout_dirty_fails_the_task_and_keeps_its_work(repo: Path, run_br: Any) -> None:
    """Uncommitted changes the merge would overwrite: nothing of the user's is touched, the task says why it did not land."""
    (repo / "f.txt").write_text("line1\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "f")
    (repo / "f.txt").write_text("line1\nmine, not committed\n")
    plan = write_plan(repo, {"isolation": "worktree", "merge": True, "tasks": [{"id": "edit", "command": "sed -i s/line1/ONE/ f.txt"}]})
    final = _start(run_br, plan, "dirty")
    assert final["returncode"] == 1
    (task,) = final["tasks"]
    assert task["status"] == "failed" and "uncommitted changes to f.txt" in task["error"] and "internal error" not in task["error"]
    assert (repo / "f.txt").read_text() == "line1\nmine, not committed\n"
    assert git(repo, "show", "br/dirty/edit:f.txt") == "ONE"


def test_setup_runs_in_each_new_worktree_and_its_failure_fails_the_attempt_without_leaking_it(repo: Path, run_br: Any) -> None:
    (repo / ".env").write_text("TOKEN_NAME=demo\n")
    plan = write_plan(repo, {"isolation": "worktree", "setup": 'cp "$BR_PROJECT_ROOT/.env" .env', "tasks": [{"id": "env", "command": "grep -q demo .env"}]})
    assert _start(run_br, plan, "setup-ok")["returncode"] == 0
    broken = write_plan(repo, {"isolation": "worktree", "setup": "echo broken install; exit 3", "tasks": [{"id": "env", "command": "true"}]}, "broken.yaml")
    final = _start(run_br, broken, "setup-bad")
    assert final["returncode"] == 1
    error = final["tasks"][0]["error"]
    assert "setup" in error and "exit code 3" in error and "broken install" in error
    assert not list((repo / ".buildrunner" / "worktrees" / final["session_id"]).glob("env.*"))


def test_an_attempts_changes_never_include_buildrunners_own_state(tmp_path: Path) -> None:
    """Reading the open database to snapshot it would drop the worker's SQLite locks (and could corrupt it)."""
    from buildrunner.parallel.loop import working_changes

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    state = tmp_path / ".buildrunner"
    (state / "logs" / "s").mkdir(parents=True)
    for name in ("buildrunner.db", "buildrunner.db-wal", "buildrunner.db-shm", "buildrunner.db-lock", "config.validated.json", "logs/s/t.1.log"):
        (state / name).write_text("state\n")
    (state / "plan.yaml").write_text("tasks: []\n")  # the user's own files there still count
    (tmp_path / "app.py").write_text("print('hi')\n")
    assert sorted(working_changes(tmp_path)) == [".buildrunner/plan.yaml", "app.py"]
