"""Collect task and session events into the store, and hand them to listeners.

Validation happens before anything is written, so a bad event (no type, a
non-numeric duration) raises `TelemetryError` and leaves the store untouched;
`collect_batch` writes all of its events in one transaction or none. BuildRunner's
own events are typed (`telemetry.events`) and were validated when made; a dict
from a caller of the spec's API is checked here. Free text is masked with the
security scanner's masking before it is stored, so no full secret ever reaches
the events table. Retention is applied explicitly (`prune`, `prune_if_due`),
never as a side effect of a write.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import json
import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from buildrunner.errors import ConfigError, TelemetryError
from buildrunner.localdays import DAY_S
from buildrunner.money import MAX_DURATION_MS, MAX_USD
from buildrunner.project import ensure_project
from buildrunner.security.masking import mask_secrets
from buildrunner.store.base import FUTURE_SLACK_S, now, plausible_time
from buildrunner.telemetry.events import KNOWN_EVENT_TYPES, TelemetryEvent

if TYPE_CHECKING:
    from buildrunner.project import Project
    from buildrunner.store import Store

log = logging.getLogger(__name__)

Event = dict[str, Any]
Listener = Callable[[Event], Any]

ALL_EVENTS = "*"
MAX_TYPE_LENGTH = 64
MAX_TEXT_LENGTH = 4000
# `prune_if_due` prunes at most this often (a worker asks when it starts).
PRUNE_EVERY_S = 86_400.0
PRUNE_JOB = "telemetry_retention"

# Keys with their own column; everything else lands in the JSON `data` column as metadata.
_COLUMNS = ("ts", "type", "session_id", "task_id", "worker_id", "duration_ms", "cost", "error", "message", "data", "error_key")
_KNOWN = frozenset({"type", "timestamp", "ts", "session_id", "task_id", "worker_id", "duration_ms", "cost", "error", "message", "description", "metadata"})
_TYPE_RE = re.compile(r"^[A-Za-z][\w.:-]*$")
_PLAIN_NUMBERS = (int, float)
_SCALARS = (int, float, bool)
_encode_data = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
MASK_MEMO_SIZE = 50_000
# `LIMIT :limit` when the caller wants every row (both engines take a large integer; NULL only PostgreSQL).
NO_LIMIT = 2**62
MASK_MEMO_MAX_TEXT = 256

# Error normalisation: the variable parts of a message (ids, numbers, quoted values,
# paths) become placeholders so "timeout after 31s" and "timeout after 45s" group together.
_NORMALISERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<id>"),
    (re.compile(r"(?<!\w)'[^'\n]*'(?!\w)|\"[^\"\n]*\"|`[^`\n]*`"), "<value>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:[\w.-]*/)+[\w.-]+"), "<path>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b"), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)
MAX_ERROR_KEY = 200


@functools.lru_cache(maxsize=MASK_MEMO_SIZE)
def normalise_error(message: str) -> str:
    """The grouping key of an error message: its first line with variable parts replaced.

    Cached: a batch repeats the same few hundred error texts, and six regex passes each add up.
    """
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, repl in _NORMALISERS:
        text = pattern.sub(repl, text)
    return text.strip()[:MAX_ERROR_KEY]


def parse_timestamp(value: Any) -> float:
    """Epoch seconds (UTC) from epoch seconds, an ISO 8601 string or a datetime.

    A naive ISO string or datetime is local time, as `datetime.now().isoformat()` writes it.
    """
    if value is None:
        return now()
    if isinstance(value, bool):
        raise TelemetryError(f"event timestamp {value!r}: expected epoch seconds or an ISO 8601 string")
    if isinstance(value, (int, float)):
        ts = float(value)
    elif isinstance(value, _dt.datetime):
        ts = value.timestamp()
    elif isinstance(value, str):
        text = value.strip()
        try:
            ts = float(text)
        except ValueError:
            try:
                ts = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text).timestamp()
            except ValueError:
                raise TelemetryError(
                    f"event timestamp {value!r}: not ISO 8601 or epoch seconds",
                    hint="use e.g. 2025-11-18T09:15:23+00:00 or 1763457323.0",
                ) from None
    else:
        raise TelemetryError(f"event timestamp {value!r}: expected epoch seconds or an ISO 8601 string")
    if not plausible_time(ts):
        raise TelemetryError(
            f"event timestamp {value!r}: out of range",
            hint="give epoch seconds (not milliseconds) or an ISO 8601 time that is not in the future",
        )
    return ts


def _number(event: Mapping[str, Any], key: str, most: float) -> float | None:
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise TelemetryError(f"event {key}={value!r}: not a number", hint=f"give {key} as a number, e.g. 1250")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TelemetryError(f"event {key}={value!r}: not a number", hint=f"give {key} as a number, e.g. 1250") from None
    if not math.isfinite(number) or not 0 <= number <= most:
        raise TelemetryError(f"event {key}={value!r}: must be a number from 0 to {most:,.0f}")
    return number


def _ident(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TelemetryError(f"event {key}={value!r}: expected a string id")
    return str(value) or None


def _check_type(etype: Any) -> str:
    if not isinstance(etype, str) or not etype.strip():
        raise TelemetryError("event without a 'type'", hint="give every event a type such as 'task_started'")
    if len(etype) > MAX_TYPE_LENGTH or not _TYPE_RE.match(etype):
        raise TelemetryError(f"event type {etype[:80]!r}: use letters, digits, '_', '.', ':' or '-' (at most {MAX_TYPE_LENGTH})")
    return etype


def check_event_type(store: "Store", event_type: str) -> None:
    """Reject a `--type` filter that names no known type and no type in the store (a typo)."""
    if event_type in KNOWN_EVENT_TYPES or store.scalar(store.query("telemetry", "event_type_exists"), {"type": event_type}):
        return
    close = difflib.get_close_matches(event_type, KNOWN_EVENT_TYPES, n=1)
    raise ConfigError(
        f"--type {event_type!r}: unknown event type",
        hint=f"did you mean {close[0]!r}?" if close else f"known types: {', '.join(KNOWN_EVENT_TYPES)}",
    )


def iso(ts: float) -> str:
    """An epoch time as an ISO 8601 UTC string (the `timestamp` of returned events)."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="milliseconds")


def event_from_row(row: Mapping[str, Any]) -> Event:
    """A stored row in the shape `collect_event` returns and listeners receive."""
    data = row.get("data")
    return {
        "id": row.get("id"),
        "type": row["type"],
        "timestamp": iso(row["ts"]),
        "ts": row["ts"],
        "session_id": row.get("session_id"),
        "task_id": row.get("task_id"),
        "worker_id": row.get("worker_id"),
        "duration_ms": row.get("duration_ms"),
        "cost": row.get("cost"),
        "error": row.get("error"),
        "message": row.get("message"),
        "metadata": json.loads(data) if data else {},
    }


class EventCollector:
    """Validate, mask and store events; notify listeners registered per event type."""

    def __init__(self, project: "Project | None" = None) -> None:
        project = ensure_project(project)
        self.project = project
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._mask_memo: dict[str, str] = {}
        self._seen_types: set[str] = set()
        self._latest_ts = now() + FUTURE_SLACK_S

    @property
    def enabled(self) -> bool:
        """False when `telemetry.enabled` is off (config or `BR_TELEMETRY_ENABLED=false`)."""
        return bool(self.project.config.telemetry.enabled)

    def add_listener(self, event_type: str, fn: Listener) -> None:
        """Call `fn(event)` after each stored event of `event_type` (`"*"` for every type)."""
        if not callable(fn):
            raise TelemetryError(f"listener for {event_type!r} is not callable")
        self._listeners[event_type].append(fn)

    def remove_listener(self, event_type: str, fn: Listener) -> None:
        if fn in self._listeners.get(event_type, []):
            self._listeners[event_type].remove(fn)

    def _masked(self, text: str) -> str:
        """`mask_secrets(text)`, memoised: event text repeats (descriptions, models, error templates)."""
        done = self._mask_memo.get(text)
        if done is None:
            done = mask_secrets(text)
            if len(text) <= MASK_MEMO_MAX_TEXT:
                if len(self._mask_memo) >= MASK_MEMO_SIZE:
                    self._mask_memo.clear()
                self._mask_memo[text] = done
        return done

    def _mask_tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._masked(value)
        if isinstance(value, Mapping):
            return {str(k): self._mask_tree(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._mask_tree(v) for v in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return self._masked(str(value))

    def _row(self, event: Any) -> tuple[Any, ...]:
        """One validated, masked row in `_COLUMNS` order; raises before anything is written.

        Written for the batch path: common, well-formed values take the cheap branches.
        """
        if isinstance(event, TelemetryEvent):
            event = event.record()
        elif not isinstance(event, Mapping):
            raise TelemetryError(f"event {event!r}: expected a dict with at least a 'type'")
        get = event.get
        etype = get("type")
        if type(etype) is not str or etype not in self._seen_types:
            etype = _check_type(etype)
            self._seen_types.add(etype)
        stamp = get("timestamp")
        if stamp is None:
            stamp = get("ts")
        ts = stamp if type(stamp) is float and 0 <= stamp <= self._latest_ts else parse_timestamp(stamp)
        duration = get("duration_ms")
        if duration is not None and not (type(duration) in _PLAIN_NUMBERS and 0 <= duration <= MAX_DURATION_MS):
            duration = _number(event, "duration_ms", MAX_DURATION_MS)
        cost = get("cost")
        if cost is not None and not (type(cost) in _PLAIN_NUMBERS and 0 <= cost <= MAX_USD):
            cost = _number(event, "cost", MAX_USD)
        error = get("error")
        if error is not None:
            error = self._masked(error if type(error) is str else str(error))[:MAX_TEXT_LENGTH]
        message = get("message")
        if message is None:
            message = get("description")
        if message is not None:
            message = self._masked(message if type(message) is str else str(message))[:MAX_TEXT_LENGTH]
        extra: Mapping[str, Any] | None = None if event.keys() <= _KNOWN else {k: v for k, v in event.items() if k not in _KNOWN}
        metadata = get("metadata")
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise TelemetryError(f"event metadata {metadata!r}: expected an object (dict)")
            extra = {**metadata, **extra} if extra else metadata
        data = None
        if extra:
            masked = self._masked
            try:
                data = _encode_data(
                    {k: masked(v) if type(v) is str else v if v is None or type(v) in _SCALARS else self._mask_tree(v) for k, v in extra.items()}
                )
            except (TypeError, ValueError) as exc:
                raise TelemetryError(f"event metadata: {exc}", hint="use string keys and JSON values") from None
        session_id, task_id, worker_id = get("session_id"), get("task_id"), get("worker_id")
        return (
            ts,
            etype,
            session_id or None if type(session_id) is str else _ident(session_id, "session_id"),
            task_id or None if type(task_id) is str else _ident(task_id, "task_id"),
            worker_id or None if type(worker_id) is str else _ident(worker_id, "worker_id"),
            duration,
            cost,
            error,
            message,
            data,
            normalise_error(error) if error else None,
        )

    def collect_event(self, event: Mapping[str, Any]) -> Event:
        """Validate, mask and store one event, then notify listeners; returns the stored event.

        With telemetry disabled the event is validated and returned (id None) but not stored.
        """
        row = self._row(event)
        stored = event_from_row(dict(zip(_COLUMNS, row)))
        if not self.enabled:
            return stored
        store = self.project.store
        stored["id"] = store.scalar(store.query("telemetry", "insert_event_returning_id"), row)
        self._notify([stored])
        return stored

    def collect_batch(self, events: Iterable[Mapping[str, Any] | TelemetryEvent]) -> int:
        """Store many events in one transaction (all or none); returns how many were stored.

        The high-rate path: rows are validated first, then written with one executemany.
        """
        rows = []
        for index, event in enumerate(events):
            try:
                rows.append(self._row(event))
            except TelemetryError as exc:
                raise TelemetryError(f"batch event #{index}: {exc.message}", hint=exc.hint or "nothing from this batch was stored") from None
        if not rows or not self.enabled:
            return 0
        store = self.project.store
        with store.transaction():
            store.executemany(store.query("telemetry", "insert_event"), rows)
        if self._listeners:
            self._notify([event_from_row(dict(zip(_COLUMNS, row))) for row in rows])
        return len(rows)

    def _notify(self, events: list[Event]) -> None:
        for event in events:
            for fn in (*self._listeners.get(event["type"], ()), *self._listeners.get(ALL_EVENTS, ())):
                try:
                    fn(event)
                except Exception:
                    log.exception("telemetry listener %r failed on a %s event (the event is stored)", fn, event["type"])

    def get_events(
        self,
        event_type: str | None = None,
        hours: float = 24,
        limit: int | None = 50,
        session_id: str | None = None,
    ) -> list[Event]:
        """The newest events of the last `hours`, newest first, optionally of one type or session."""
        if hours <= 0:
            raise TelemetryError(f"hours={hours}: must be greater than 0")
        if limit is not None and limit <= 0:
            raise TelemetryError(f"limit={limit}: must be greater than 0")
        store = self.project.store
        name = "events" + ("_of_type" if event_type else "") + ("_of_session" if session_id else "")
        params = {"since": now() - hours * 3600, "type": event_type, "session_id": session_id, "limit": NO_LIMIT if limit is None else int(limit)}
        return [event_from_row(row) for row in store.fetchall(store.query("telemetry", name), params)]

    def has_session(self, session_id: str) -> bool:
        """Whether any event carries this session id (a session the API reported, not only a parallel one)."""
        store = self.project.store
        return store.fetchone(store.query("telemetry", "session_has_events"), {"session_id": session_id}) is not None

    def prune(self, days: int | None = None) -> int:
        """Delete events older than `days` (default `telemetry.retention_days`); returns how many.

        `0` days means keep everything.
        """
        keep = self.project.config.telemetry.retention_days if days is None else days
        if keep < 0:
            raise TelemetryError(f"days={keep}: must be 0 (keep all) or more")
        if keep == 0:
            return 0
        store = self.project.store
        with store.transaction():
            return store.execute(store.query("telemetry", "delete_events_before"), {"before": now() - keep * DAY_S})

    def prune_if_due(self) -> int:
        """`prune()` when the last pruning (by anyone sharing the store) is a day old or more.

        The schedule: a worker asks when it starts; `br parallel cleanup` and `br telemetry prune`
        prune whenever they run.
        """
        store = self.project.store
        with store.transaction():
            last = store.scalar(store.query("store", "maintenance_last_run"), {"job": PRUNE_JOB})
            if last is not None and now() - float(last) < PRUNE_EVERY_S:
                return 0
            store.execute(store.query("store", "maintenance_ran"), {"job": PRUNE_JOB, "now": now()})
        removed = self.prune()
        if removed:
            log.info("telemetry retention: pruned %d events older than %d days", removed, self.project.config.telemetry.retention_days)
        return removed
