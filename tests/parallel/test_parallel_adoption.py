"""Exactly once for checked tasks: a worker lost after its task's command exited, before the attempt's checks.

The command's work is done (a side effect, files in a worktree, an agent's spend); running it again
would do it twice. The next attempt adopts that work: the recorded exit is its result, and only the
checks run (verify, the security check, the commit). Each test kills the worker -9 while its
attempt's `verify` waits, so the moment is exact, not raced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from parallel_helpers import FAKE_AWS_KEY, make_repo, wait_for, write_plan

from buildrunner.parallel.session_manager import SessionManager
from buildrunner.project import Project
from buildrunner.routing.cost_tracker import CostTracker

pytestmark = [pytest.mark.slow, pytest.mark.lifecycle]

STANDINS = Path(__file__).resolve().parents[1] / "agents" / "standins"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def waiting_verify(marks: Path) -> str:
    """A verify that says it has begun (per attempt), then waits for `go`: the moment to kill its worker."""
    return f"touch {marks}/verifying-$BR_TASK_ATTEMPT; until [ -e {marks}/go ]; do sleep 0.05; done"


def start(run_br: Any, plan: Path, workers: int = 2) -> str:
    result = run_br("parallel", "start", "t", "--config", str(plan), "--workers", str(workers), "--format", "json")
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["session_id"])


def kill_during_first_verify(project: Project, sid: str, task_id: str, marks: Path) -> dict[str, Any]:
    """Kill -9 the worker of `task_id` once its command has exited and its verify waits; let the next attempt's verify pass."""
    wait_for(lambda: (marks / "verifying-1").exists(), 60, "the first attempt's verify")
    victim = project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task = ?", (sid, task_id))
    assert victim is not None
    os.kill(victim["pid"], signal.SIGKILL)
    wait_for(lambda: (marks / "verifying-2").exists(), 60, "the next attempt to check the work")
    (marks / "go").touch()
    wait_for(lambda: SessionManager(project).get_session_status(sid, activity=0).finished, 60, "the session to end")
    return victim


def attempts(project: Project, sid: str, task_id: str) -> list[dict[str, Any]]:
    return project.store.fetchall(
        "SELECT attempt, status, error, worker_id, exit_code FROM task_attempts WHERE session_id = ? AND task_id = ? ORDER BY attempt", (sid, task_id)
    )


def test_a_worktree_task_whose_worker_died_in_verify_is_checked_and_landed_not_run_again(pproject: Project, run_br: Any, tmp_path: Path) -> None:
    root = pproject.paths.root
    make_repo(root)
    plan = write_plan(root, {
        "setup": "echo local > setup-wrote.txt",  # setup's work: never the attempt's, so never committed (remembered beside the worktree)
        "tasks": [{
            "id": "edit", "isolation": "worktree", "verify": waiting_verify(tmp_path) + " && test -s work.txt",
            "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {tmp_path}/ran.txt; echo done > work.txt",
        }],
    })
    sid = start(run_br, plan)
    victim = kill_during_first_verify(pproject, sid, "edit", tmp_path)
    assert (tmp_path / "ran.txt").read_text().split() == ["edit-1"]  # the command ran once
    rows = attempts(pproject, sid, "edit")
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "lost"), (2, "completed")], rows
    assert rows[0]["worker_id"] == victim["id"] and rows[0]["exit_code"] == 0 and "checks its work" in rows[0]["error"]
    assert git(root, "show", "br/t/edit:work.txt") == "done\n"
    assert git(root, "ls-tree", "--name-only", "br/t/edit").split() == [".gitignore", "app.txt", "work.txt"]  # setup's file stayed out
    worktrees = root / ".buildrunner" / "worktrees" / sid
    # Landed: the adopted worktree and its facts go, right after the result is recorded (the session may end first).
    wait_for(lambda: not (worktrees / "edit.1").exists() and not (worktrees / "edit.1.json").exists(), 30, "the adopted worktree to be removed")
    logs = json.loads(run_br("parallel", "logs", sid, "edit", "--attempt", "2", "--format", "json").stdout)
    own = next(entry["output"] for entry in logs if entry["step"] is None)
    assert "adopts attempt 1's work" in own and "not run again" in own  # says why it has no output of its own


def test_adopted_work_still_has_to_pass_the_security_check(fast_project: Path, run_br: Any, tmp_path: Path) -> None:
    make_repo(fast_project)
    plan = write_plan(fast_project, {"tasks": [{
        "id": "leak", "isolation": "worktree", "retries": 0, "verify": waiting_verify(tmp_path),
        "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {tmp_path}/ran.txt; echo 'aws_key = \"{FAKE_AWS_KEY}\"' > settings.py",
    }]})
    sid = start(run_br, plan)
    project = Project(fast_project)
    kill_during_first_verify(project, sid, "leak", tmp_path)
    rows = attempts(project, sid, "leak")
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "lost"), (2, "failed")]
    assert "security" in rows[1]["error"] and FAKE_AWS_KEY not in rows[1]["error"]
    assert (tmp_path / "ran.txt").read_text().split() == ["leak-1"]
    assert git(fast_project, "branch", "--list", "br/t/leak") == ""  # failed work never reaches a branch
    project.close()


def test_a_task_without_a_worktree_is_checked_against_its_own_snapshot(fast_project: Path, run_br: Any, tmp_path: Path) -> None:
    """What the working tree held before the first attempt (kept on disk) is not blamed on it by the attempt that checks its work."""
    make_repo(fast_project)
    (fast_project / "notes.py").write_text(f'aws_key = "{FAKE_AWS_KEY}"\n')  # the user's own uncommitted file, there before the task
    plan = write_plan(fast_project, {"tasks": [{
        "id": "inplace", "verify": waiting_verify(tmp_path) + " && grep -q v2 app.txt",
        "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {tmp_path}/ran.txt; echo v2 > app.txt",
    }]})
    sid = start(run_br, plan)
    project = Project(fast_project)
    kill_during_first_verify(project, sid, "inplace", tmp_path)
    assert [(r["attempt"], r["status"]) for r in attempts(project, sid, "inplace")] == [(1, "lost"), (2, "completed")]
    assert (tmp_path / "ran.txt").read_text().split() == ["inplace-1"]
    project.close()


def test_an_agent_is_not_run_again_and_its_spend_is_recorded_once(
    fast_project: Path, run_br: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent's result and cost are read back from its log: one run, its cost counted once, the task passed."""
    monkeypatch.setenv("PATH", f"{STANDINS}{os.pathsep}{os.environ['PATH']}")
    make_repo(fast_project)
    runs = tmp_path / "agent-runs.txt"
    plan = write_plan(fast_project, {"tasks": [{
        "id": "docs", "prompt": "Document the public API", "agent": "claude", "verify": waiting_verify(tmp_path),
        "env": {"BR_STANDIN_DELAY": "0", "BR_STANDIN_RUNS": str(runs)},
    }]})
    sid = start(run_br, plan)
    project = Project(fast_project)
    kill_during_first_verify(project, sid, "docs", tmp_path)
    assert len(runs.read_text().splitlines()) == 1
    assert [(r["attempt"], r["status"]) for r in attempts(project, sid, "docs")] == [(1, "lost"), (2, "completed")]
    fixture = STANDINS.parent / "fixtures" / "claude"
    success = json.loads((fixture / "scenarios.json").read_text())["scenarios"]["success"]["file"]
    stated = next(json.loads(line) for line in (fixture / success).read_text().splitlines() if '"type":"result"' in line.replace(" ", ""))
    records = [r for r in CostTracker(project).records("all") if r.task_id == "docs"]
    assert sum(r.cost for r in records) == pytest.approx(stated["total_cost_usd"], abs=1e-6)  # one run's spend, by model
    final = json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)
    assert final["cost"] == pytest.approx(stated["total_cost_usd"], abs=1e-6)
    lost, passed = final["tasks"][0]["ladder"]
    assert (lost["status"], lost["agent"], lost["cost"]) == ("lost", "claude", 0.0)  # its spend moved to the attempt that adopted it
    assert (passed["outcome"], passed["agent"], passed["tier"]) == ("passed", "claude", lost["tier"])
    project.close()


def test_work_whose_commit_failed_is_checked_again_not_run_again(pproject: Project, run_br: Any, tmp_path: Path) -> None:
    """A step of ours failing after the command exited (here the commit: another git process holds the branch's lock)
    fails the attempt, but the work is done: the retry adopts it and commits it, the command is not run a second time."""
    root = pproject.paths.root
    make_repo(root)
    lock = root / ".git" / "refs" / "heads" / "br" / "t" / "edit.lock"
    plan = write_plan(root, {"tasks": [{
        "id": "edit", "isolation": "worktree", "retries": 2,
        "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {tmp_path}/ran.txt; echo done > work.txt",
        "verify": f"touch {tmp_path}/verifying-$BR_TASK_ATTEMPT; until [ -e {tmp_path}/go-$BR_TASK_ATTEMPT ]; do sleep 0.05; done; test -s work.txt",
    }]})
    sid = start(run_br, plan)
    wait_for(lambda: (tmp_path / "verifying-1").exists(), 60, "the first attempt's verify")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.touch()  # as `git branch -f br/t/edit ...` would, at the moment the attempt commits
    (tmp_path / "go-1").touch()
    wait_for(lambda: (tmp_path / "verifying-2").exists(), 60, "the next attempt to check the work")
    lock.unlink()
    (tmp_path / "go-2").touch()
    wait_for(lambda: SessionManager(pproject).get_session_status(sid, activity=0).finished, 60, "the session to end")
    assert (tmp_path / "ran.txt").read_text().split() == ["edit-1"]  # the command ran once
    rows = attempts(pproject, sid, "edit")
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "failed"), (2, "completed")], rows
    assert "edit.lock" in rows[0]["error"] and "a retry checks it instead of running the command again" in rows[0]["error"]
    assert git(root, "show", "br/t/edit:work.txt") == "done\n"
    logs = json.loads(run_br("parallel", "logs", sid, "edit", "--attempt", "2", "--format", "json").stdout)
    assert "adopts attempt 1's work" in next(entry["output"] for entry in logs if entry["step"] is None)


def test_a_worker_asked_to_stop_while_its_task_is_checked_leaves_the_work_to_the_next_attempt(pproject: Project, run_br: Any, tmp_path: Path) -> None:
    """SIGTERM (a user stopping one worker) during verify: the worker ends the check and leaves; the command had
    finished, so the next attempt adopts its work instead of running it again."""
    root = pproject.paths.root
    make_repo(root)
    plan = write_plan(root, {"tasks": [{
        "id": "edit", "isolation": "worktree", "verify": waiting_verify(tmp_path) + " && test -s work.txt",
        "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {tmp_path}/ran.txt; echo done > work.txt",
    }]})
    sid = start(run_br, plan)
    wait_for(lambda: (tmp_path / "verifying-1").exists(), 60, "the first attempt's verify")
    victim = pproject.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task = 'edit'", (sid,))
    assert victim is not None
    os.kill(victim["pid"], signal.SIGTERM)
    wait_for(lambda: (tmp_path / "verifying-2").exists(), 60, "the next attempt to check the work")
    (tmp_path / "go").touch()
    wait_for(lambda: SessionManager(pproject).get_session_status(sid, activity=0).finished, 60, "the session to end")
    assert (tmp_path / "ran.txt").read_text().split() == ["edit-1"]  # the command ran once
    rows = attempts(pproject, sid, "edit")
    assert [(r["attempt"], r["status"]) for r in rows] == [(1, "lost"), (2, "completed")], rows
    assert rows[0]["worker_id"] == victim["id"]
    assert git(root, "show", "br/t/edit:work.txt") == "done\n"
