"""Reaping: declare lost the workers that went silent, and settle the attempts they held.

A worker is lost when it has not heartbeated for `parallel.heartbeat_timeout` seconds by the
database's clock, or — on this machine — as soon as its process is gone. Its running attempt
is then settled by a reaper on the worker's own machine, which can see the attempt's process
tree and record: the supervisor is told to end the tree at once, and the record says whether
the task had finished by itself first (its result counts: completed or failed as it ran; for a
checked task, whose checks never ran, the next attempt adopts its work and runs only the checks) or
not (the attempt is lost and the task goes back to the queue). No retry runs while the first
attempt's tree is alive. A reaper on another machine settles an attempt only when no live
worker is left on the lost worker's machine and the lost worker's supervisor has had time to
end the tree by itself (its lease lapses at the heartbeat timeout).
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from buildrunner.parallel.executor import Executor
from buildrunner.parallel.models import Task
from buildrunner.parallel.record import ExitRecord, end_orphan, record_path
from buildrunner.parallel.states import AttemptOutcome, AttemptState
from buildrunner.parallel.supervisor import FINISHING_S
from buildrunner.parallel.worker_coordinator import AttemptDetail, WorkerCoordinator, process_alive
from buildrunner.routing.cost_tracker import CostTracker

if TYPE_CHECKING:
    from buildrunner.parallel.settings import ParallelSettings

# Extra seconds a reaper gives a lost worker's supervisor to end the tree (on another machine: before settling
# without the record; on this one: before ending the tree itself).
REMOTE_MARGIN_S = 5.0
# How long a reaper waits in one pass for a lost worker's supervisor to record the attempt it was told to end
# at once (short: the reaper's own heartbeat and lease wait meanwhile); a slower one is asked again next pass.
ANSWER_S = 1.0

LOST_SPEND_SOURCE = "lost-attempt"  # a cost record of an agent's spend until its worker was lost (its live progress)


def supervisor_patience(settings: ParallelSettings) -> float:
    """Seconds a lost worker's supervisor has to end its attempt's tree (its lease, the task's time to finish, the kill grace, a margin)."""
    return settings.heartbeat_timeout + FINISHING_S + settings.kill_grace + REMOTE_MARGIN_S


def reap(coordinator: WorkerCoordinator, *, judge_silence: bool = True) -> list[str]:
    """Declare lost the silent workers of the session, then settle every attempt held by a lost worker.

    `judge_silence=False` when the caller itself has not been connected to the store for a whole
    heartbeat timeout (it has just started, or come back from an outage): everyone's heartbeats
    may be old then because nobody could write, so only workers whose process is gone (on this
    machine) are declared lost. Returns the ids of the workers declared lost by this call.
    """
    store, settings = coordinator.store, coordinator.settings
    ts = store.clock()
    host = socket.gethostname()  # for the message
    cutoff = ts - settings.heartbeat_timeout
    missed = ts - settings.effective_heartbeat_interval * 1.5
    reaped = []
    for row in coordinator.live_worker_rows():
        if judge_silence and row["last_heartbeat"] < cutoff:
            reason = f"no heartbeat for {ts - row['last_heartbeat']:.0f}s"
        elif (
            coordinator.is_here(row) and row["last_heartbeat"] < missed and row["pid"] != os.getpid()
            and not process_alive(int(row["pid"]), row["process_started"])
        ):
            reason = f"process {row['pid']} on {host} is gone"
        else:
            continue
        if coordinator.declare_lost(row["id"], reason, row["name"]):
            reaped.append(row["id"])
    settle(coordinator)
    return reaped


def settle(coordinator: WorkerCoordinator) -> int:
    """Settle the attempts held by lost workers that this process can settle; returns how many it did."""
    orphans = coordinator.orphaned_attempts()
    if not orphans:
        return 0
    store, settings, project = coordinator.store, coordinator.settings, coordinator.project
    ts = store.clock()
    live_places = {coordinator.place(row) for row in coordinator.live_worker_rows() if row["last_heartbeat"] >= ts - settings.heartbeat_timeout}
    executor = Executor(project.paths.root, project.paths.logs_dir, grace=settings.kill_grace)
    settled = 0
    for orphan in orphans:
        task_id, attempt, worker_id = orphan["task_id"], int(orphan["attempts"]), orphan["worker_id"]
        if coordinator.is_here(orphan):
            path = record_path(project.paths.logs_dir, coordinator.session_id, worker_id)
            answered = end_orphan(path, task_id, attempt, timeout=ANSWER_S, patience=supervisor_patience(settings))
            if answered is None:
                continue  # its supervisor is still ending it: settled on a later pass, from what it records
            record = answered
        elif coordinator.place(orphan) in live_places:
            continue  # a worker where it ran will settle it, seeing its process tree and record
        elif orphan["last_heartbeat"] > ts - supervisor_patience(settings):
            continue  # its supervisor may still be ending the tree
        else:
            record = ExitRecord()
        settled += _settle_one(coordinator, executor, task_id, attempt, worker_id, record)
    return settled


def _settle_one(coordinator: WorkerCoordinator, executor: Executor, task_id: str, attempt: int, worker_id: str, record: ExitRecord) -> int:
    row = coordinator.store.fetchone(coordinator.store.query("parallel", "get_task"), {"session_id": coordinator.session_id, "task_id": task_id})
    if row is None:
        return 0
    lost = f"its worker {worker_id} was lost"
    task = Task.from_row({**row, "attempts": attempt})
    result = executor.result(task, record) if record.own_result else None
    unchecked = result is not None and task.checked
    error: str | None
    if result is None:
        status, error = AttemptState.LOST, lost + (f"; {record.exit.get('reason')}" if record.exit and record.exit.get("reason") else "")
    elif unchecked:  # its checks (agent result, verify, security, commit) never ran: the next attempt runs them on this one's work
        status, error = AttemptState.LOST, f"{lost} after the task ended ({result.error or 'exit code 0'}) and before its checks: the next attempt checks its work"
    else:
        status = result.status if result.status in (AttemptState.COMPLETED, AttemptState.FAILED, AttemptState.TIMEOUT) else AttemptState.LOST
        error = f"{result.error} (recorded after {lost})" if result.error else None
    # The rung keeps its agent's live spend (cost None) unless its work is adopted: the adopting attempt records that
    # run's cost from its log, once.
    with coordinator.store.transaction():  # the rung and its spend's cost record together
        outcome = coordinator.finish_attempt(
            worker_id, task_id, attempt, status, error=error,
            exit_code=result.exit_code if result else None, duration_ms=result.duration_ms if result else None, pid=record.task_pid,
            unchecked=unchecked, cost=0.0 if unchecked else None, detail=AttemptDetail(outcome=AttemptState.LOST) if status == AttemptState.LOST else None,
        )
        if outcome == AttemptOutcome.STALE:
            return 0
        if not unchecked and (spend := coordinator.lost_spend(task_id, attempt)) is not None:
            # the agent's spend until its worker died: no result will ever record it (an adopting attempt records its
            # own attempt's cost from the log), and caps and budgets must count it
            CostTracker(coordinator.project).track_request(
                str(spend["model"] or spend["tier"] or "unknown"), 0, 0, cost=float(spend["cost"]), session_id=coordinator.session_id,
                task_id=task_id, source=LOST_SPEND_SOURCE, agent=spend["agent"],
            )
    return 1
