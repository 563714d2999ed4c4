"""Helpers to put real rows in the store: finished-task events, cost records and workers."""

from __future__ import annotations

import time
from typing import Any

from buildrunner.project import Project


def add_cost(project: Project, cost: float, model: str = "sonnet", age_s: float = 60, **extra: Any) -> None:
    row = {"ts": time.time() - age_s, "model": model, "cost": cost, "input_tokens": 1000, "output_tokens": 200, "session_id": None, "task_id": None, **extra}
    cols = ", ".join(row)
    project.store.execute(f"INSERT INTO cost_records ({cols}) VALUES ({', '.join(':' + c for c in row)})", row)  # br:allow: column names are this helper's own keys


def add_worker(project: Project, worker_id: str, cpu_seconds: float, peak_rss: int, wall_s: float, session: str = "s1") -> None:
    now = time.time()
    if not project.store.scalar("SELECT 1 AS x FROM sessions WHERE id = ?", (session,)):
        project.store.execute(
            "INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES (?, ?, 'running', ?, ?)", (session, session, now, now)
        )
    project.store.execute(
        "INSERT INTO workers (id, session_id, name, hostname, pid, status, started_at, last_heartbeat, cpu_seconds, peak_rss_bytes) "
        "VALUES (?, ?, ?, 'host', 1, 'running', ?, ?, ?, ?)",
        (worker_id, session, worker_id, now - wall_s, now, cpu_seconds, peak_rss),
    )


def finished(session: str, task: str, ok: bool, duration: float = 1000, age_s: float = 60, **extra) -> dict:
    return {
        "type": "task_completed" if ok else "task_failed",
        "session_id": session,
        "task_id": task,
        "duration_ms": duration,
        "timestamp": time.time() - age_s,
        **({} if ok else {"error": extra.pop("error", "boom")}),
        **extra,
    }
