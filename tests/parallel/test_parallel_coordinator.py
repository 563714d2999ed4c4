"""Session and task state on both engines: atomic claims, exactly-once results, retries, dependencies, control."""

from __future__ import annotations

import os
import re
import threading
from importlib.resources import files
from pathlib import Path

import pytest
from parallel_helpers import wait_for, write_config

from buildrunner.errors import ConfigError, NotFoundError, ParallelError
from buildrunner.parallel.models import NO_ISOLATION, WORKTREE
from buildrunner.parallel.plan import validate_plan
from buildrunner.parallel.reaper import reap
from buildrunner.parallel.session_manager import SessionManager
from buildrunner.parallel.states import AttemptState, SessionState, TaskState, WorkerState
from buildrunner.parallel.worker_coordinator import WorkerCoordinator
from buildrunner.project import Project
from buildrunner.store import open_store


def plan(*tasks: dict[str, object], **defaults: object):  # type: ignore[no-untyped-def]
    return validate_plan({**defaults, "tasks": list(tasks)}, "test-plan")


def test_concurrent_claims_never_hand_out_a_task_twice(pproject: Project) -> None:
    manager = SessionManager(pproject)
    session = manager.create_session("race", plan=plan(*({"id": f"t{i}", "command": "true"} for i in range(60))), start_workers=False)
    claimed: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(4)

    def claim_all() -> None:
        # Each thread is its own "process": its own connection to the same database.
        own = Project(pproject.paths.root, config=pproject.config, store=open_store(url=_url(pproject)))
        coordinator = WorkerCoordinator(session.session_id, own)
        worker = coordinator.register_worker()
        ready.wait()
        while (task := coordinator.get_next_task(worker)) is not None:
            with lock:
                claimed.append(task.task_id)
            if not coordinator.complete_task(worker, task.task_id, task.attempt):
                refused.append(task.task_id)
        own.store.close()

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refused == []
    assert sorted(claimed) == sorted(f"t{i}" for i in range(60))
    status = manager.get_session_status(session.session_id)
    assert (status.status, status.completed_tasks) == ("completed", 60)


def _url(project: Project) -> str:
    import os

    return os.environ.get("BR_DATABASE_URL") or str(project.paths.database_file)


def test_a_lost_workers_late_result_cannot_complete_the_requeued_task(pproject: Project) -> None:
    manager = SessionManager(pproject)
    session = manager.create_session("lost", plan=plan({"id": "only", "command": "true"}), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    slow = coordinator.register_worker("slow")
    task = coordinator.get_next_task(slow)
    assert task is not None and task.attempt == 1
    # The slow worker falls silent beyond the heartbeat timeout and is declared lost.
    pproject.store.execute("UPDATE workers SET last_heartbeat = last_heartbeat - 100 WHERE id = ?", (slow,))
    assert reap(coordinator) == [slow]
    assert coordinator.get_next_task(slow) is None  # a lost worker claims nothing more
    fresh = coordinator.register_worker("fresh")
    again = coordinator.get_next_task(fresh)
    assert again is not None and again.attempt == 2
    assert coordinator.complete_task(slow, "only", 1) is False  # the late result is discarded
    assert coordinator.fail_task(slow, "only", 1, "late failure") == "stale"
    assert coordinator.complete_task(fresh, "only", 2) is True
    assert coordinator.complete_task(fresh, "only", 2) is False  # and never twice
    attempts = pproject.store.fetchall("SELECT attempt, status FROM task_attempts ORDER BY attempt")
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "lost"), (2, "completed")]
    assert coordinator.get_worker_health(slow).status == "offline"
    events = [r["type"] for r in pproject.store.fetchall("SELECT type FROM events WHERE session_id = ? ORDER BY id", (session.session_id,))]
    assert "worker_lost" in events and "task_retry" in events and events[-1] == "session_completed"


def test_failures_retry_with_backoff_then_fail_and_skip_dependents(pproject: Project) -> None:
    write_config(pproject.paths.root, retry_backoff=3)  # long enough that "not claimable at once" holds on a loaded machine
    pproject = Project(pproject.paths.root, store=pproject.store)
    manager = SessionManager(pproject)
    session = manager.create_session(
        "retry",
        plan=plan(
            {"id": "flaky", "command": "false", "retries": 1},
            {"id": "child", "command": "true", "depends_on": ["flaky"]},
            {"id": "grandchild", "command": "true", "depends_on": ["child"]},
            {"id": "free", "command": "true"},
        ),start_workers=False
    )
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    first = coordinator.get_next_task(worker)
    assert first is not None and first.task_id == "flaky"
    assert coordinator.fail_task(worker, "flaky", 1, "exit code 1", exit_code=1) == "retry"
    # Backoff: the retry is not claimable at once; the independent task is.
    nxt = coordinator.get_next_task(worker)
    assert nxt is not None and nxt.task_id == "free"
    coordinator.complete_task(worker, "free", 1)
    assert coordinator.get_next_task(worker) is None
    retry = wait_for(lambda: coordinator.get_next_task(worker), 30, "the retry to become due")
    assert retry is not None and (retry.task_id, retry.attempt) == ("flaky", 2)
    assert coordinator.fail_task(worker, "flaky", 2, "exit code 1", exit_code=1) == "failed"
    status = manager.get_session_status(session.session_id)
    assert status.status == "failed"
    tasks = {t.task_id: t for t in manager.list_tasks(session.session_id)}
    assert tasks["child"].status == "skipped" and tasks["child"].error == "dependency 'flaky' failed"
    assert tasks["grandchild"].status == "skipped" and tasks["grandchild"].error == "dependency 'flaky' failed (upstream)"
    assert tasks["free"].status == "completed"


def test_dependencies_wait_for_completion(pproject: Project) -> None:
    manager = SessionManager(pproject)
    session = manager.create_session("deps", plan=plan({"id": "b", "command": "true", "depends_on": ["a"]}, {"id": "a", "command": "true"}), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    first = coordinator.get_next_task(worker)
    assert first is not None and first.task_id == "a"
    assert coordinator.get_next_task(worker) is None
    coordinator.complete_task(worker, "a", 1)
    second = coordinator.get_next_task(worker)
    assert second is not None and second.task_id == "b"


def test_pause_stops_claims_resume_allows_them_stop_cancels(pproject: Project) -> None:
    manager = SessionManager(pproject)
    session = manager.create_session("ctl", plan=plan({"id": "a", "command": "true"}, {"id": "b", "command": "true"}), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    manager.pause_session(session.session_id)
    assert coordinator.get_next_task(worker) is None
    manager.resume_session(session.session_id, restart_workers=False)
    assert coordinator.get_next_task(worker) is not None
    stopped = manager.stop_session(session.session_id)
    assert stopped.status == "stopped" and stopped.cancelled_tasks == 1 and stopped.running_tasks == 1
    assert coordinator.control(worker)[1:] == ("stopped", pproject.config.parallel.kill_grace)
    with pytest.raises(ParallelError):
        manager.resume_session(session.session_id)
    with pytest.raises(ParallelError, match="cannot join"):
        coordinator.register_worker()
    types = {r["type"] for r in pproject.store.fetchall("SELECT type FROM events WHERE session_id = ?", (session.session_id,))}
    assert {"session_started", "session_paused", "session_resumed", "session_stopped", "task_started"} <= types


def test_list_resolve_and_cleanup(pproject: Project) -> None:
    manager = SessionManager(pproject)
    done = manager.create_session("old", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    live = manager.create_session("live", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    manager.stop_session(done.session_id)
    assert manager.resolve(done.session_id[:12]) == done.session_id
    assert manager.resolve(None) == live.session_id
    assert manager.resolve("old") == done.session_id  # a name stands for its session, as the branches br/<name>/... say
    again = manager.create_session("old", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    assert manager.resolve("old") == again.session_id  # the running one of that name before an older one
    manager.stop_session(again.session_id)
    with pytest.raises(NotFoundError, match="not found"):
        manager.resolve("never-started")
    with pytest.raises(ConfigError, match="more than one session id starts with it") as ambiguous:
        manager.resolve("session-")  # every id starts so: the user is told to give more, not that nothing matched
    assert ambiguous.value.exit_code == 2  # a usage error (give more of the id), not "not found" (6)
    named_like_a_prefix = manager.create_session("sess", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    assert manager.resolve("sess") == named_like_a_prefix.session_id  # its name, not the ids that start with "sess"
    manager.stop_session(named_like_a_prefix.session_id)
    assert {s.session_id for s in manager.list_sessions("stopped")} == {done.session_id, again.session_id, named_like_a_prefix.session_id}
    log_dir = pproject.paths.logs_dir / done.session_id
    log_dir.mkdir(parents=True)
    assert manager.cleanup(days=7) == []
    assert sorted(manager.cleanup(all_sessions=True)) == sorted([done.session_id, again.session_id, named_like_a_prefix.session_id])
    assert not log_dir.exists()
    assert [s.session_id for s in manager.list_sessions()] == [live.session_id]
    with pytest.raises(NotFoundError):
        manager.get_session_status(done.session_id)


def test_a_second_live_session_of_one_name_is_refused(pproject: Project) -> None:
    """`stop NAME` reaches one session and both would commit to br/NAME/<task>: the second start is refused."""
    manager = SessionManager(pproject)
    first = manager.create_session("twin", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    for state in ("running", "paused"):
        with pytest.raises(ConfigError, match=f"session name 'twin': session {first.session_id} of that name is {state}"):
            manager.create_session("twin", plan=plan({"id": "a", "command": "true"}), start_workers=False)
        assert [s.session_id for s in manager.list_sessions()] == [first.session_id]  # nothing half-stored
        manager.pause_session(first.session_id)
    manager.stop_session(first.session_id)
    again = manager.create_session("twin", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    assert manager.resolve("twin") == again.session_id
    # "rel 1" and "rel-1" differ, but both commit to br/rel-1/<task>: one would overwrite the other's branches.
    rel = manager.create_session("rel 1", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    with pytest.raises(ConfigError, match=rf"session name 'rel-1': session {rel.session_id} \('rel 1', running\) would share its branches \(br/rel-1/<task>\)"):
        manager.create_session("rel-1", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    assert manager.create_session("rel-2", plan=plan({"id": "a", "command": "true"}), start_workers=False).name == "rel-2"


def test_no_plan_is_a_config_error(fast_project: Path) -> None:
    with pytest.raises(ConfigError, match="no plan"):
        SessionManager(Project(fast_project)).create_session("x", 3)


def test_stopping_a_session_ends_a_task_waiting_for_its_retry_as_failed(pproject: Project) -> None:
    """Telemetry must not keep such a task 'unfinished' forever: its failed attempt was its last."""
    from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer

    manager = SessionManager(pproject)
    session = manager.create_session("stop", plan=plan({"id": "flaky", "command": "false", "retries": 2}, {"id": "ok", "command": "true"}), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    first = coordinator.get_next_task(worker)
    assert first is not None and first.task_id == "flaky"
    assert coordinator.fail_task(worker, "flaky", first.attempt, "exit code 1") == "retry"
    second = coordinator.get_next_task(worker)
    assert second is not None and coordinator.complete_task(worker, second.task_id, second.attempt)
    before = MetricsAnalyzer(pproject).analyze(1)
    assert (before.finished_tasks, before.succeeded_tasks) == (1, 1)  # flaky waits for its retry
    manager.stop_session(session.session_id)
    after = MetricsAnalyzer(pproject).analyze(1)
    assert (after.finished_tasks, after.succeeded_tasks, after.failed_tasks) == (2, 1, 1)
    stopped = pproject.store.fetchone("SELECT status FROM tasks WHERE session_id = ? AND task_id = 'flaky'", (session.session_id,))
    assert stopped is not None and stopped["status"] == "cancelled"


def test_by_default_no_more_workers_than_tasks(pproject: Project) -> None:
    manager = SessionManager(pproject)
    one = manager.create_session("one", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    assert one.num_workers == 1  # the default is 3: two would start only to find nothing to do
    asked = manager.create_session("asked", 3, 3, plan=plan({"id": "a", "command": "true"}), start_workers=False)
    assert asked.num_workers == 3  # a count the user gives is kept
    many = manager.create_session("many", plan=plan(*({"id": f"t{i}", "command": "true"} for i in range(5))), start_workers=False)
    assert many.num_workers == pproject.config.parallel.default_workers
    planned = manager.create_session("planned", plan=plan({"id": "a", "command": "true"}, workers=4), start_workers=False)
    assert planned.num_workers == 4  # the plan's own count is the user's too


def test_starts_of_one_name_at_the_same_moment_leave_one_live_session(pproject: Project) -> None:
    """Machines sharing a database start "nightly" at once: one session runs, the others are refused."""
    ready = threading.Barrier(4)
    started: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def start() -> None:
        own = Project(pproject.paths.root, config=pproject.config, store=open_store(url=_url(pproject)))
        ready.wait()
        try:
            session = SessionManager(own).create_session("nightly", plan=plan({"id": "a", "command": "true"}), start_workers=False)
            with lock:
                started.append(session.session_id)
        except ConfigError as exc:
            with lock:
                refused.append(str(exc))
        finally:
            own.store.close()

    for _ in range(3):
        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        live = pproject.store.fetchall("SELECT id FROM sessions WHERE name = 'nightly' AND status IN ('running', 'paused')")
        assert len(live) == 1 and len(started) == 1 and len(refused) == 3, (started, refused)
        SessionManager(pproject).stop_session(started.pop())
        refused.clear()
        ready.reset()


def test_a_running_tasks_cost_is_what_its_attempt_has_spent_so_far_as_the_session_says(pproject: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("PATH", f"{Path(__file__).resolve().parents[1] / 'agents' / 'standins'}{os.pathsep}{os.environ['PATH']}")
    manager = SessionManager(pproject)
    session = manager.create_session("live", plan=plan({"id": "agent", "prompt": "Add a flag", "agent": "claude"}), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    task = coordinator.get_next_task(worker)
    assert task is not None
    coordinator.progress("agent", task.attempt, agent="claude", tier="sonnet", model="claude-sonnet-4-5", turns=3, last_action="Edit", cost=0.0562)
    with manager.snapshot():
        status = manager.get_session_status(session.session_id)
        [record] = manager.list_tasks(session.session_id)
    assert status.cost == pytest.approx(0.0562) and status.agents[0].cost == pytest.approx(0.0562)
    assert record.status == "running" and record.cost == pytest.approx(sum(r.cost for r in record.ladder)) == pytest.approx(0.0562)


def _run_until_idle(coordinator: WorkerCoordinator, worker: str, fails: set[str]) -> list[tuple[str, str]]:
    """Claim and finish tasks until none is left to run: (task, outcome) in order; `fails` fail. A retry waits out its backoff."""
    done = []
    while coordinator.unfinished_count():
        task = wait_for(lambda: coordinator.get_next_task(worker), 30, "a task to claim")
        if task.task_id in fails:
            done.append((task.task_id, coordinator.finish_attempt(worker, task.task_id, task.attempt, AttemptState.FAILED, error="boom", exit_code=1)))
        else:
            coordinator.complete_task(worker, task.task_id, task.attempt)
            done.append((task.task_id, "completed"))
    return done


def test_retry_failed_runs_the_failed_task_with_its_retries_anew_and_then_what_was_skipped_for_it(pproject: Project) -> None:
    manager = SessionManager(pproject)
    chain = plan({"id": "a", "command": "true"}, {"id": "b", "command": "true", "depends_on": ["a"]},
                 {"id": "c", "command": "true", "depends_on": ["b"]}, {"id": "free", "command": "true"}, retries=1)
    session = manager.create_session("again", plan=chain, start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    first, *rest = _run_until_idle(coordinator, worker, fails={"a"})
    assert first == ("a", "retry") and sorted(rest) == [("a", "failed"), ("free", "completed")]  # "a" again once its back-off passed
    before = manager.get_session_status(session.session_id)
    assert (before.status, before.failed_tasks, before.skipped_tasks) == ("failed", 1, 2)
    with pytest.raises(ParallelError, match="--retry-failed"):
        manager.resume_session(session.session_id, restart_workers=False)

    retried = manager.retry_failed(session.session_id)
    assert (retried.tasks, sorted(retried.dependents)) == (("a",), ["b", "c"])
    assert manager.get_session_status(session.session_id).status == "running"
    # One failure after the retry is retried again (retries: 1 counts anew), the second is final.
    assert _run_until_idle(coordinator, worker, fails={"a"}) == [("a", "retry"), ("a", "failed")]
    assert manager.get_session_status(session.session_id).status == "failed"
    manager.retry_failed(session.session_id)
    assert _run_until_idle(coordinator, worker, fails=set()) == [("a", "completed"), ("b", "completed"), ("c", "completed")]
    after = manager.get_session_status(session.session_id)
    assert (after.status, after.completed_tasks, after.finished) == ("completed", 4, True)
    rows = pproject.store.fetchall("SELECT task_id, attempts FROM tasks WHERE session_id = ? ORDER BY task_id", (session.session_id,))
    assert [(r["task_id"], r["attempts"]) for r in rows] == [("a", 5), ("b", 1), ("c", 1), ("free", 1)]  # "free" never ran again
    with pytest.raises(ParallelError, match="completed: no failed task"):
        manager.retry_failed(session.session_id)
    retries = pproject.store.fetchall("SELECT message FROM events WHERE session_id = ? AND type = 'task_retry'", (session.session_id,))
    assert sum(r["message"] == "retried by hand" for r in retries) == 2


def test_retry_failed_runs_what_a_stop_cancelled_and_refuses_a_name_taken_since(pproject: Project) -> None:
    """GNU parallel's --resume: a stopped session goes on with what it had not finished, and what completed stays done."""
    manager = SessionManager(pproject)
    chain = plan({"id": "a", "command": "true"}, {"id": "b", "command": "true"}, {"id": "c", "command": "true", "depends_on": ["b"]})
    stopped = manager.create_session("halted", plan=chain, start_workers=False)
    coordinator = WorkerCoordinator(stopped.session_id, pproject)
    worker = coordinator.register_worker()
    first = coordinator.get_next_task(worker)
    assert first is not None and first.task_id == "a"
    coordinator.complete_task(worker, "a", first.attempt)
    manager.stop_session(stopped.session_id)  # b (waiting) and c (blocked on b) are cancelled
    with pytest.raises(ParallelError, match="--retry-failed"):
        manager.resume_session(stopped.session_id)
    retried = manager.retry_failed(stopped.session_id)
    assert (retried.tasks, sorted(retried.cancelled)) == ((), ["b", "c"])
    assert _run_until_idle(coordinator, coordinator.register_worker(), fails=set()) == [("b", "completed"), ("c", "completed")]
    assert manager.get_session_status(stopped.session_id).status == "completed"
    failed = manager.create_session("nightly", plan=plan({"id": "a", "command": "true"}, retries=0), start_workers=False)
    coordinator = WorkerCoordinator(failed.session_id, pproject)
    _run_until_idle(coordinator, coordinator.register_worker(), fails={"a"})
    newer = manager.create_session("nightly", plan=plan({"id": "a", "command": "true"}), start_workers=False)
    with pytest.raises(ConfigError, match=f"session {newer.session_id} of that name is running"):
        manager.retry_failed(failed.session_id)  # two live sessions of one name would commit to the same branches
    assert manager.get_session_status(failed.session_id).status == "failed"  # nothing changed
    manager.stop_session(newer.session_id)
    assert manager.retry_failed(failed.session_id).tasks == ("a",)


def test_a_task_retried_by_hand_runs_afresh_and_its_max_cost_counts_anew(pproject: Project) -> None:
    """Its last attempt had adopted an earlier one's unchecked work: the retry runs the command, it does not re-check that work."""
    manager = SessionManager(pproject)
    session = manager.create_session("afresh", plan=plan({"id": "a", "command": "true", "max_cost": 1.0}, retries=0), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    first = coordinator.get_next_task(worker)
    assert first is not None
    assert coordinator.finish_attempt(worker, "a", first.attempt, AttemptState.LOST, error="worker lost", unchecked=True) == "requeued"
    second = coordinator.get_next_task(worker)
    assert second is not None and second.adopt_attempt == first.attempt
    assert coordinator.finish_attempt(worker, "a", second.attempt, AttemptState.FAILED, error="verify failed", cost=0.8) == "failed"
    manager.retry_failed(session.session_id)
    third = coordinator.get_next_task(worker)
    assert third is not None and third.adopt_attempt is None
    spent = pproject.store.scalar(
        pproject.store.query("parallel", "task_cost_since_retry"), {"session_id": session.session_id, "task_id": "a", "attempt": third.attempt}
    )
    assert spent == 0  # the $0.80 before the retry leaves its max_cost whole


def test_a_retry_refuses_a_spent_session_cap_and_cleanup_leaves_a_reopened_session(pproject: Project) -> None:
    manager = SessionManager(pproject)
    capped = manager.create_session("capped", plan=plan({"id": "a", "command": "true"}, retries=0), start_workers=False, cost_limit=0.5)
    coordinator = WorkerCoordinator(capped.session_id, pproject)
    worker = coordinator.register_worker()
    task = coordinator.get_next_task(worker)
    assert task is not None
    coordinator.finish_attempt(worker, "a", task.attempt, AttemptState.BUDGET_EXCEEDED, error="the session's max_cost is spent", cost=0.5)
    with pytest.raises(ParallelError, match=r"max_cost of \$0\.50 is spent"):
        manager.retry_failed(capped.session_id)
    assert manager.get_session_status(capped.session_id).status == "failed"  # nothing changed

    failed = manager.create_session("later", plan=plan({"id": "a", "command": "true"}, retries=0), start_workers=False)
    other = WorkerCoordinator(failed.session_id, pproject)
    _run_until_idle(other, other.register_worker(), fails={"a"})
    manager.retry_failed(failed.session_id)  # between cleanup's listing and its delete, as a race would have it
    assert not other.delete()
    assert manager.get_session_status(failed.session_id).status == "running"


def test_a_retried_prompt_task_with_the_budget_spent_leaves_the_session_paused_not_running_without_workers(
    pproject: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from buildrunner.routing.cost_tracker import CostTracker

    standins = Path(__file__).resolve().parents[1] / "agents" / "standins"  # the stand-in `claude` the plan's check looks for
    monkeypatch.setenv("PATH", f"{standins}{os.pathsep}{os.environ['PATH']}")
    manager = SessionManager(pproject)
    session = manager.create_session("held", plan=plan({"id": "p", "prompt": "Add a flag", "agent": "claude"}, retries=0), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    _run_until_idle(coordinator, coordinator.register_worker(), fails={"p"})
    monkeypatch.setenv("BR_COST_LIMIT_DAILY", "1")
    limited = SessionManager(Project(pproject.paths.root, store=pproject.store))  # the limit is read with the config
    CostTracker(limited.project).track_request("sonnet", 1000, 1000, cost=1.25)
    assert limited.retry_failed(session.session_id).tasks == ("p",)
    with pytest.raises(ParallelError, match="stays paused"):
        limited.resume_session(session.session_id)
    after = limited.get_session_status(session.session_id)
    assert after.status == "paused" and "daily budget spent" in (after.prompts_held or "")
    monkeypatch.setenv("BR_COST_LIMIT_DAILY", "5")  # the limit raised: a plain resume runs it
    raised = SessionManager(Project(pproject.paths.root, store=pproject.store))
    assert raised.resume_session(session.session_id, restart_workers=False)[0].status == "running"


def test_a_task_given_back_before_it_started_is_not_left_running_in_the_events(pproject: Project) -> None:
    """A prompt task released when the budget ran out kept a task_started with no end: telemetry showed it running for ever."""
    session = SessionManager(pproject).create_session("given-back", plan=plan({"id": "p", "command": "true"}), start_workers=False)
    coordinator = WorkerCoordinator(session.session_id, pproject)
    worker = coordinator.register_worker()
    task = coordinator.get_next_task(worker)
    assert task is not None and coordinator.release_task(worker, task.task_id, task.attempt, "daily budget spent")
    events = pproject.store.fetchall("SELECT type, message FROM events WHERE session_id = ? AND task_id = 'p' ORDER BY id", (session.session_id,))
    assert [e["type"] for e in events] == ["task_started", "task_retry"]
    assert "given back before it started: daily budget spent" in events[-1]["message"]
    again = coordinator.get_next_task(worker)
    assert again is not None and again.attempt == task.attempt  # the attempt did not count


def test_every_state_the_session_queries_name_is_one_the_state_machine_has() -> None:
    """The SQL names states as quoted words; a typo there (or a state renamed in Python only) would silently never
    match: a claim that finds no task, a session that never ends."""
    sql = (files("buildrunner.store") / "queries" / "parallel.sql").read_text()
    named = set(re.findall(r"'([a-z_]*)'", re.sub(r"--[^\n]*", "", sql)))  # words; not a text such as ' (upstream)'
    states = {str(s) for enum in (SessionState, TaskState, AttemptState, WorkerState) for s in enum}
    assert named - states - {"prompt", WORKTREE, NO_ISOLATION, ""} == set()
    assert {"running", "pending", "blocked", "idle"} <= named  # the words are read (not an empty match)


def test_a_second_checkout_on_this_host_is_another_place_whose_lost_workers_are_settled_there(pproject: Project, tmp_path: Path) -> None:
    """Two checkouts of a project on one host share a session (or a container shares the host's name): matched by
    hostname, a reaper in one took the other's lost worker for its own, found no record of it in its own folder and
    ran the task again while the other's supervisor held its finished result."""
    session = SessionManager(pproject).create_session("places", plan=plan({"id": "only", "command": "true"}), start_workers=False)
    checkout_b = tmp_path / "checkout-b"
    (checkout_b / ".buildrunner").mkdir(parents=True)
    write_config(checkout_b)
    here = WorkerCoordinator(session.session_id, pproject)
    there = WorkerCoordinator(session.session_id, Project(checkout_b, store=pproject.store))
    assert here.machine != there.machine
    frozen, alive = there.register_worker("b-frozen"), there.register_worker("b-alive")
    assert there.get_next_task(frozen) is not None
    pproject.store.execute("UPDATE workers SET last_heartbeat = last_heartbeat - 100 WHERE id = ?", (frozen,))
    assert reap(here) == [frozen]  # silent: anyone may say so
    task = pproject.store.fetchone("SELECT status, attempts FROM tasks WHERE task_id = 'only'")
    assert (task["status"], task["attempts"]) == ("running", 1)  # but only where it ran can its attempt be settled
    assert not list(pproject.paths.logs_dir.rglob("*fence*"))
    reap(there)  # checkout B (its live worker's reaper) reads its own records: no exit recorded, so the task is retried
    task = pproject.store.fetchone("SELECT status, attempts FROM tasks WHERE task_id = 'only'")
    assert task["status"] == "pending" and there.get_worker_health(alive).healthy
