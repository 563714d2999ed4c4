"""What each model call cost, persisted in the store; summaries and budgets over it.

The parallel runner records every agent run here and asks `remaining_budget()` /
`would_exceed()` before routing more work, so budgets hold across workers and machines
(they all write the same `cost_records` table).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from buildrunner.errors import ConfigError, StoreError
from buildrunner.localdays import QUARTER_HOUR_S, WEEK_S, local_date, period_bounds
from buildrunner.money import MAX_DURATION_MS, MAX_TOKENS, MAX_USD, money, usd, within
from buildrunner.output import csv_cell
from buildrunner.project import ensure_project

if TYPE_CHECKING:
    from buildrunner.agents.base import AgentResult
    from buildrunner.project import Project
    from buildrunner.routing.models import ModelInfo
    from buildrunner.store import Store

PERIODS: tuple[str, ...] = ("day", "week", "month", "all")
BUDGET_PERIODS: dict[str, str] = {"day": "daily", "week": "weekly", "month": "monthly"}
_LATENCY_WINDOW_S = WEEK_S
# Source of Claude Code agent runs (migration 0011 keeps every agent's durations out of model latency).
AGENT_SOURCE = "claude-code"
# The agent name summaries give records that no coding agent made (direct API requests).
DIRECT = "api"
# (input, output, cache read, cache write) token keys in each usage format we ingest.
ANTHROPIC_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
CLAUDE_CODE_USAGE_KEYS = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens")


@dataclass
class CostRecord:
    """One stored request (or, for a multi-model agent run, the total with its `parts`)."""

    id: int | None
    ts: float
    model: str
    model_id: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: float
    latency_ms: float | None
    session_id: str | None
    task_id: str | None
    source: str
    agent: str | None = None  # the coding agent that made the calls; None for a direct API request
    parts: list["CostRecord"] = field(default_factory=list)


@dataclass
class CostSummary:
    """The spec's summary for one period, plus per-model and per-agent totals and the period's budget.

    `by_agent` and `by_agent_model` name direct API requests "api"; budgets count every agent.
    """

    period: str
    total_cost: float
    request_count: int
    by_model: dict[str, float]
    by_day: dict[str, float]
    avg_cost_per_request: float
    requests_by_model: dict[str, int] = field(default_factory=dict)
    by_agent: dict[str, float] = field(default_factory=dict)
    requests_by_agent: dict[str, int] = field(default_factory=dict)
    by_agent_model: dict[str, dict[str, float]] = field(default_factory=dict)
    since: float | None = None
    budget_limit: float | None = None
    budget_remaining: float | None = None


RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CostRecord) if f.name != "parts")
_EVER = -1e308  # "since the beginning" for period="all", valid on both engines
BUCKET_S = QUARTER_HOUR_S  # cost_rollup granularity (migration 0002); divides every real UTC offset


def _since(period: str, at: float | None = None) -> float:
    start = period_start(period, at)
    return _EVER if start is None else start


def _bucket(start: float | None) -> int:
    """The first cost_rollup bucket at or after `start` (None: all of them)."""
    return -(2**62) if start is None else math.ceil(start / BUCKET_S)


# The environment variable that overrides each budget, where there is one (config.ENV_OVERRIDES).
BUDGET_ENV = {"daily": "BR_COST_LIMIT_DAILY", "weekly": "BR_COST_LIMIT_WEEKLY"}


@dataclass(frozen=True)
class SpentBudget:
    """A budget that is used up: which, how much of it, and when it starts over."""

    name: str  # daily | weekly | monthly
    spent: float
    limit: float
    resets_at: float

    def describe(self) -> str:
        """One line: which budget, spent vs limit, how to raise it, when it resets."""
        raise_it = f"routing.cost_limits.{self.name}" + (f" or {BUDGET_ENV[self.name]}" if self.name in BUDGET_ENV else "")
        resets = dt.datetime.fromtimestamp(self.resets_at).astimezone().strftime("%Y-%m-%d %H:%M")
        return f"{self.name} budget spent: {usd(self.spent)} of {usd(self.limit)} (raise {raise_it}; it resets at {resets})"


def period_end(period: str, at: float | None = None) -> float:
    """When the current local day / week / month ends (the next one starts)."""
    if period not in BUDGET_PERIODS:
        raise ConfigError(f"period {period!r} has no end", hint=f"use one of: {', '.join(BUDGET_PERIODS)}")
    return period_bounds(period, at if at is not None else _now())[1]


def period_start(period: str, at: float | None = None) -> float | None:
    """Epoch seconds where the current local calendar day / week (Monday) / month began; None for all."""
    if period not in PERIODS:
        raise ConfigError(f"period {period!r} is not known", hint=f"use one of: {', '.join(PERIODS)}")
    if period == "all":
        return None
    return period_bounds(period, at if at is not None else _now())[0]


def _now() -> float:
    from buildrunner.store import now

    return now()


def _count(name: str, value: Any) -> int:
    if value is None:
        return 0
    if not within(value, MAX_TOKENS):
        raise ConfigError(f"{name}={value!r}: must be a token count from 0 to {MAX_TOKENS:,}", hint="pass 0 or a positive integer")
    return int(value)


def _amount(name: str, value: Any, unit: str = "USD", most: float = MAX_USD) -> float:
    """A finite, non-negative amount, at most `most` (for a record: what one may hold, `money.MAX_*`)."""
    if not within(value, most):
        bound = f"a number from 0 to {most:,.0f}" if math.isfinite(most) else "a finite number from 0 up"
        raise ConfigError(f"{name}={value!r}: must be {bound} ({unit})", hint="pass 0 or a positive number")
    return float(value)


def _moment(ts: Any) -> float:
    from buildrunner.store.base import plausible_time

    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not plausible_time(float(ts)):
        raise ConfigError(f"ts={ts!r}: not a time of work done", hint="give epoch seconds (not milliseconds) that are not in the future")
    return float(ts)


class CostTracker:
    """Records request costs in the project's store and answers budget questions."""

    def __init__(self, project: "Project | None" = None) -> None:
        project = ensure_project(project)
        self._project = project
        self._models: dict[str, ModelInfo] | None = None

    @property
    def _store(self) -> "Store":
        return self._project.store

    def _catalogue(self) -> dict[str, "ModelInfo"]:
        if self._models is None:
            from buildrunner.routing.models import catalogue

            self._models = catalogue(self._project)
        return self._models

    def _price(self, model: str) -> tuple[str, str, "ModelInfo | None"]:
        """(tier or model name to record, concrete model id, prices) for a tier or model id."""
        from buildrunner.routing.models import PROVIDER, price_of_unconfigured, provider_of, tier_of

        if not isinstance(model, str) or not model.strip():
            raise ConfigError("model is empty", hint="pass a tier (haiku/sonnet/opus) or a model id")
        info = tier_of(model, self._catalogue())
        if info is not None:
            concrete = info.model_id if model.strip().lower() == info.tier else model.strip()
            return info.tier, concrete, info
        name = model.strip()
        for provider in (PROVIDER, provider_of(name)):  # Anthropic's first; else whoever sells it (gpt-5.1-codex, gemini-2.5-pro)
            try:
                return name, name, price_of_unconfigured(name, provider=provider) if provider else None
            except ConfigError:
                continue
        return name, name, None

    # --- recording -------------------------------------------------------------------------

    def track_request(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        latency_ms: float | None = None,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        cost: float | None = None,
        session_id: str | None = None,
        task_id: str | None = None,
        source: str = "api",
        ts: float | None = None,
        agent: str | None = None,
        one_request: bool = True,
    ) -> CostRecord:
        """Store one request; its cost is computed from the model's prices unless `cost` is known. `one_request=False`:
        the counts add up many requests (an agent run's totals), priced at the base rates, never a long-context tier."""
        from buildrunner.routing.models import cost_of, known_models_hint

        name, model_id, info = self._price(model)
        fresh, output = _count("input_tokens", input_tokens), _count("output_tokens", output_tokens)
        cache_read, cache_write = _count("cache_read_tokens", cache_read_tokens), _count("cache_write_tokens", cache_write_tokens)
        if cost is None:
            if info is None:
                raise ConfigError(f"unknown model {model!r} and no cost given", hint=known_models_hint(self._catalogue()))
            cost = cost_of(info, fresh, output, cache_read, cache_write, one_request=one_request)
        if latency_ms is not None:
            latency_ms = _amount("latency_ms", latency_ms, "milliseconds", MAX_DURATION_MS)
        record = CostRecord(
            id=None,
            ts=_now() if ts is None else _moment(ts),
            model=name,
            model_id=model_id,
            cost=_amount("cost", cost),
            latency_ms=latency_ms,
            session_id=session_id,
            task_id=task_id,
            source=source,
            agent=agent,
            input_tokens=fresh,
            output_tokens=output,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        )
        return self._insert(record)

    def _insert(self, record: CostRecord) -> CostRecord:
        params = {f: getattr(record, f) for f in RECORD_COLUMNS if f != "id"}
        with self._store.transaction():
            row = self._store.fetchone(self._store.query("routing", "insert_cost"), params)
        if row is None:
            raise StoreError("cost record was not stored", hint="check the database is writable")
        record.id = int(row["id"])
        return record

    def _track_usage(
        self,
        model: str,
        usage: Mapping[str, Any],
        keys: tuple[str, str, str, str],
        latency_ms: float | None,
        cost: Any,
        source: str,
        session_id: str | None,
        task_id: str | None,
        ts: float | None = None,
        agent: str | None = None,
        one_request: bool = True,
    ) -> CostRecord:
        """Store a usage object whose (input, output, cache read, cache write) counts sit under `keys`."""
        usage = _as_dict(usage)
        fresh, output, cache_read, cache_write = (usage.get(k) or 0 for k in keys)
        return self.track_request(
            model,
            fresh,
            output,
            latency_ms,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            cost=cost if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
            session_id=session_id,
            task_id=task_id,
            source=source,
            ts=ts,
            agent=agent,
            one_request=one_request,
        )

    def track_anthropic_usage(
        self,
        model: str,
        usage: Mapping[str, Any],
        latency_ms: float | None = None,
        *,
        session_id: str | None = None,
        task_id: str | None = None,
    ) -> CostRecord:
        """Store an Anthropic Messages API `usage` object (dict or SDK model)."""
        return self._track_usage(model, usage, ANTHROPIC_USAGE_KEYS, latency_ms, None, "anthropic", session_id, task_id)

    def track_claude_code_result(
        self,
        result: Mapping[str, Any],
        *,
        model: str | None = None,
        session_id: str | None = None,
        task_id: str | None = None,
    ) -> CostRecord:
        """Store a Claude Code `--output-format json` result: one row per model in `modelUsage`.

        The returned record carries the run's totals (`total_cost_usd` wins over the parts'
        sum) and the stored rows in `parts`; its `model` is the model that cost the most.
        Without `modelUsage`, one row for `model` (default: the config's default tier).
        """
        if not isinstance(result, Mapping):
            raise ConfigError("Claude Code result is not a JSON object", hint="run the agent with --output-format json")
        latency = result.get("duration_ms")
        latency = float(latency) if isinstance(latency, (int, float)) and latency >= 0 else None
        per_model = result.get("modelUsage") if isinstance(result.get("modelUsage"), Mapping) else {}
        total = result.get("total_cost_usd")
        if not per_model:
            chosen = model or self._project.config.routing.default_model
            return self._track_usage(
                chosen, result.get("usage") or {}, ANTHROPIC_USAGE_KEYS, latency, total, AGENT_SOURCE, session_id, task_id, agent="claude", one_request=False,
            )
        # One timestamp and a fixed order (by the name recorded), so concurrent runs take the
        # rollup's row locks in the same order on PostgreSQL and cannot deadlock.
        stamp = _now()
        ordered = sorted(per_model.items(), key=lambda item: (self._price(str(item[0]))[0], str(item[0])))
        with self._store.transaction():
            parts = [
                self._track_usage(
                    str(model_id),
                    raw,
                    CLAUDE_CODE_USAGE_KEYS,
                    latency if len(per_model) == 1 else None,
                    _as_dict(raw).get("costUSD"),
                    AGENT_SOURCE,
                    session_id,
                    task_id,
                    stamp,
                    agent="claude",
                    one_request=False,  # a run's totals over many requests
                )
                for model_id, raw in ordered
            ]
        return _combined(parts, float(total) if isinstance(total, (int, float)) else sum(p.cost for p in parts), latency)

    def track_agent_result(self, result: "AgentResult", *, session_id: str | None = None, task_id: str | None = None) -> CostRecord | None:
        """Store what an agent attempt cost (`buildrunner.agents`): one row per model it used.

        The returned record carries the attempt's totals (the agent's stated total wins over the
        rows' sum) with the stored rows in `parts`; its `model` is the model that cost the most.
        None when the attempt used no tokens and cost nothing (it never reached a model).
        Claude models that are routing tiers are recorded under the tier's name, as
        track_claude_code_result does; other agents' models under their model id.
        """
        models = sorted(set(result.cost_by_model) | set(result.tokens_by_model))
        if not models or (not result.cost_usd and not result.tokens.total):
            return None
        source = AGENT_SOURCE if result.provider == "anthropic" else result.agent
        latency = result.duration_ms if len(models) == 1 else None
        stamp = _now()
        rows = []
        for model_id in models:
            counts = result.tokens_by_model.get(model_id)
            name = self._price(model_id)[0] if result.provider == "anthropic" else model_id
            rows.append((name, model_id, counts))
        rows.sort(key=lambda row: (row[0], row[1]))  # a fixed order, so concurrent runs cannot deadlock on PostgreSQL
        with self._store.transaction():
            parts = [
                self._insert(
                    CostRecord(
                        id=None,
                        ts=stamp,
                        model=name,
                        model_id=model_id,
                        input_tokens=counts.input if counts else 0,
                        output_tokens=counts.output if counts else 0,
                        cache_read_tokens=counts.cache_read if counts else 0,
                        cache_write_tokens=counts.cache_write if counts else 0,
                        cost=_amount("cost", result.cost_by_model.get(model_id, 0.0)),
                        latency_ms=_amount("latency_ms", latency, "milliseconds", MAX_DURATION_MS) if latency is not None else None,
                        session_id=session_id,
                        task_id=task_id,
                        source=source,
                        agent=result.agent,
                    )
                )
                for name, model_id, counts in rows
            ]
        return _combined(parts, _amount("cost", result.cost_usd), result.duration_ms)

    # --- reading ---------------------------------------------------------------------------

    def get_summary(self, period: str = "day") -> CostSummary:
        """Totals, per model and per local day, for the current period (aggregated in SQL)."""
        at = _now()
        start = period_start(period, at)
        rows = self._store.fetchall(self._store.query("routing", "cost_by_slot_and_model"), {"bucket": _bucket(start)})
        days: dict[int, str] = {}  # a slot's local date, worked out once per slot
        by_model: dict[str, float] = {}
        requests_by_model: dict[str, int] = {}
        by_agent: dict[str, float] = {}
        requests_by_agent: dict[str, int] = {}
        by_agent_model: dict[str, dict[str, float]] = {}
        by_day: dict[str, float] = {}
        for row in rows:
            cost = float(row["cost"] or 0)
            requests = int(row["requests"])
            model, agent = row["model"], row["agent"] or DIRECT
            by_model[model] = by_model.get(model, 0.0) + cost
            requests_by_model[model] = requests_by_model.get(model, 0) + requests
            by_agent[agent] = by_agent.get(agent, 0.0) + cost
            requests_by_agent[agent] = requests_by_agent.get(agent, 0) + requests
            models = by_agent_model.setdefault(agent, {})
            models[model] = models.get(model, 0.0) + cost
            slot = int(row["bucket"])
            day = days.get(slot) or days.setdefault(slot, local_date(slot * BUCKET_S).isoformat())
            by_day[day] = by_day.get(day, 0.0) + cost
        total = money(sum(by_model.values()))
        count = sum(requests_by_model.values())
        limit = self.budget_limit(period) if period in BUDGET_PERIODS else None
        agents = sorted(by_agent, key=lambda a: (a == DIRECT, -by_agent[a], a))
        return CostSummary(
            period=period,
            total_cost=float(round(total, 6)),
            request_count=count,
            by_model={k: round(v, 6) for k, v in sorted(by_model.items(), key=lambda kv: _tier_order(kv[0]))},
            by_day={k: round(v, 6) for k, v in sorted(by_day.items())},
            avg_cost_per_request=round(total / count, 6) if count else 0.0,
            requests_by_model=dict(sorted(requests_by_model.items(), key=lambda kv: _tier_order(kv[0]))),
            by_agent={a: round(by_agent[a], 6) for a in agents},
            requests_by_agent={a: requests_by_agent[a] for a in agents},
            by_agent_model={a: {m: round(c, 6) for m, c in sorted(by_agent_model[a].items(), key=lambda kv: _tier_order(kv[0]))} for a in agents},
            since=start,
            budget_limit=limit,
            budget_remaining=max(0.0, money(limit - total)) if limit is not None else None,
        )

    def iter_records(self, period: str = "all", page: int = 5000) -> Iterator[CostRecord]:
        """The period's records in insertion order, fetched a page at a time."""
        sql = self._store.query("routing", "records_page")
        params = {"start": _since(period), "after": -1, "page": page}
        while True:
            rows = self._store.fetchall(sql, params)
            for row in rows:
                yield CostRecord(**{k: row[k] for k in RECORD_COLUMNS})
            if len(rows) < page:
                return
            params["after"] = rows[-1]["id"]

    def records(self, period: str = "all") -> list[CostRecord]:
        return list(self.iter_records(period))

    def export_csv(self, path: str | Path, period: str = "month") -> int:
        """Write the period's records to `path` (one row per request; `buildrunner.output`'s rules: `-` is stdout); returns the row count."""
        from buildrunner.output import open_output

        with open_output(path) as fh:
            return write_csv(fh, self.iter_records(period))

    def observed_latency(self) -> dict[str, float]:
        """Mean latency per tier over the last week of cost records that carried one."""
        rows = self._store.fetchall(self._store.query("routing", "observed_latency"), {"bucket": _bucket(_now() - _LATENCY_WINDOW_S)})
        return {row["model"]: float(row["latency_ms"]) for row in rows if row["latency_ms"] is not None}

    # --- budgets ---------------------------------------------------------------------------

    def spent(self, period: str = "day") -> float:
        value = self._store.scalar(self._store.query("routing", "spent_since"), {"bucket": _bucket(period_start(period))})
        return money(float(value or 0.0))

    def budget_limit(self, period: str) -> float | None:
        """The configured limit for day/week/month; None when it is 0 (no limit)."""
        if period not in BUDGET_PERIODS:
            raise ConfigError(f"period {period!r} has no budget", hint="use day, week or month")
        value = self._project.loaded.get(f"routing.cost_limits.{BUDGET_PERIODS[period]}")
        return float(value) if value else None

    def remaining_budget(self, period: str | None = None) -> float | None:
        """USD left in the period's budget (the tightest of all when `period` is None); None = no limit."""
        periods = [period] if period is not None else list(BUDGET_PERIODS)
        left = [money(limit - self.spent(p)) for p in periods if (limit := self.budget_limit(p)) is not None]
        return max(0.0, min(left)) if left else None

    def spent_budget(self) -> "SpentBudget | None":
        """The first budget (day, week, month) already used up, if any: what holds agent work back."""
        for period, name in BUDGET_PERIODS.items():
            limit = self.budget_limit(period)
            spent = self.spent(period)
            if limit is not None and spent >= limit:
                return SpentBudget(name, spent, limit, period_end(period))
        return None

    def would_exceed(self, amount: float, period: str | None = None) -> bool:
        """Would spending `amount` more break a budget? The runner asks before each agent run."""
        amount = _amount("amount", amount, most=math.inf)  # a question, not a record: any finite amount
        periods = [period] if period is not None else list(BUDGET_PERIODS)
        for p in periods:
            limit = self.budget_limit(p)
            if limit is not None and self.spent(p) + amount > limit:
                return True
        return False


def _combined(parts: list[CostRecord], cost: float, latency_ms: float | None) -> CostRecord:
    """One agent run's stored rows as one record: the only row, or the totals with the rows in `parts`."""
    if len(parts) == 1:
        return parts[0]
    main = max(parts, key=lambda p: p.cost)
    return CostRecord(
        id=None,
        ts=main.ts,
        model=main.model,
        model_id=main.model_id,
        input_tokens=sum(p.input_tokens for p in parts),
        output_tokens=sum(p.output_tokens for p in parts),
        cache_read_tokens=sum(p.cache_read_tokens for p in parts),
        cache_write_tokens=sum(p.cache_write_tokens for p in parts),
        cost=cost,
        latency_ms=latency_ms,
        session_id=main.session_id,
        task_id=main.task_id,
        source=main.source,
        agent=main.agent,
        parts=parts,
    )


def _tier_order(name: str) -> tuple[int, str]:
    from buildrunner.routing.models import TIERS

    return (TIERS.index(name) if name in TIERS else len(TIERS), name)


# The one CSV layout of cost records: `export_csv`, `br routing costs --format csv`, `br telemetry export --type costs`.
CSV_HEADER: tuple[str, ...] = ("id", "timestamp_utc", *RECORD_COLUMNS[2:])


def csv_row(row: Mapping[str, Any]) -> tuple[object, ...]:
    """A stored cost record (a row, or a CostRecord's fields) as a CSV row under CSV_HEADER."""
    try:
        stamp = dt.datetime.fromtimestamp(row["ts"], dt.timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # beyond the calendar (see localdays.local_date): the number as stored
        stamp = str(row["ts"])
    return (row["id"], stamp, *("" if row[c] is None else row[c] for c in RECORD_COLUMNS[2:]))


def write_csv(fh: Any, records: Iterable[CostRecord]) -> int:
    """One CSV for records, used by `export_csv` and `br routing costs --format csv`; returns the row count."""
    writer = csv.writer(fh)
    writer.writerow(CSV_HEADER)
    count = 0
    for r in records:
        writer.writerow([csv_cell(v) for v in csv_row({c: getattr(r, c) for c in RECORD_COLUMNS})])
        count += 1
    return count


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    raise ConfigError(f"usage {value!r} is not an object", hint="pass the response's usage dict")
