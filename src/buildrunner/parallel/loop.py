"""The loop around an attempt: the checks it must pass, the tier its retry climbs to, what routing learns.

An attempt passes when its command or agent exits 0 (and the agent reports success), its
`verify` command exits 0, and the security check of what it changed (secrets and SQL injection,
the engine of `br security check`) finds nothing at or above `security.block_severity`. A
prompt task whose attempt fails climbs one tier (haiku -> sonnet -> opus) for the next, with
what the failed check said added to its prompt; a task that ends, passed or not, is recorded
for `br routing calibrate`.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.parallel.states import TIER_FAULTS, AttemptState, CheckKind
from buildrunner.paths import read_json, state_ignore_patterns, write_private_json
from buildrunner.routing.complexity_estimator import ComplexityEstimator, ComplexityResult
from buildrunner.routing.model_selector import ModelSelection, ModelSelector
from buildrunner.routing.models import TIERS
from buildrunner.routing.outcomes import LadderStep, TaskOutcome
from buildrunner.routing.outcomes import record_outcome as store_outcome
from buildrunner.security.checks import check_contents
from buildrunner.security.masking import mask_secrets

if TYPE_CHECKING:
    from buildrunner.agents.base import Agent
    from buildrunner.parallel.models import Task
    from buildrunner.project import Project

CONTEXT_CHARS = 4000  # of a failed check's output, added to the next attempt's prompt


@dataclass(frozen=True)
class Check:
    """A check an attempt failed: why (one line), its kind, and what to tell the next attempt."""

    outcome: CheckKind
    reason: str
    context: str | None = None


def next_tier(tier: str | None) -> str | None:
    """The tier above `tier` (None at the top, or for no tier)."""
    if tier not in TIERS:
        return None
    index = TIERS.index(tier)
    return TIERS[index + 1] if index + 1 < len(TIERS) else None


def route(project: "Project", task: "Task", agent: "Agent", cap: float | None) -> ModelSelection:
    """Routing's tier for a prompt task's attempt within `cap` (USD), priced as `agent` runs each tier: the worker's
    choice, and what `br parallel start --dry-run` shows. A task's own `model` is kept. Budgets are not checked here:
    the session holds prompt tasks back while one is spent."""
    return ModelSelector(project).select_model(
        task.routing_text, cost_limit=cap, model=(agent_tier(agent, task.model) or task.model) if task.model else None, check_budget=False,
        agent_models={tier: (agent.provider, agent.model_for(tier)) for tier in TIERS}, cost_limit_name="the plan's max_cost",
    )


def escalation(task: "Task", status: str, check: Check | None, tier: str | None) -> str | None:
    """The tier a prompt task's next attempt climbs to after this one ended with `status`: one above `tier` when the
    failed check blames the model (its tests, its verify, its security check), None when no stronger tier would do
    better (the agent could not be reached, the work was lost) or the plan turned escalation off."""
    if status not in (AttemptState.FAILED, AttemptState.TIMEOUT) or task.kind != "prompt" or not task.escalate or check is None:
        return None
    return next_tier(tier) if check.outcome.blames_tier else None


def agent_tier(agent: "Agent", model: str) -> str | None:
    """The tier `agent` runs `model` for, when `model` is one of its own model ids (`gpt-5.1-codex` for Codex)."""
    return next((tier for tier, model_id in agent.models.items() if tier in TIERS and model_id.lower() == model.strip().lower()), None)


def prompt_with_context(prompt: str, context: str | None) -> str:
    """The task's prompt, with what the previous attempt's failed check said."""
    if not context:
        return prompt
    return f"{prompt}\n\nA previous attempt at this task did not pass its check. What the check reported:\n\n{context}\n"


def tail(path: Path, chars: int = CONTEXT_CHARS) -> str:
    """The end of a (masked) log, for a failed check's context."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-chars:].strip()


def log_lines(path: Path) -> list[str]:
    """The lines of a (masked) log, as they were streamed; none when it was never written."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def working_changes(root: Path) -> dict[str, bytes]:
    """The files of a working tree that differ from HEAD: modified ones and new ones git does not ignore."""
    def git(*args: str) -> list[str]:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return [line for line in proc.stdout.splitlines() if line] if proc.returncode == 0 else []

    own_state = [f":(exclude,glob){pattern}{'**' if pattern.endswith('/') else ''}" for pattern in state_ignore_patterns()]  # never read the open store
    names = set(git("diff", "--name-only", "HEAD", "--", ".", *own_state)) | set(git("ls-files", "--others", "--exclude-standard", "--", ".", *own_state))
    files = {}
    for name in sorted(names):
        path = root / name
        if path.is_file() and not path.is_symlink():
            files[name] = path.read_bytes()
    return files


def snapshot(root: Path) -> dict[str, str]:
    """What the working tree holds before an attempt without a worktree runs: a digest per changed file (no content kept)."""
    return {name: _digest(data) for name, data in working_changes(root).items()}


def changed_since(before: dict[str, str], root: Path) -> dict[str, bytes]:
    """What an attempt without a worktree changed: files whose content differs from the snapshot taken before it."""
    return {name: data for name, data in working_changes(root).items() if before.get(name) != _digest(data)}


def save_snapshot(path: Path, before: dict[str, str]) -> None:
    """Kept on disk (private) so that the attempt that adopts this one's work, if its worker is lost, knows what it changed."""
    write_private_json(path, before)


def load_snapshot(path: Path) -> dict[str, str] | None:
    """A snapshot `save_snapshot` kept; None when there is none to read."""
    data = read_json(path)
    return data if isinstance(data, dict) else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def security_check(project: "Project", files: dict[str, bytes]) -> Check | None:
    """The security check of what the attempt changed (`files`); None when it passed."""
    if not files:
        return None
    level = project.config.security.block_severity
    report = check_contents(project, files, min_severity=level, target="the attempt's changes")
    if report.passed:
        return None
    if report.secrets:
        secret = report.secrets[0]
        reason = f"security: the attempt's changes hold {report.counts()}: {secret.secret_type} {secret.masked_value} at {secret.file_path}:{secret.line_number}"
    elif report.sql_injection:
        risk = report.sql_injection[0]
        reason = f"security: the attempt's changes hold {report.counts()}: {risk.severity} {risk.description} at {risk.file_path}:{risk.line_number}"
    else:
        first_unscanned = report.unscanned[0]
        reason = f"security: {first_unscanned.path} could not be checked ({first_unscanned.reason})"
    return Check(CheckKind.SECURITY, mask_secrets(reason)[:500], mask_secrets(reason))


def ladder_steps(rows: list[dict[str, Any]]) -> list[Any]:
    """The attempts of a finished prompt task as routing's ladder (attempts not run on a tier are left out)."""
    steps = []
    for row in rows:
        if row["tier"] not in TIERS or row["status"] in (AttemptState.LOST, AttemptState.CANCELLED):
            continue
        if row["status"] == AttemptState.COMPLETED:
            outcome = "passed"
        elif row["outcome"] in TIER_FAULTS:
            outcome = "failed"
        else:
            outcome = "error"  # a spent budget, a crash: says nothing about the tier
        steps.append(LadderStep(tier=row["tier"], model=row["model"] or "", cost=float(row["cost"] or 0.0), outcome=outcome, reason=(row["error"] or "")[:200]))
    return steps


def record_outcome(
    project: "Project", session_id: str, task_id: str, description: str, agent: str | None, rows: list[dict[str, Any]], finished_at: float,
    *, routed: str | None = None,
) -> None:
    """Record a finished prompt task for routing's calibration (the estimate it was `routed` on, the tiers it
    climbed, what passed). Without a kept estimate (a tier forced by escalation only) it is estimated now."""
    steps = ladder_steps(rows)
    if not steps:
        return
    estimate = ComplexityResult.from_json(routed) if routed else ComplexityEstimator(project).estimate(description)
    store_outcome(project, TaskOutcome.from_attempts(estimate, steps, session_id=session_id, task_id=task_id, finished_at=finished_at, agent=agent))

