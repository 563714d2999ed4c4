"""Real worker processes on a real database, and the faults they must survive."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from parallel_helpers import FAKE_AWS_KEY, exited, make_repo, wait_for, write_config, write_plan

from buildrunner.parallel.session_manager import SessionManager
from buildrunner.parallel.supervisor import Link
from buildrunner.project import Project

pytestmark = [pytest.mark.slow, pytest.mark.lifecycle]


def start(run_br: Any, plan: Path, *args: str) -> dict[str, Any]:
    result = run_br("parallel", "start", "t", "--config", str(plan), "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def status(project: Project, sid: str):  # type: ignore[no-untyped-def]
    return SessionManager(project).get_session_status(sid, activity=0)


def finished(project: Project, sid: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    return wait_for(lambda: (s := status(project, sid)).finished and s, timeout, f"session {sid} to finish")


def attempts(project: Project, sid: str) -> list[dict[str, Any]]:
    return project.store.fetchall(
        "SELECT a.task_id, a.attempt, a.status, a.worker_id, a.error, a.pid FROM task_attempts a WHERE a.session_id = ? ORDER BY a.task_id, a.attempt",
        (sid,),
    )


def test_start_wait_runs_a_plan_on_detached_worker_processes(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(
        fast_project,
        {
            "retries": 1,
            "tasks": [
                {"id": "prepare", "command": "mkdir -p out && echo prepared > out/prepare.txt"},
                {"id": "use", "command": "cat out/prepare.txt", "depends_on": ["prepare"]},
                {"id": "flaky", "command": 'test "$BR_TASK_ATTEMPT" -ge 2 || { echo "first try fails"; exit 1; }'},
                {"id": "leak", "command": f"echo token={FAKE_AWS_KEY} in output"},
                *({"id": f"n{i}", "command": "sleep 0.2"} for i in range(4)),
            ],
        },
    )
    result = run_br("parallel", "start", "Sprint 42", "--config", str(plan), "--workers", "3", "--wait")
    assert result.returncode == 0, result.stderr
    assert "Starting parallel session: Sprint 42" in result.stdout and "✅ Session started successfully" in result.stdout
    assert "Status: completed" in result.stdout and "Progress: 8/8 tasks completed (100%)" in result.stdout
    assert "Workers: 0 active (3 ran)" in result.stdout  # after --wait: none left running, three did the work
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    assert "0 live, 3 ran" in run_br("parallel", "list").stdout
    project = Project(fast_project)
    workers = project.store.fetchall("SELECT pid, status, tasks_completed, cpu_seconds, peak_rss_bytes FROM workers WHERE session_id = ?", (sid,))
    assert len(workers) == 3 and len({w["pid"] for w in workers}) == 3 and os.getpid() not in {w["pid"] for w in workers}
    assert sum(w["tasks_completed"] for w in workers) == 8
    assert all(w["peak_rss_bytes"] > 0 for w in workers)
    flaky = [a for a in attempts(project, sid) if a["task_id"] == "flaky"]
    assert [a["status"] for a in flaky] == ["failed", "completed"]
    logs = run_br("parallel", "logs", sid, "flaky")
    assert "attempt 1 (failed)" in logs.stdout and "first try fails" in logs.stdout
    leak = run_br("parallel", "logs", sid, "leak").stdout
    assert FAKE_AWS_KEY not in leak and "AKIA" in leak
    assert FAKE_AWS_KEY not in (fast_project / ".buildrunner" / "logs" / sid / "leak.1.log").read_text()
    assert run_br("parallel", "logs", sid, "use").stdout.count("prepared") == 1
    listed = json.loads(run_br("parallel", "list", "--format", "json").stdout)
    assert [(s["session_id"], s["status"], s["completed_tasks"]) for s in listed] == [(sid, "completed", 8)]
    types = {r["type"] for r in project.store.fetchall("SELECT type FROM events WHERE session_id = ?", (sid,))}
    assert {"session_started", "task_started", "task_completed", "task_failed", "task_retry", "session_completed"} <= types
    project.close()


def test_wait_exits_non_zero_when_a_task_failed(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "bad", "command": "exit 7"}, {"id": "after", "command": "true", "depends_on": ["bad"]}]})
    result = run_br("parallel", "start", "x", "--config", str(plan), "--workers", "1", "--wait")
    assert result.returncode == 1
    assert "1 failed, 1 skipped" in result.stderr and "Traceback" not in result.stderr


def test_resume_retry_failed_runs_what_failed_and_what_waited_on_it_once_each(pproject: Project, run_br: Any) -> None:
    root = pproject.paths.root
    plan = write_plan(root, {"retries": 0, "tasks": [
        {"id": "fetch", "command": "test -e ready && echo fetch >> ran.log"},
        {"id": "build", "command": "echo build >> ran.log", "depends_on": ["fetch"]},
        {"id": "lint", "command": "echo lint >> ran.log"},
    ]})
    failed = run_br("parallel", "start", "nightly", "--config", str(plan), "--workers", "1", "--wait")
    assert failed.returncode == 1 and "1 failed, 1 skipped" in failed.stderr
    refused = run_br("parallel", "resume", "nightly")
    assert refused.returncode == 1 and "br parallel resume" in refused.stderr and "--retry-failed" in refused.stderr
    (root / "ready").touch()
    result = run_br("parallel", "resume", "nightly", "--retry-failed")
    assert result.returncode == 0, result.stderr
    assert "Retrying 1 failed task (fetch); 1 skipped task waits for it, as the session stored them, each with its retries and its own max_cost anew" in result.stdout
    sid = SessionManager(pproject).resolve("nightly")
    final = finished(pproject, sid)
    assert (final.status, final.completed_tasks) == ("completed", 3)
    assert sorted((root / "ran.log").read_text().split()) == ["build", "fetch", "lint"]  # lint did not run again
    again = run_br("parallel", "resume", "nightly", "--retry-failed")
    assert again.returncode == 1 and "no failed task to retry" in again.stderr


def test_halt_on_failure_stops_the_session_at_the_first_failure_and_a_retry_goes_on_from_there(pproject: Project, run_br: Any) -> None:
    """Fail fast for CI (GNU parallel's --halt now,fail=1): what waits is cancelled, what runs is ended; then fixed and resumed."""
    root = pproject.paths.root
    plan = write_plan(root, {"retries": 0, "tasks": [
        {"id": "check", "command": "test -e fixed"},
        {"id": "long", "command": f"until [ -e {root}/never ]; do sleep 0.05; done"},
        {"id": "after-long", "command": "echo after-long >> ran.log", "depends_on": ["long"]},
        {"id": "after-check", "command": "echo after-check >> ran.log", "depends_on": ["check"]},
    ]})
    halted = run_br("parallel", "start", "ci", "--config", str(plan), "--workers", "2", "--wait", "--halt-on-failure")
    assert halted.returncode == 1 and "halted: task check failed" in halted.stderr
    sid = SessionManager(pproject).resolve("ci")
    tasks = {t.task_id: t.status for t in SessionManager(pproject).list_tasks(sid)}
    assert tasks == {"check": "failed", "long": "cancelled", "after-long": "cancelled", "after-check": "skipped"}
    assert not (root / "ran.log").exists()
    (root / "fixed").touch()
    (root / "never").touch()
    resumed = run_br("parallel", "resume", "ci", "--retry-failed", "--wait")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted((root / "ran.log").read_text().split()) == ["after-check", "after-long"]


def test_a_stopped_session_whose_worker_died_can_be_resumed_with_retry_failed(fast_project: Path, run_br: Any) -> None:
    """Its task stayed "running" with nobody to settle it, and --retry-failed said "still ending" for ever."""
    plan = write_plan(fast_project, {"tasks": [{"id": "t", "command": "until [ -e go ]; do sleep 0.05; done; echo t >> ran.log"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    # the task's own process, not only a busy worker: a crash while the worker spawns it left the task alive, and it
    # then completed by itself once `go` appeared (correctly: there was nothing left to retry)
    wait_for(lambda: _running_task(project, "until"), 30, "the task's process")
    _crash_workers(project)  # the worker, its supervisor and its task
    assert run_br("parallel", "stop", sid).returncode == 0
    (fast_project / "go").touch()
    resumed = run_br("parallel", "resume", sid, "--retry-failed", "--wait")
    assert resumed.returncode == 0, resumed.stderr
    assert (fast_project / "ran.log").read_text() == "t\n"
    project.close()


def test_plan_errors_exit_2_before_anything_runs(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "a", "command": "touch ran", "depends_on": ["b"]}, {"id": "b", "command": "true", "depends_on": ["a"]}]})
    result = run_br("parallel", "start", "x", "--config", str(plan))
    assert result.returncode == 2
    assert "dependency cycle a -> b -> a" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run_br("parallel", "list", "--format", "json").stdout) == []
    assert not (fast_project / "ran").exists()
    assert run_br("parallel", "start", "x", "--config", "missing.yaml").returncode == 6
    good = write_plan(fast_project, {"tasks": [{"id": "a", "command": "touch ran"}]}, "good.yaml")
    for option, value, message in (
        ("--tasks", "0", "--tasks 0: must be at least 1"), ("--workers", "0", "--workers 0"),
        ("--workers", "100000", "--workers 100000: must be 1 to 256"),  # a typo, not 100,000 processes forked until the machine refuses
    ):
        bad = run_br("parallel", "start", "x", "--config", str(good), option, value)
        assert bad.returncode == 2 and message in bad.stderr
    assert json.loads(run_br("parallel", "list", "--format", "json").stdout) == []
    assert not (fast_project / "ran").exists()


def test_kill_9_of_a_worker_mid_task_is_retried_elsewhere_exactly_once(pproject: Project, run_br: Any) -> None:
    """The killed worker's task is still running (it waits for `go`): its tree is ended, and it runs again once, elsewhere."""
    root = pproject.paths.root
    wait = f"until [ -e {root}/go ]; do sleep 0.05; done"
    plan = write_plan(root, {"tasks": [{"id": f"t{i}", "command": f"{wait}; echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {root}/ran.txt"} for i in range(6)]})
    sid = start(run_br, plan, "--workers", "3")["session_id"]
    victim = wait_for(
        lambda: pproject.store.fetchone("SELECT id, pid, current_task FROM workers WHERE session_id = ? AND status = 'active'", (sid,)),
        30, "a busy worker",
    )
    os.kill(victim["pid"], signal.SIGKILL)
    wait_for(lambda: any(r["status"] == "lost" for r in attempts(pproject, sid)), 60, "the killed worker's attempt to be settled")
    (root / "go").touch()
    final = finished(pproject, sid)
    assert (final.status, final.completed_tasks) == ("completed", 6)
    rows = attempts(pproject, sid)
    completed = [r["task_id"] for r in rows if r["status"] == "completed"]
    assert sorted(completed) == [f"t{i}" for i in range(6)]  # each task completed exactly once
    lost = [r for r in rows if r["status"] == "lost"]
    assert [r["task_id"] for r in lost] == [victim["current_task"]]
    redo = [r for r in rows if r["task_id"] == victim["current_task"] and r["status"] == "completed"]
    assert redo[0]["worker_id"] != victim["id"]
    assert sorted((root / "ran.txt").read_text().split()) == sorted(f"t{i}-{2 if f't{i}' == victim['current_task'] else 1}" for i in range(6))
    assert pproject.store.scalar("SELECT status FROM workers WHERE id = ?", (victim["id"],)) == "lost"
    assert pproject.store.scalar("SELECT COUNT(*) FROM events WHERE session_id = ? AND type = 'worker_lost'", (sid,)) == 1


def _killed_as_users_kill_workers(how: str, sid: str) -> None:
    """`pkill -9 -f "br parallel worker SID"`, or `kill -9 -- -PGID` of each worker started from a shell."""
    for proc in psutil.process_iter(["cmdline"]):
        if " ".join(proc.info["cmdline"] or []).strip() == f"br parallel worker {sid}":
            if how == "pkill":
                proc.kill()
            else:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # its supervisor leads the group
                except ProcessLookupError:
                    pass  # not a group's leader (a worker child that had its title, before it was titled apart)


@pytest.mark.parametrize("how", ["pkill", "killpg"])
def test_killing_workers_by_name_or_group_leaves_one_to_settle_a_task_that_finishes_meanwhile(fast_project: Path, run_br: Any, how: str) -> None:
    """Each worker and its supervisor were killed together, and a task finishing before a reaper came ran twice: no one was
    left to record its exit. Now the worker's child is titled and grouped apart, so one of the two always settles it."""
    root, project = fast_project, Project(fast_project)
    wait = f"until [ -e {root}/go ]; do sleep 0.05; done"
    plan = write_plan(root, {"tasks": [{"id": f"t{i}", "command": f"{wait}; echo $BR_TASK_ID >> {root}/ran.txt"} for i in range(4)]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    busy = wait_for(
        lambda: len(rows := project.store.fetchall("SELECT pid FROM workers WHERE session_id = ? AND current_task IS NOT NULL", (sid,))) == 2 and rows,
        30, "both workers busy",
    )
    for row in busy:
        assert " ".join(psutil.Process(row["pid"]).parent().cmdline()).strip() == f"br parallel worker {sid}"
        assert " ".join(psutil.Process(row["pid"]).cmdline()).strip() == f"br parallel runner {sid}"
    _killed_as_users_kill_workers(how, sid)
    (root / "go").touch()  # the tasks may now finish before anyone reaps their workers
    subprocess.Popen([sys.executable, "-m", "buildrunner", "parallel", "worker", sid], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 4)
    assert sorted((root / "ran.txt").read_text().split()) == [f"t{i}" for i in range(4)], attempts(project, sid)  # each effect once


def test_a_worker_process_that_dies_is_started_again_by_its_supervisor(fast_project: Path, run_br: Any) -> None:
    """The OOM killer or a kill -9 took the only worker's process: the session sat "running" with no worker at all."""
    root, project = fast_project, Project(fast_project)
    wait = f"until [ -e {root}/go ]; do sleep 0.05; done"
    plan = write_plan(root, {"tasks": [{"id": f"t{i}", "command": f"{wait}; echo $BR_TASK_ID >> {root}/ran.txt"} for i in range(3)]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    first = wait_for(lambda: project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task IS NOT NULL", (sid,)), 30, "a busy worker")
    supervisor = psutil.Process(first["pid"]).parent()
    os.kill(first["pid"], signal.SIGKILL)
    second = wait_for(lambda: project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND id <> ?", (sid, first["id"])), 30, "another worker")
    assert psutil.Process(second["pid"]).ppid() == supervisor.pid
    (root / "go").touch()
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 3)
    assert sorted((root / "ran.txt").read_text().split()) == ["t0", "t1", "t2"]
    log = root / ".buildrunner" / "logs" / sid / "workers.log"
    wait_for(lambda: "died 1 time before (exit code -9) and was started again" in log.read_text(), 30, "the worker's report")


def test_output_that_is_not_utf8_is_kept_byte_for_byte_and_secrets_beside_it_are_still_masked(fast_project: Path, run_br: Any) -> None:
    """Latin-1 text and binary output came back with U+FFFD in place of every byte that was not UTF-8 (4,104 bytes as 7,388)."""
    raw = b"caf\xe9\n\xff\xfe\x00A\n" + bytes(range(256)) + b"\n"
    (fast_project / "blob.bin").write_bytes(raw)
    plan = write_plan(fast_project, {"tasks": [{"id": "bin", "command": f"cat blob.bin; echo key={FAKE_AWS_KEY}"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    assert finished(project, sid).completed_tasks == 1
    log = (project.paths.logs_dir / sid / "bin.1.log").read_bytes()
    assert log.startswith(raw)
    assert FAKE_AWS_KEY.encode() not in log and b"key=AKIA...MPLF" in log
    piped = subprocess.run([sys.executable, "-m", "buildrunner", "parallel", "logs", sid, "bin"], cwd=fast_project, capture_output=True)
    assert piped.returncode == 0 and raw in piped.stdout  # `br parallel logs ... > out.bin` gives the bytes back
    project.close()


def test_a_background_job_a_task_leaves_is_ended_with_it_and_its_log_says_so(fast_project: Path, run_br: Any) -> None:
    """A `nohup ... &` child vanished without a word (xargs and GNU parallel leave it running)."""
    job = 'nohup sh -c "exec sleep 30" >/dev/null 2>&1 & echo parent-exits'
    plan = write_plan(fast_project, {"tasks": [{"id": "bg", "command": job}, {"id": "plain", "command": "echo hi"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    assert finished(project, sid).completed_tasks == 2
    logs = project.paths.logs_dir / sid
    assert "the task exited leaving 1 process running; it was ended with it" in (logs / "bg.1.log").read_text()
    assert "[br]" not in (logs / "plain.1.log").read_text()
    project.close()


def test_list_counts_live_workers_as_status_does_after_the_only_worker_is_killed(pproject: Project, run_br: Any) -> None:
    """With no other worker to declare it lost, a killed worker's row still says active: `list` must not count it live.
    (Its supervisor is killed with it, frozen first so that it cannot start the worker again.)"""
    root = pproject.paths.root
    plan = write_plan(root, {"tasks": [{"id": "t", "command": f"until [ -e {root}/go ]; do sleep 0.05; done"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    victim = wait_for(lambda: pproject.store.fetchone("SELECT pid FROM workers WHERE session_id = ? AND status = 'active'", (sid,)), 30, "a busy worker")
    supervisor = psutil.Process(victim["pid"]).parent()
    supervisor.suspend()
    os.kill(victim["pid"], signal.SIGKILL)
    supervisor.kill()

    def status() -> dict[str, Any]:
        return json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)

    wait_for(lambda: status()["active_workers"] == 0, 30, "status to see the worker gone")
    [listed] = json.loads(run_br("parallel", "list", "--format", "json").stdout)
    assert listed["live_workers"] == 0 and listed["workers_ran"] == 1
    assert "0 live, 1 ran" in run_br("parallel", "list").stdout
    (root / "go").touch()
    assert run_br("parallel", "stop", sid).returncode == 0


def kill_the_worker_of_t(root: Path, run_br: Any, task: dict[str, Any], sign: str) -> tuple[Project, str, Any]:
    """Run task `t` beside `other` (which keeps a worker alive to settle the lost one's attempt until `end` exists),
    wait for `t` to create the file `sign`, and kill -9 the worker running it: (project, session id, its worker row)."""
    plan = write_plan(root, {"tasks": [task, {"id": "other", "command": "until [ -e end ]; do sleep 0.05; done"}]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(root)
    wait_for(lambda: (root / sign).exists(), 30, f"task t to create {sign}")
    victim = project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task = 't'", (sid,))
    assert victim is not None
    os.kill(victim["pid"], signal.SIGKILL)
    return project, sid, victim


def test_a_task_finishing_as_its_worker_is_killed_keeps_its_result(fast_project: Path, run_br: Any) -> None:
    """The worker dies in the instant between the task's side effect and its exit: the task may finish, and is not run again.

    Ended at once, it would be retried and its side effect would happen twice; its supervisor gives it a moment to exit.
    """
    project, sid, victim = kill_the_worker_of_t(
        fast_project, run_br, {"id": "t", "command": "echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> ran.txt; touch did; until [ -e go ]; do sleep 0.01; done"}, "did",
    )
    (fast_project / "go").touch()  # the task exits by itself now, after its worker died
    wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE session_id = ? AND task_id = 't'", (sid,)) != "running", 60, "the attempt to be settled")
    (fast_project / "end").touch()
    finished(project, sid)
    assert [(r["task_id"], r["attempt"], r["status"]) for r in attempts(project, sid)] == [("other", 1, "completed"), ("t", 1, "completed")]
    assert project.store.scalar("SELECT worker_id FROM task_attempts WHERE session_id = ? AND task_id = 't'", (sid,)) == victim["id"]
    assert (fast_project / "ran.txt").read_text().split() == ["t-1"]
    assert status(project, sid).status == "completed"
    project.close()


def test_a_task_whose_output_pipe_outlives_its_killed_worker_is_ended_and_retried_not_taken_as_finished(fast_project: Path, run_br: Any) -> None:
    """A program that prints as it works would die of EPIPE when its worker dies, and the script around it would go on
    and exit 0: that is not the task finishing. The supervisor holds the task's pipes, so the task runs on until it is
    ended, and the retry runs it again; attempt 1 is lost, never completed."""
    ticker = f"{sys.executable} -c 'import os, time\nwhile not os.path.exists(\"go\"):\n    print(\"tick\", flush=True); open(\"ticking\", \"w\"); time.sleep(0.02)'"
    project, sid, _ = kill_the_worker_of_t(
        fast_project, run_br, {"id": "t", "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> ran.txt; {ticker}; echo done-$BR_TASK_ATTEMPT >> ran.txt", "retries": 1}, "ticking",
    )
    wait_for(lambda: any(r["task_id"] == "t" and r["status"] != "running" for r in attempts(project, sid)), 60, "the attempt to be settled")
    (fast_project / "go").touch()
    (fast_project / "end").touch()
    finished(project, sid)
    assert [(r["task_id"], r["attempt"], r["status"]) for r in attempts(project, sid) if r["task_id"] == "t"] == [("t", 1, "lost"), ("t", 2, "completed")]
    assert (fast_project / "ran.txt").read_text().split() == ["t-1", "t-2", "done-2"]
    project.close()


def test_a_writer_outside_the_task_tree_meets_a_broken_pipe_once_the_task_is_over(fast_project: Path, run_br: Any) -> None:
    """The supervisor holds a task's output pipes while the task runs (so a dying worker does not cut it short) and
    lets go when the task is over. The worker ends what the task leaves in its tree; a process outside it that holds
    the task's stdout (here this test, through /proc) must then meet a broken pipe, as without BuildRunner, not a pipe
    that fills up with nobody reading it and blocks it for ever."""
    plan = write_plan(fast_project, {"tasks": [
        {"id": "t", "command": "echo $$ > task.pid; while [ ! -f release ]; do sleep 0.05; done; echo bye"},
        {"id": "block", "command": "while [ ! -f finish ]; do sleep 0.05; done"},
        {"id": "next", "command": "true", "depends_on": ["block"]},  # t's worker stays alive and idle, with no new task
    ]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(fast_project)
    pid = int(wait_for(lambda: (fast_project / "task.pid").exists() and (fast_project / "task.pid").read_text().strip(), 60, "the task to start"))
    outside = os.open(f"/proc/{pid}/fd/1", os.O_WRONLY | os.O_NONBLOCK)  # the task's stdout pipe, held from outside its tree
    try:
        (fast_project / "release").touch()
        wait_for(lambda: [r["status"] for r in attempts(project, sid) if r["task_id"] == "t"] == ["completed"], 60, "t to complete")

        def broken() -> bool:
            try:
                os.write(outside, b"still here\n")
            except BrokenPipeError:
                return True
            except BlockingIOError:
                pass  # full, and someone still holds the read end
            return False

        wait_for(broken, 60, "writing to the finished task's stdout to meet a broken pipe")
    finally:
        os.close(outside)
        (fast_project / "finish").touch()
    assert finished(project, sid).status == "completed"
    project.close()


def test_killing_the_start_process_leaves_the_workers_running(fast_project: Path) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "sleep 0.5"} for i in range(6)]})
    proc = subprocess.Popen(
        [sys.executable, "-m", "buildrunner", "parallel", "start", "x", "--config", str(plan), "--workers", "2", "--wait"],
        cwd=fast_project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    project = Project(fast_project)
    sid = wait_for(lambda: project.store.scalar("SELECT id FROM sessions"), 30, "the session")
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'running'"), 30, "a running task")
    proc.kill()
    proc.wait()
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 6)
    project.close()


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_a_ci_cancel_on_wait_says_the_session_keeps_running(fast_project: Path, sig: int, code: int, said: str) -> None:
    """SIGTERM is what a CI runner sends a cancelled job: it said only "Terminated" and left the workers unmentioned."""
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "sleep 0.5"} for i in range(4)]})
    proc = subprocess.Popen(
        [sys.executable, "-m", "buildrunner", "parallel", "start", "x", "--config", str(plan), "--workers", "2", "--wait"],
        cwd=fast_project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores Ctrl-C
    )
    project = Project(fast_project)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first progress line: the command is waiting now
    assert " started (worker-" in first, first
    sid = project.store.scalar("SELECT id FROM sessions")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert f"Stopped waiting: session {sid} keeps running (br parallel status {sid}; br parallel stop {sid} to end it)" in err
    assert err.rstrip().endswith(f"error: {said}") and "Traceback" not in err
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 4)
    project.close()


def test_a_hanging_task_times_out_is_killed_and_retried(fast_project: Path, run_br: Any) -> None:
    write_config(fast_project, kill_grace=0.5)
    # The first attempt ignores TERM and never ends; only KILL stops it.
    hang = 'if [ "$BR_TASK_ATTEMPT" = 1 ]; then trap "" TERM; while :; do sleep 0.1; done; fi; echo second try ok'
    plan = write_plan(fast_project, {"tasks": [{"id": "hang", "command": hang, "timeout": 1, "retries": 1}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    final = finished(project, sid)
    assert final.status == "completed"
    rows = attempts(project, sid)
    assert [r["status"] for r in rows] == ["timeout", "completed"]
    assert rows[0]["error"] == "timed out after 1s (killed)"
    assert exited([rows[0]["pid"]])
    assert "second try ok" in run_br("parallel", "logs", sid, "hang", "--attempt", "2").stdout
    zero = run_br("parallel", "logs", sid, "hang", "--attempt", "0")  # said "no attempt yet (it is pending)"
    assert zero.returncode == 2 and "--attempt" in zero.stderr
    project.close()


def test_a_worker_started_against_a_stopped_session_exits_cleanly(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "a", "command": "sleep 30"}]})
    project = Project(fast_project)
    manager = SessionManager(project)
    session = manager.create_session("x", plan=manager.load_plan(plan), start_workers=False)
    manager.stop_session(session.session_id)
    result = run_br("parallel", "worker", session.session_id, timeout=30)
    assert result.returncode == 0
    assert "is stopped; nothing to do" in result.stderr
    assert project.store.scalar("SELECT COUNT(*) FROM workers") == 0
    project.close()


def test_stop_ends_running_tasks_and_the_workers(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "sleep 60"} for i in range(4)]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'running'") == 2, 30, "two running tasks")
    pids = [r["pid"] for r in project.store.fetchall("SELECT pid FROM workers")]
    result = run_br("parallel", "stop", sid, "--force")
    assert result.returncode == 0 and "stopped" in result.stdout and "2 running tasks being ended now (forced)" in result.stdout
    wait_for(lambda: exited(pids), 20, "workers to exit")
    tasks = {r["task_id"]: r["status"] for r in project.store.fetchall("SELECT task_id, status FROM tasks")}
    assert sorted(tasks.values()) == ["cancelled"] * 4
    assert {r["status"] for r in project.store.fetchall("SELECT status FROM workers")} == {"stopped"}
    again = run_br("parallel", "stop", sid)
    assert again.returncode == 0 and f"Session {sid} is already stopped: nothing to stop." in again.stdout
    project.close()


def test_resume_restarts_workers_after_they_all_died(fast_project: Path, run_br: Any) -> None:
    # Tasks wait for a file created only after the crash: none can finish before it, however loaded the machine.
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "until [ -e go ]; do sleep 0.05; done"} for i in range(4)]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM workers WHERE status = 'active'") >= 1, 30, "a busy worker")
    assert run_br("parallel", "pause", sid).returncode == 0
    again = run_br("parallel", "pause", sid)
    assert again.returncode == 0 and "already paused" in again.stdout  # it said "paused (0 tasks still finishing)"
    _crash_workers(project)
    result = run_br("parallel", "resume", sid)
    assert result.returncode == 0 and "started 2 workers" in result.stdout, result.stderr
    (fast_project / "go").touch()
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 4)
    assert project.store.scalar("SELECT COUNT(*) FROM workers WHERE status = 'lost'") >= 1
    project.close()


def _running_task(project: Project, word: str) -> bool:
    """Whether a worker's task whose command line holds `word` is running."""
    for row in project.store.fetchall("SELECT pid FROM workers"):
        try:
            children = psutil.Process(row["pid"]).children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            try:
                if word in " ".join(child.cmdline()):
                    return True
            except psutil.Error:
                continue
    return False


def _crash_workers(project: Project) -> None:
    """The machine "crashes": every worker, its supervisor and its task."""
    for row in project.store.fetchall("SELECT pid FROM workers"):
        try:
            worker = psutil.Process(row["pid"])
            doomed = [worker.parent(), worker, *worker.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in doomed:
            try:
                proc.kill()
            except psutil.Error:
                pass


def test_resume_starts_no_more_workers_than_tasks_left(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [
        {"id": "quick1", "command": "true"}, {"id": "quick2", "command": "true"},
        {"id": "slow", "command": "until [ -e go ]; do sleep 0.05; done"},
    ]})
    sid = start(run_br, plan, "--workers", "3")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'completed'") == 2, 30, "the quick tasks")
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM tasks WHERE status = 'running'") == 1, 30, "the slow task")
    assert run_br("parallel", "pause", sid).returncode == 0
    _crash_workers(project)
    result = run_br("parallel", "resume", sid)
    assert result.returncode == 0 and "started 1 worker" in result.stdout, result.stdout + result.stderr
    (fast_project / "go").touch()
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 3)
    project.close()


def test_status_and_workers_commands(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "a", "command": "echo made it"}, {"id": "b", "command": "false"}]})
    result = run_br("parallel", "start", "Report", "--config", str(plan), "--workers", "1", "--wait")
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    text = run_br("parallel", "status", sid).stdout
    assert f"Session: Report ({sid})" in text and "Progress: 1/2 tasks completed (50%)" in text and "Recent Activity:" in text
    assert "| worker-1 | Completed a" in text and "b (failed, 1 attempt): exit code 1" in text
    data = json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)
    assert (data["completed_tasks"], data["failed_tasks"], data["progress_percent"]) == (1, 1, 50.0)
    # The spec's SessionStatus fields: start_time (a datetime) and elapsed_time_seconds (whole seconds, frozen once ended).
    assert datetime.fromisoformat(data["start_time"]).timestamp() == pytest.approx(data["started_at"], abs=1e-3)
    assert data["elapsed_time_seconds"] == int(data["finished_at"] - data["started_at"])
    status = SessionManager(Project(fast_project)).get_session_status(sid)
    assert status.start_time.tzinfo is not None and isinstance(status.elapsed_time_seconds, int)
    assert {t["task_id"]: t["status"] for t in data["tasks"]} == {"a": "completed", "b": "failed"}
    logs = {t["task_id"]: t["log_paths"] for t in data["tasks"]}
    assert logs["b"] == []  # it printed nothing: no log was made
    [log] = logs["a"]
    assert Path(log).read_text() == "made it\n"
    workers = json.loads(run_br("parallel", "workers", sid, "--format", "json").stdout)
    assert [(w["name"], w["tasks_completed"], w["state"]) for w in workers] == [("worker-1", 1, "stopped")]
    table = run_br("parallel", "workers", sid).stdout
    assert "worker-1" in table and "offline (stopped)" in table  # JSON's status, with the stored state beside it
    assert run_br("parallel", "list", "--status", "bogus").returncode == 2
    assert run_br("parallel", "status", "session-nope").returncode == 6


def test_tasks_n_runs_only_the_first_tasks_and_cleanup_removes_finished_sessions(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": f"echo {i}"} for i in range(5)]})
    result = run_br("parallel", "start", "few", "--config", str(plan), "--tasks", "2", "--workers", "2", "--wait")
    assert result.returncode == 0, result.stderr
    assert "Tasks: 2" in result.stdout and "Progress: 2/2 tasks completed (100%)" in result.stdout
    sid = next(line.split(": ")[1] for line in result.stdout.splitlines() if line.startswith("Session ID: "))
    assert (fast_project / ".buildrunner" / "logs" / sid / "t1.1.log").read_text() == "1\n"
    assert run_br("parallel", "cleanup").stdout.strip() == "Removed 0 sessions."
    both = run_br("parallel", "cleanup", "--all", "--days", "3")  # which did the user mean? said, nothing removed
    assert both.returncode == 2 and "--all and --days 3: give one" in both.stderr
    assert run_br("parallel", "cleanup", "--all").stdout.strip() == f"Removed 1 session: {sid}"
    assert not (fast_project / ".buildrunner" / "logs" / sid).exists()
    assert json.loads(run_br("parallel", "list", "--format", "json").stdout) == []
    more = run_br("parallel", "start", "more", "--config", str(plan), "--tasks", "9", "--workers", "2", "--wait")
    assert more.returncode == 0 and "Tasks: 5" in more.stdout and "note: --tasks 9: the plan has only 5 tasks; all of them run" in more.stderr


def test_stop_gives_running_tasks_term_before_kill(fast_project: Path, run_br: Any) -> None:
    write_config(fast_project, kill_grace=5)
    # The task cleans up on TERM: the grace period lets it.
    plan = write_plan(fast_project, {"tasks": [{"id": "graceful", "command": "trap 'echo cleaned up > term.txt; exit 0' TERM; while :; do sleep 0.1; done"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM workers WHERE status = 'active'") == 1, 30, "the task to run")
    assert run_br("parallel", "stop", sid).returncode == 0
    wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE task_id = 'graceful'") == "cancelled", 30, "the task to be cancelled")
    assert (fast_project / "term.txt").read_text() == "cleaned up\n"
    project.close()


def _wait_started(fast_project: Path, sid: str, worker_id: str, task_id: str) -> None:
    """Until the worker's record holds the task's process: a worker frozen before that never starts it (its attempt is
    fenced and retried, tested in test_parallel_executor), which is not what these tests freeze it for."""
    record = fast_project / ".buildrunner" / "logs" / sid / f"{worker_id}.run"
    wait_for(lambda: record.exists() and any(
        entry.get("task") == task_id and "started" in entry for entry in map(json.loads, record.read_text().split("\n")[:-1])  # whole lines only
    ), 30, f"task {task_id} to start")


def test_a_frozen_worker_is_declared_lost_and_the_result_its_task_reached_meanwhile_counts(fast_project: Path, run_br: Any) -> None:
    """The task ends while its worker is frozen: its supervisor recorded the exit, so it is not run again."""
    write_config(fast_project, heartbeat_timeout=3)
    # The tasks wait for `go`, made once the worker is frozen: a timed task could end, and its worker claim the next,
    # before the freeze lands on a loaded machine (a worker frozen before starting a task is a different case).
    plan = write_plan(fast_project, {"tasks": [
        {"id": f"t{i}", "command": "until [ -e go ]; do sleep 0.05; done; echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> ran.txt"} for i in range(3)
    ]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(fast_project)
    victim = wait_for(
        lambda: project.store.fetchone("SELECT id, pid, current_task FROM workers WHERE session_id = ? AND status = 'active'", (sid,)),
        30, "a busy worker",
    )
    _wait_started(fast_project, sid, victim["id"], victim["current_task"])
    os.kill(victim["pid"], signal.SIGSTOP)  # alive but silent: only the heartbeat timeout can tell
    (fast_project / "go").touch()
    try:
        wait_for(lambda: project.store.scalar("SELECT status FROM workers WHERE id = ?", (victim["id"],)) == "lost", 30, "the frozen worker to be declared lost")
        wait_for(lambda: status(project, sid).finished, 60, "the others to finish the session")
    finally:
        try:
            os.kill(victim["pid"], signal.SIGCONT)
        except ProcessLookupError:
            pass  # its supervisor ended it when it stayed silent past the lease
    wait_for(lambda: exited([victim["pid"]]), 30, "the frozen worker to exit")
    rows = attempts(project, sid)
    assert sorted((r["task_id"], r["status"]) for r in rows) == [("t0", "completed"), ("t1", "completed"), ("t2", "completed")]
    assert next(r["worker_id"] for r in rows if r["task_id"] == victim["current_task"]) == victim["id"]
    assert sorted((fast_project / "ran.txt").read_text().split()) == ["t0-1", "t1-1", "t2-1"]
    assert status(project, sid).status == "completed"
    project.close()


def test_a_worker_frozen_between_claiming_and_starting_a_task_never_starts_it(fast_project: Path, run_br: Any, tmp_path: Path) -> None:
    """Frozen while its task's setup runs, declared lost, its task given to another worker: woken, it must not start the
    command as well (its supervisor is frozen too, so only the worker itself can hold back)."""
    write_config(fast_project, heartbeat_timeout=2)
    make_repo(fast_project)
    plan = write_plan(fast_project, {
        "setup": f"touch {tmp_path}/setup-$BR_TASK_ATTEMPT; until [ -e {tmp_path}/go ]; do sleep 0.05; done",
        "tasks": [{"id": "once", "isolation": "worktree", "command": f"echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> {tmp_path}/ran.txt"}],
    })
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: (tmp_path / "setup-1").exists(), 30, "the first attempt's setup")
    victim = project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task = 'once'", (sid,))
    assert victim is not None
    supervisor = psutil.Process(victim["pid"]).parent()
    assert supervisor is not None
    supervisor.suspend()
    os.kill(victim["pid"], signal.SIGSTOP)
    try:
        wait_for(lambda: (tmp_path / "setup-2").exists(), 60, "the task to be given to the other worker")
        os.kill(victim["pid"], signal.SIGCONT)  # woken, with its claim gone
        (tmp_path / "go").touch()
        finished(project, sid)
        wait_for(lambda: exited([victim["pid"]]), 30, "the woken worker to leave")
    finally:
        supervisor.resume()
    assert (tmp_path / "ran.txt").read_text().split() == ["once-2"]
    assert [(r["attempt"], r["status"], r["worker_id"] == victim["id"]) for r in attempts(project, sid)] == [(1, "lost", True), (2, "completed", False)]
    project.close()


def _frozen_after_its_task_finished(fast_project: Path, run_br: Any) -> tuple[Project, str, dict[str, Any], psutil.Process]:
    """A worker frozen while its task finishes: the task is a zombie only its parent (frozen) or supervisor can reap."""
    write_config(fast_project, heartbeat_timeout=2)
    plan = write_plan(fast_project, {"tasks": [
        {"id": "done-while-frozen", "command": "until [ -e go ]; do sleep 0.05; done; echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> ran.txt"},
        {"id": "other", "command": "until [ -e end ]; do sleep 0.05; done; echo $BR_TASK_ID-$BR_TASK_ATTEMPT >> ran.txt"},
    ]})
    sid = start(run_br, plan, "--workers", "2")["session_id"]
    project = Project(fast_project)
    victim = wait_for(
        lambda: project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task = 'done-while-frozen'", (sid,)),
        30, "a worker on the task",
    )
    supervisor = psutil.Process(victim["pid"]).parent()
    assert supervisor is not None
    _wait_started(fast_project, sid, victim["id"], "done-while-frozen")
    os.kill(victim["pid"], signal.SIGSTOP)
    (fast_project / "go").touch()
    wait_for(lambda: (fast_project / "ran.txt").exists() and "done-while-frozen-1" in (fast_project / "ran.txt").read_text(), 30, "the task's work")
    return project, sid, victim, supervisor


def _assert_each_task_ran_once(fast_project: Path, project: Project, sid: str) -> None:
    """Let the other task end; the finished one kept its result: one completed attempt each, one side effect each."""
    (fast_project / "end").touch()
    finished(project, sid)
    rows = [(r["task_id"], r["attempt"], r["status"]) for r in attempts(project, sid)]
    assert rows == [("done-while-frozen", 1, "completed"), ("other", 1, "completed")]
    assert sorted((fast_project / "ran.txt").read_text().split()) == ["done-while-frozen-1", "other-1"]
    project.close()


def _settled_or_asked(project: Project, sid: str, victim: dict[str, Any], fast_project: Path) -> bool:
    record = fast_project / ".buildrunner" / "logs" / sid / f"{victim['id']}.run"
    settled = project.store.scalar("SELECT status FROM task_attempts WHERE session_id = ? AND task_id = 'done-while-frozen' AND attempt = 1", (sid,))
    return settled != "running" or '"asked"' in record.read_text()


def test_a_lost_workers_slow_supervisor_is_waited_for_not_raced(fast_project: Path, run_br: Any) -> None:
    """On a loaded machine the supervisor may answer a reaper late: the task it finds finished is not run again."""
    project, sid, victim, supervisor = _frozen_after_its_task_finished(fast_project, run_br)
    supervisor.suspend()  # as slow as it gets: it cannot answer until woken
    try:
        wait_for(lambda: project.store.scalar("SELECT status FROM workers WHERE id = ?", (victim["id"],)) == "lost", 30, "the worker to be declared lost")
        wait_for(lambda: _settled_or_asked(project, sid, victim, fast_project), 30, "a reaper to ask its supervisor")
    finally:
        supervisor.resume()
    wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE session_id = ? AND task_id = 'done-while-frozen'", (sid,)) != "running", 60, "the attempt to be settled")
    _assert_each_task_ran_once(fast_project, project, sid)


def test_a_lost_workers_finished_task_keeps_its_result_when_its_supervisor_is_gone(fast_project: Path, run_br: Any) -> None:
    """Worker frozen, supervisor killed: the reaper reads how the task ended from its zombie and does not run it again."""
    project, sid, victim, supervisor = _frozen_after_its_task_finished(fast_project, run_br)
    supervisor.kill()
    try:
        wait_for(lambda: project.store.scalar("SELECT status FROM tasks WHERE session_id = ? AND task_id = 'done-while-frozen'", (sid,)) != "running", 60, "the attempt to be settled")
    finally:
        os.kill(victim["pid"], signal.SIGCONT)  # its supervisor's death signal (TERM) was waiting: it shuts down
    _assert_each_task_ran_once(fast_project, project, sid)


def test_start_wait_json_prints_one_document_the_final_status(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "a", "command": "true"}, {"id": "b", "command": "false"}]})
    result = run_br("parallel", "start", "ci", "--config", str(plan), "--workers", "2", "--wait", "--format", "json")
    assert result.returncode == 1
    final = json.loads(result.stdout)
    assert (final["status"], final["completed_tasks"], final["failed_tasks"]) == ("failed", 1, 1)
    assert {t["task_id"]: t["status"] for t in final["tasks"]} == {"a": "completed", "b": "failed"}


def test_a_busy_worker_wakes_its_supervisor_at_most_once_per_interval() -> None:
    """A worker running short tasks says "alive" many times a second; its supervisor is woken for one of them per
    interval (each wake-up is CPU the tasks need), and again once the interval has passed, so silence still means frozen."""
    read, write = os.pipe()
    try:
        os.set_blocking(read, False)
        link = Link(write, os.getpid(), every=3600)
        for _ in range(100):
            link.alive()
        assert os.read(read, 4096) == b"\n"
        link.every = 0  # the interval has passed
        link.alive()
        assert os.read(read, 4096) == b"\n"
    finally:
        os.close(read)
        os.close(write)


def test_a_landed_worktree_that_cannot_be_removed_does_not_strand_the_next_task(fast_project: Path, run_br: Any, tmp_path: Path) -> None:
    """The next task is claimed together with a result; removing the landed worktree comes after. When that fails, the
    claimed task still runs (it was left `running` on a live worker: the session never ended), and the log says why."""
    make_repo(fast_project)
    lock = fast_project / ".buildrunner" / "worktrees" / ".lock"
    plan = write_plan(fast_project, {"tasks": [
        # Its verify puts a folder where the worktrees' lock file is: removing this worktree then fails.
        {"id": "a", "isolation": "worktree", "command": "echo a > a.txt", "verify": f"rm -f {lock} && mkdir {lock}"},
        {"id": "b", "command": f"echo b >> {tmp_path}/ran.txt"},
    ]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    final = finished(project, sid, timeout=30)
    assert (final.status, final.completed_tasks) == ("completed", 2)
    assert (tmp_path / "ran.txt").read_text() == "b\n"
    logs = json.loads(run_br("parallel", "logs", sid, "a", "--format", "json").stdout)
    assert "could not be removed" in next(entry["output"] for entry in logs if entry["step"] is None)
    project.close()


def test_viewing_commands_with_no_session_yet_exit_0_with_an_empty_answer_of_their_shape(fast_project: Path, run_br: Any) -> None:
    """A list stays a list (`[]`), one status is `null`: `jq '.[]'` on workers must not fail before the first session."""
    answers = {command: run_br("parallel", command, "--format", "json") for command in ("list", "workers", "status")}
    assert {command: (r.returncode, json.loads(r.stdout)) for command, r in answers.items()} == {"list": (0, []), "workers": (0, []), "status": (0, None)}
    ambiguous = run_br("parallel", "status", "session-")
    assert ambiguous.returncode == 6  # no session at all: nothing starts so, which is "not found"


def test_start_watch_off_a_terminal_prints_progress_and_exits_like_wait_once_the_session_ends(fast_project: Path, run_br: Any) -> None:
    """`--watch` in CI (no terminal) prints a progress line per refresh; a session watched to its end that failed is exit 1."""
    failing = write_plan(fast_project, {"tasks": [{"id": "ok", "command": "true"}, {"id": "bad", "command": "exit 3"}]}, "failing.yaml")
    result = run_br("parallel", "start", "watched", "--config", str(failing), "--watch")
    assert result.returncode == 1, result.stderr
    assert "failed 1" in result.stderr and "error: session" in result.stderr and "1 failed" in result.stderr
    passing = write_plan(fast_project, {"tasks": [{"id": "ok", "command": "true"}]}, "passing.yaml")
    assert run_br("parallel", "start", "watched-ok", "--config", str(passing), "--watch").returncode == 0


def test_logs_of_a_skipped_task_say_it_never_ran_and_follow_does_not_wait_for_ever(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"tasks": [{"id": "bad", "command": "exit 3"}, {"id": "after", "command": "true", "depends_on": ["bad"]}]})
    result = run_br("parallel", "start", "skips", "--config", str(plan), "--wait")
    assert result.returncode == 1
    text = run_br("parallel", "logs", "skips", "after")
    assert text.returncode == 0 and "task after was skipped (dependency 'bad' failed): it never ran" in text.stderr
    assert json.loads(run_br("parallel", "logs", "skips", "after", "--format", "json").stdout) == []
    follow = run_br("parallel", "logs", "skips", "after", "--follow")  # returns: the task will never run
    assert follow.returncode == 1 and "skipped, it never ran" in follow.stderr
    failed = run_br("parallel", "logs", "skips", "bad", "--follow")  # a task followed to its end says how it ended
    assert failed.returncode == 1 and "error: task bad failed after attempt" in failed.stderr and "exit code 3" in failed.stderr
    missing = run_br("parallel", "logs", "skips", "nosuch")
    assert missing.returncode == 6 and "task nosuch: not in session" in missing.stderr


def test_logs_follow_says_how_each_attempt_ended_and_exits_1_when_the_task_failed(fast_project: Path, run_br: Any) -> None:
    plan = write_plan(fast_project, {"retries": 1, "tasks": [{"id": "bad", "command": "until [ -e go ]; do sleep 0.05; done; echo tried; exit 4"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    follow = subprocess.Popen([sys.executable, "-m", "buildrunner", "parallel", "logs", sid, "bad", "--follow"], cwd=fast_project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert follow.stdout is not None
    first = follow.stdout.readline()  # following attempt 1 before it can end
    (fast_project / "go").touch()
    out, err = follow.communicate(timeout=120)
    assert follow.returncode == 1
    assert first.startswith("=== bad attempt 1") and out.count("tried") == 2 and "=== bad attempt 2" in out
    assert "--- bad attempt 1 failed; attempt 2 follows" in err and "error: task bad failed after attempt 2 (failed): exit code 4" in err


def test_a_second_live_worker_may_not_take_a_name_one_already_has(fast_project: Path, run_br: Any) -> None:
    """Two `worker-1`s in `br parallel workers` could not be told apart (nor stopped one by one)."""
    plan = write_plan(fast_project, {"tasks": [{"id": "long", "command": "until [ -e go ]; do sleep 0.05; done"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM workers WHERE session_id = ? AND status = 'active'", (sid,)), 30, "the worker")
    twin = run_br("parallel", "worker", sid, "--name", "worker-1")
    assert twin.returncode == 2 and "worker name 'worker-1': a live worker of session" in twin.stderr
    (fast_project / "go").touch()
    assert finished(project, sid).status == "completed"
    late = run_br("parallel", "worker", sid, "--name", "late")
    assert late.returncode == 0 and late.stderr.strip() == f"no worker ran: session {sid} is completed; nothing to do"
    project.close()


@pytest.mark.postgres
def test_tasks_do_not_inherit_the_stores_url_unless_their_env_names_it(pproject: Project, run_br: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL is a credential: an agent that prints its environment would send it to its model provider."""
    if not os.environ.get("BR_DATABASE_URL"):
        monkeypatch.setenv("BR_DATABASE_URL", str(pproject.paths.root / ".buildrunner" / "buildrunner.db"))
    root = pproject.paths.root
    plan = write_plan(root, {"tasks": [
        {"id": "plain", "command": f"echo \"[${{BR_DATABASE_URL:-unset}}]\" > {root}/plain.txt"},
        {"id": "named", "command": f"echo \"[$BR_DATABASE_URL]\" > {root}/named.txt", "env": {"BR_DATABASE_URL": "given-by-the-plan"}},
    ]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    assert finished(pproject, sid).status == "completed"  # the workers themselves reached the store through it
    assert (root / "plain.txt").read_text() == "[unset]\n" and (root / "named.txt").read_text() == "[given-by-the-plan]\n"


def test_wait_off_a_terminal_prints_a_start_and_an_end_line_for_every_task_even_one_faster_than_a_look(fast_project: Path, run_br: Any) -> None:
    """Six `true` tasks start and end between two looks of `--wait`: each still gets its `started` line, before its end."""
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "true"} for i in range(6)]})
    result = run_br("parallel", "start", "quick", "--config", str(plan), "--workers", "3", "--wait")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for i in range(6):
        started = [n for n, line in enumerate(lines) if f" t{i} started (" in line]
        ended = [n for n, line in enumerate(lines) if f" t{i} completed (" in line]
        assert len(started) == 1 and len(ended) == 1 and started[0] < ended[0], result.stderr


def test_a_tasks_path_is_the_users_own_first_with_br_still_reachable(fast_project: Path, run_br: Any, tmp_path: Path) -> None:
    """The project's `python` (a venv first on the user's PATH) runs, not BuildRunner's; `br` is found without being
    on the user's PATH (a pipx install run by its full path)."""
    own_bin = tmp_path / "project-bin"
    own_bin.mkdir()
    (own_bin / "python").write_text("#!/bin/sh\necho project-python\n")
    (own_bin / "python").chmod(0o755)
    plan = write_plan(fast_project, {"tasks": [
        {"id": "py", "command": f"python > {fast_project}/py.txt"},
        {"id": "br", "command": f"br --version > {fast_project}/br.txt"},
    ]})
    user_path = f"{own_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"  # neither this venv nor any other br on it
    result = run_br("parallel", "start", "paths", "--config", str(plan), "--wait", env={"PATH": user_path})
    assert result.returncode == 0, result.stderr
    assert (fast_project / "py.txt").read_text() == "project-python\n" and (fast_project / "br.txt").read_text().strip()


def test_workers_report_the_cpu_and_memory_their_tasks_used(fast_project: Path, run_br: Any) -> None:
    """A task burning CPU and holding 150 MB: `workers` and `telemetry performance` showed the worker's own 0.01 s and
    40 MB (a session shorter than a heartbeat never sent its tasks' use, and no task's memory was read)."""
    burn = "import time; x = bytearray(150 * 2**20); x[::4096] = b'1' * len(x[::4096]); t = time.process_time()\nwhile time.process_time() - t < 0.6: pass"
    (fast_project / "burn.py").write_text(burn + "\n")
    plan = write_plan(fast_project, {"tasks": [{"id": "burn", "command": f"{sys.executable} burn.py"}]})
    assert run_br("parallel", "start", "burn", "--config", str(plan), "--workers", "1", "--wait").returncode == 0
    [worker] = json.loads(run_br("parallel", "workers", "burn", "--format", "json").stdout)
    assert worker["cpu_seconds"] >= 0.5 and worker["peak_rss_bytes"] >= 150 * 2**20
    performance = json.loads(run_br("telemetry", "performance", "--format", "json").stdout)
    assert performance["cpu_seconds"] >= 0.5 and performance["peak_memory_bytes"] >= 150 * 2**20


def test_a_checked_task_that_ended_leaves_no_snapshot_behind(fast_project: Path, run_br: Any) -> None:
    """A checked task without a worktree keeps a snapshot of the tree for an attempt that may adopt its work; once the
    task ended for good it is removed (each is megabytes in a big tree; they piled up until cleanup)."""
    (fast_project / "data").mkdir()
    for n in range(50):
        (fast_project / "data" / f"f{n}.txt").write_text(str(n))
    plan = write_plan(fast_project, {"tasks": [
        {"id": "ok", "command": "echo changed > data/f1.txt", "verify": "grep -q changed data/f1.txt"},
        {"id": "bad", "command": "true", "verify": "false", "retries": 1},
    ]})
    assert run_br("parallel", "start", "snap", "--config", str(plan), "--wait").returncode == 1
    logs = fast_project / ".buildrunner" / "logs"
    assert list(logs.rglob("*.log")) and not list(logs.rglob("*.before.json"))


def test_a_worker_outside_a_checkout_of_the_sessions_repository_is_refused(fast_project: Path, run_br: Any, tmp_path: Path) -> None:
    """Started from another folder sharing the store (machine B's home folder), a worker ran every task there and
    called them done; now it is exit 2 naming the folder and the commit it lacks, and nothing ran."""
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "base"], cwd=fast_project, check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=elsewhere, check=True)
    plan = write_plan(fast_project, {"tasks": [{"id": "t", "command": "touch ran.txt"}]})
    session = SessionManager(Project(fast_project)).create_session("remote", config=plan, start_workers=False)
    store = {"BR_DATABASE_URL": str(fast_project / ".buildrunner" / "buildrunner.db")}
    refused = run_br("parallel", "worker", session.session_id, "-C", str(elsewhere), env=store)
    assert refused.returncode == 2 and "is not a checkout of session" in refused.stderr and str(elsewhere) in refused.stderr
    assert not (elsewhere / "ran.txt").exists() and not (fast_project / "ran.txt").exists()
    ran = run_br("parallel", "worker", session.session_id, "-C", str(fast_project), env=store)
    assert ran.returncode == 0 and (fast_project / "ran.txt").exists()


def test_a_worker_for_a_session_this_database_lacks_names_the_shared_database(fast_project: Path, run_br: Any) -> None:
    """On a second machine without BR_DATABASE_URL the worker reads its own SQLite file: "not found" alone left the
    user guessing."""
    missing = run_br("parallel", "worker", "session-0123abcd", env={"BR_DATABASE_URL": None})
    assert missing.returncode == 6 and "set BR_DATABASE_URL" in missing.stderr


def test_status_says_when_a_retry_backing_off_may_start(fast_project: Path, run_br: Any) -> None:
    """"1 waiting" said nothing of a failed task waiting out its back-off."""
    write_config(fast_project, retry_backoff=600, retry_backoff_max=600)
    plan = write_plan(fast_project, {"retries": 1, "tasks": [{"id": "flaky", "command": "exit 1"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: project.store.scalar("SELECT status FROM task_attempts WHERE task_id = 'flaky' AND attempt = 1") == "failed", 30, "the first attempt to fail")
    data = json.loads(run_br("parallel", "status", sid, "--format", "json").stdout)
    assert data["next_retry_at"] == pytest.approx(time.time() + 600, abs=60)
    assert re.search(r"Tasks: 1 waiting, next retry in (5\d\d|600)s", run_br("parallel", "status", sid).stdout)
    run_br("parallel", "stop", sid)


def test_a_paused_session_keeps_its_workers_and_resume_goes_on_with_them(fast_project: Path, run_br: Any) -> None:
    """Pause sent every worker away, remote ones too, and resume could start new ones only on its own machine."""
    project = Project(fast_project)
    plan = write_plan(fast_project, {"tasks": [{"id": f"t{i}", "command": "until [ -e go ]; do sleep 0.05; done"} for i in range(3)]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    worker = wait_for(lambda: project.store.fetchone("SELECT id, pid FROM workers WHERE session_id = ? AND current_task IS NOT NULL", (sid,)), 30, "a busy worker")
    assert run_br("parallel", "pause", sid).returncode == 0
    (fast_project / "go").touch()
    wait_for(lambda: project.store.scalar("SELECT COUNT(*) FROM tasks WHERE session_id = ? AND status = 'completed'", (sid,)) == 1, 30, "the running task to finish")
    idle = wait_for(lambda: project.store.fetchone("SELECT status, current_task FROM workers WHERE id = ? AND current_task IS NULL", (worker["id"],)), 30, "the worker idle")
    assert idle["status"] in ("active", "idle") and psutil.pid_exists(worker["pid"])  # still there, and claims nothing
    assert project.store.scalar("SELECT COUNT(*) FROM tasks WHERE session_id = ? AND status = 'pending'", (sid,)) == 2
    resumed = run_br("parallel", "resume", sid)
    assert resumed.returncode == 0, resumed.stderr
    final = finished(project, sid)
    assert (final.status, final.completed_tasks) == ("completed", 3)
    done_by = project.store.fetchall("SELECT DISTINCT worker_id FROM task_attempts WHERE session_id = ? AND status = 'completed'", (sid,))
    lost = project.store.scalar("SELECT status FROM workers WHERE id = ?", (worker["id"],)) == "lost"  # only on a machine too loaded to beat
    assert lost or [r["worker_id"] for r in done_by] == [worker["id"]]  # the worker that waited through the pause went on


def test_a_log_that_cannot_be_written_never_leaves_the_task_running_unwatched_nor_runs_it_twice(fast_project: Path, run_br: Any) -> None:
    """The session's log folder removed (or a full disk) before a task's first output: the log write raised, the attempt
    was recorded failed and retried while the first copy ran on unwatched, so its work happened twice."""
    gate = fast_project / "go"
    task = {"id": "a", "command": f"touch started; until [ -e {gate} ]; do sleep 0.02; done; echo hello; echo \"a $BR_TASK_ATTEMPT\" >> eff", "retries": 1}
    sid = start(run_br, write_plan(fast_project, {"tasks": [task]}), "--workers", "1")["session_id"]
    project = Project(fast_project)
    wait_for(lambda: (fast_project / "started").exists(), 30, "the task to start")
    shutil.rmtree(fast_project / ".buildrunner" / "logs" / sid)
    gate.touch()
    done = finished(project, sid)
    assert (fast_project / "eff").read_text().split("\n")[:-1] == ["a 1"]  # once, by its only attempt
    assert [(r["attempt"], r["status"]) for r in attempts(project, sid)] == [(1, "completed")]
    assert "output not fully logged" in (attempts(project, sid)[0]["error"] or "") and done.status == "completed"
    project.close()


def test_a_task_whose_worker_process_crashes_mid_run_finishes_once_and_keeps_its_result(fast_project: Path, run_br: Any) -> None:
    """An OOM kill or a crash of the worker's process in the middle of a task: its supervisor ended the task after half
    a second and it ran again from the start (a deploy run twice). The task is now given time to finish by itself."""
    write_config(fast_project, heartbeat_timeout=20)  # a finishing window of 10 s: far longer than the task's last second
    root, project = fast_project, Project(fast_project)
    task = {"id": "deploy", "command": f"touch started; until [ -e {root}/go ]; do sleep 0.02; done; sleep 1; echo $BR_TASK_ATTEMPT >> {root}/eff"}
    sid = start(run_br, write_plan(root, {"tasks": [task]}), "--workers", "1")["session_id"]
    wait_for(lambda: (root / "started").exists(), 30, "the task to start")
    runner = project.store.fetchone("SELECT pid FROM workers WHERE session_id = ?", (sid,))["pid"]
    (root / "go").touch()
    os.kill(runner, signal.SIGKILL)  # during the task's last second
    final = finished(project, sid)
    assert (root / "eff").read_text().split() == ["1"]
    assert [(r["attempt"], r["status"]) for r in attempts(project, sid)] == [(1, "completed")] and final.status == "completed"


def test_a_session_stopped_while_its_worker_is_frozen_stops_saying_a_task_is_running(fast_project: Path, run_br: Any) -> None:
    """`stop` with a worker frozen (SIGSTOP, a stalled VM): the stopped session said "1 running" for ever, since no
    worker was left to settle the attempt; a script waiting for running_tasks == 0 waited for ever."""
    write_config(fast_project, heartbeat_timeout=3)
    root, project = fast_project, Project(fast_project)
    sid = start(run_br, write_plan(root, {"tasks": [{"id": "long", "command": "touch started; sleep 120"}]}), "--workers", "1")["session_id"]
    wait_for(lambda: (root / "started").exists(), 30, "the task to start")
    runner = project.store.fetchone("SELECT pid FROM workers WHERE session_id = ?", (sid,))["pid"]
    os.kill(runner, signal.SIGSTOP)
    try:
        assert run_br("parallel", "stop", sid).returncode == 0
        settled = wait_for(lambda: (s := status(project, sid)).running_tasks == 0 and s, 60, "the frozen worker's task to be settled")
        assert settled.status == "stopped" and settled.cancelled_tasks == 1
    finally:
        with contextlib.suppress(ProcessLookupError):  # its supervisor ended it for its silence
            os.kill(runner, signal.SIGCONT)
    project.close()


def test_wait_lines_say_when_a_failed_attempt_will_run_again(fast_project: Path, run_br: Any) -> None:
    """"flaky failed (worker-1): exit code 1" read as the task's end; the retry that followed was a surprise."""
    flaky = {"id": "flaky", "command": "test -e tried || { touch tried; exit 1; }", "retries": 1}
    broken = {"id": "broken", "command": "exit 3", "retries": 0}
    plan = write_plan(fast_project, {"tasks": [flaky, broken]})
    waited = run_br("parallel", "start", "again", "--config", str(plan), "--workers", "1", "--wait")
    lines = [line for line in waited.stderr.splitlines() if " failed (" in line]
    assert any(line.split()[1] == "flaky" and line.endswith("- it will run again") for line in lines), waited.stderr
    assert any(line.split()[1] == "broken" and not line.endswith("- it will run again") for line in lines), waited.stderr


def test_progress_lines_tell_each_end_once_and_the_last_look_tells_one_whose_row_came_late(pproject: Project, run_br: Any) -> None:
    """A worker stamps an attempt's end before its finish commits, so under load the row can become visible after a
    later change was seen, behind the time `--wait` looks from: it printed no end line for it. The race cannot be
    timed in a test; its effect is: a look from after the late end, then the last look `wait` makes from its own start."""
    from buildrunner.parallel.session_manager import _Told

    plan = write_plan(pproject.paths.root, {"tasks": [{"id": "t0", "command": "true"}, {"id": "t1", "command": "true"}]})
    sid = start(run_br, plan, "--workers", "1")["session_id"]
    finished(pproject, sid)
    manager = SessionManager(pproject)
    ends = {r["task_id"]: r["finished_at"] for r in pproject.store.fetchall("SELECT task_id, finished_at FROM task_attempts WHERE session_id = ?", (sid,))}
    late, seen_first = sorted(ends, key=ends.get)  # the earlier end is the one whose row came late
    heard: list[str] = []

    def hear(changes: list[Any]) -> None:
        heard.extend(f"{c.task_id} {c.action.lower()}" for c in changes)

    told = _Told()
    since = manager._report_changes(sid, ends[late], hear, told)  # the look that saw only the later end
    assert heard == [f"{seen_first} started", f"{seen_first} completed"] and since == ends[seen_first]
    manager._report_changes(sid, 0.0, hear, told)  # the last look, from the wait's start
    assert heard[2:] == [f"{late} started", f"{late} completed"]
    manager._report_changes(sid, 0.0, hear, told)
    assert len(heard) == 4  # each start and end once
