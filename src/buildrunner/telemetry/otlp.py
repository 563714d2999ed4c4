"""Send task spans and metrics to an OpenTelemetry collector over OTLP/HTTP (the `[otel]` extra).

Spans and metrics use the OpenTelemetry semantic-convention names, so Jaeger, Grafana
or Langfuse show them without mapping: a session is a `cicd.pipeline.run`, each
finished task attempt a child span with `cicd.pipeline.task.*` attributes plus the
GenAI ones (`gen_ai.request.model`, `gen_ai.usage.*_tokens`) from its cost records.
Everything is built in memory first and posted with the SDK's OTLP/HTTP exporters,
whose result is checked: an unreachable collector is an error, not a silent drop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from buildrunner.errors import APIError, ConfigError
from buildrunner.telemetry.metrics_analyzer import MetricsAnalyzer, window
from buildrunner.words import plural

if TYPE_CHECKING:
    from buildrunner.project import Project

SCOPE = "buildrunner.telemetry"
PROVIDER = "anthropic"
SEMCONV_PROVIDERS = {"google": "gcp.gemini"}  # genai-prices' provider ids that the GenAI conventions name otherwise
SPAN_BATCH = 512
CONNECT_TIMEOUT_S = 3.0


# Histogram buckets that fit what is measured (the SDK's default, 0 5 10 25 ... 10000, put every task under 5 s in one
# bucket): GenAI semantic conventions' advice for operation duration (seconds) and token usage; for task attempts,
# from a tenth of a second to two hours.
OPERATION_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_COUNTS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
TASK_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
SLACK_S = 1.0  # for events from elsewhere (no stored attempt): a cost record this close to the attempt's start or end is its


class _StableIds:
    """Trace and span ids derived from what a span describes (its session; its task attempt), not drawn at random:
    exporting a window again sends the same ids, which a collector keeps once, instead of a copy of every trace.
    The exporter sets `key` before it starts each span (the SDK asks for a trace id for a root span only)."""

    key = ""

    def generate_trace_id(self) -> int:
        return _digest(f"trace:{self.key}", 16)

    def generate_span_id(self) -> int:
        return _digest(f"span:{self.key}", 8)

    def is_trace_id_random(self) -> bool:
        """Newer SDKs set W3C's "random" trace flag from this: these ids are derived, not random."""
        return False


def _digest(text: str, size: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big") or 1  # 0 is the invalid id


@dataclass
class OtlpResult:
    endpoint: str
    spans: int
    metric_points: int
    note: str | None = None  # the spans went but the collector refused the metrics (a traces-only collector)


def _ns(ts: float) -> int:
    return int(ts * 1e9)


# A stored session's end state as OpenTelemetry's cicd.pipeline.result; a running or paused one has none yet.
_SESSION_RESULTS = {"completed": "success", "failed": "failure", "stopped": "cancellation"}


def _pipeline_result(attempts: list[dict[str, Any]]) -> str | None:
    """The session's own state when it is stored here; else (events from elsewhere) failure if a task never completed."""
    status = attempts[0]["session_status"]
    if status is not None:
        return _SESSION_RESULTS.get(status)
    completed = {a["task_id"] for a in attempts if a["type"] == "task_completed"}
    return "failure" if any(a["type"] == "task_failed" and a["task_id"] not in completed for a in attempts) else "success"


def _import_sdk() -> dict[str, Any]:
    """The SDK classes by name (imported here: the `[otel]` extra is optional)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.metrics import Observation
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.trace import Status, StatusCode, set_span_in_context
    except ImportError:
        raise ConfigError("OTLP export needs the OpenTelemetry SDK", hint="pip install 'buildrunner[otel]'") from None
    return {
        "OTLPMetricExporter": OTLPMetricExporter,
        "OTLPSpanExporter": OTLPSpanExporter,
        "Observation": Observation,
        "MeterProvider": MeterProvider,
        "InMemoryMetricReader": InMemoryMetricReader,
        "MetricExportResult": MetricExportResult,
        "ExplicitBucketHistogramAggregation": ExplicitBucketHistogramAggregation,
        "View": View,
        "Resource": Resource,
        "TracerProvider": TracerProvider,
        "SimpleSpanProcessor": SimpleSpanProcessor,
        "SpanExportResult": SpanExportResult,
        "InMemorySpanExporter": InMemorySpanExporter,
        "Status": Status,
        "StatusCode": StatusCode,
        "set_span_in_context": set_span_in_context,
    }


_SIGNAL_PATHS = ("/v1/traces", "/v1/metrics", "/v1/logs")
_ENV_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")


def _checked(url: str, source: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"OTLP endpoint {url!r} ({source}): expected an http:// or https:// URL", hint="e.g. http://localhost:4318")
    return url.rstrip("/")


def _base_of(url: str) -> str:
    """A base URL: one given with a signal's path (Langfuse and many vendors document `.../v1/traces`) loses it, or
    the spans went to `.../v1/traces/v1/traces`."""
    for path in _SIGNAL_PATHS:
        if url.endswith(path):
            return url[: -len(path)]
    return url


def _signal_urls(base: str | None) -> tuple[str, str]:
    """(traces URL, metrics URL): from --endpoint or telemetry.otlp.endpoint (a base), else from the environment as the
    OpenTelemetry SDKs read it (OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT are full URLs; OTEL_EXPORTER_OTLP_ENDPOINT a base)."""
    if base:
        root = _base_of(_checked(base, "--endpoint or telemetry.otlp.endpoint"))
        return f"{root}/v1/traces", f"{root}/v1/metrics"
    env = {name: _checked(value, name) for name in _ENV_ENDPOINTS if (value := os.environ.get(name))}
    if not env:
        raise ConfigError(
            "no OTLP endpoint configured",
            hint="pass --endpoint http://collector:4318, set telemetry.otlp.endpoint, or OTEL_EXPORTER_OTLP_ENDPOINT",
        )
    # A signal's own URL wins; else the base's (the generic variable's, or the other signal's URL without its path).
    root = _base_of(env.get(_ENV_ENDPOINTS[0]) or next(iter(env.values())))
    traces, metrics = (env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", f"{root}/v1/{signal}") for signal in ("traces", "metrics"))
    return traces, metrics


def _env_headers(what: str) -> dict[str, str]:
    """The headers the OpenTelemetry SDK sends from the environment (OTEL_EXPORTER_OTLP_HEADERS, then the signal's
    own), read by the SDK's own parser."""
    from opentelemetry.util.re import parse_env_headers

    signal = "TRACES" if what == "spans" else "METRICS"
    headers: dict[str, str] = {}
    for name in ("OTEL_EXPORTER_OTLP_HEADERS", f"OTEL_EXPORTER_OTLP_{signal}_HEADERS"):
        headers.update(parse_env_headers(os.environ.get(name, "")))
    return headers


def _answer(url: str, headers: dict[str, str] | None, timeout: float) -> tuple[int | None, str]:
    """How the collector answers an empty export at `url`: (HTTP status or None, what to tell the user). The SDK's
    exporter says only that an export failed; this says why (HTTP 401 and its body, a timeout, a refused connection)."""
    request = urllib.request.Request(url, data=b"", method="POST", headers={**(headers or {}), "Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
        return exc.code, f"HTTP {exc.code}" + (f": {body}" if body else "")
    except TimeoutError:
        return None, f"no answer within {timeout:g} s"
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"no answer within {timeout:g} s" if isinstance(reason, TimeoutError) else str(reason)


class OtlpExporter:
    """Export the spans and metrics of the last `hours` to an OTLP/HTTP endpoint."""

    def __init__(self, project: "Project | None" = None, endpoint: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.analyzer = MetricsAnalyzer(project)
        self.project = self.analyzer.project
        settings = self.project.config.telemetry.otlp
        self.traces_url, self.metrics_url = _signal_urls(endpoint or settings.endpoint)
        self.endpoint = _base_of(self.traces_url)
        # None lets the SDK read OTEL_EXPORTER_OTLP_HEADERS itself.
        self.headers = {**settings.headers, **(headers or {})} or None
        self.timeout = settings.timeout_s
        self.service_name = settings.service_name
        self._providers: dict[str | None, str] = {}

    def export(self, hours: float = 24) -> OtlpResult:
        """Post the window's spans, then its metrics; raises APIError when the collector refuses."""
        # The SDK logs each retry; the outcome is reported once, by the APIError below.
        quiet = logging.getLogger("opentelemetry.exporter.otlp")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            return self._export(hours)
        finally:
            quiet.setLevel(level)

    def _reachable(self) -> None:
        """One connection attempt first: the SDK retries a refused connection with backoff for its whole timeout (8 s)
        and then says only that the collector did not accept the spans."""
        try:
            url = urlsplit(self.traces_url)
            port = url.port or (443 if url.scheme == "https" else 80)
        except ValueError as exc:
            raise ConfigError(f"OTLP endpoint {self.endpoint!r}: {exc}", hint="e.g. http://localhost:4318") from None
        if urllib.request.getproxies().get(url.scheme) and not urllib.request.proxy_bypass(url.hostname or ""):
            return  # the SDK sends through the proxy (HTTP(S)_PROXY): the collector's own address may not resolve here
        try:
            socket.create_connection((url.hostname or "localhost", port), timeout=min(self.timeout, CONNECT_TIMEOUT_S)).close()
        except OSError as exc:
            raise APIError(
                f"cannot reach the OTLP collector at {self.endpoint}: {exc.strerror or exc}",
                hint="check the endpoint and that the collector is running",
            ) from None

    def _export(self, hours: float) -> OtlpResult:
        self._reachable()
        sdk = _import_sdk()
        since, until = window(hours)
        resource = sdk["Resource"].create({"service.name": self.service_name, "service.namespace": "buildrunner"})
        spans = self._spans(sdk, resource, since, until)
        metrics = self._metrics(sdk, resource, since, until)
        span_exporter = sdk["OTLPSpanExporter"](endpoint=self.traces_url, headers=self.headers, timeout=self.timeout)
        for start in range(0, len(spans), SPAN_BATCH):
            if span_exporter.export(spans[start : start + SPAN_BATCH]) != sdk["SpanExportResult"].SUCCESS:
                raise self._refused("spans", self.traces_url)
        span_exporter.shutdown()
        points = 0
        if metrics is not None:
            points = sum(len(m.data.data_points) for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
            metric_exporter = sdk["OTLPMetricExporter"](endpoint=self.metrics_url, headers=self.headers, timeout=self.timeout)
            accepted = metric_exporter.export(metrics) == sdk["MetricExportResult"].SUCCESS
            metric_exporter.shutdown()
            if not accepted:
                if not spans or not self._no_metrics_path():
                    raise self._refused("metrics", self.metrics_url)
                # it took the spans: a collector for traces only (Langfuse, Jaeger, Tempo answer 404 on /v1/metrics)
                note = f"the collector took the {plural(len(spans), 'span')} but not the metrics: it may accept traces only (Langfuse, Jaeger and Tempo do)"
                return OtlpResult(endpoint=self.endpoint, spans=len(spans), metric_points=0, note=note)
        return OtlpResult(endpoint=self.endpoint, spans=len(spans), metric_points=points)

    def _no_metrics_path(self) -> bool:
        """Whether the collector answers 404 on its metrics URL: it takes traces only (Langfuse, Jaeger, Tempo). Any other
        refusal (401, 413, a 5xx, a timeout) is a failed export, not a kind of collector."""
        return _answer(self.metrics_url, self.headers, min(self.timeout, CONNECT_TIMEOUT_S))[0] == 404

    def _provider(self, agent: str | None) -> str:
        """`gen_ai.provider.name` of a record's agent's models, as the GenAI conventions name providers (Codex: openai,
        Gemini CLI: gcp.gemini); a direct API request or an unknown agent: Anthropic's."""
        from buildrunner.agents.registry import get_agent  # pydantic (agents' settings): only for a record naming an agent

        if agent not in self._providers:
            try:
                found = get_agent(agent, self.project.config).provider if agent else PROVIDER
            except ConfigError:
                found = PROVIDER
            self._providers[agent] = SEMCONV_PROVIDERS.get(found, found)
        return self._providers[agent]

    def _refused(self, what: str, url: str) -> APIError:
        """The collector did not take the spans or metrics: say how it answers an empty export (status and body, or no
        answer), with the headers the SDK sent (its environment's when none were given here)."""
        status, said = _answer(url, self.headers or _env_headers(what), self.timeout)
        if status is not None and 200 <= status < 300:
            said = f"it accepts an empty export, so what it refused was in the data: too large, or a value it rejects ({said})"
        return APIError(f"OTLP collector at {url} did not accept the {what} ({said})", hint="check the endpoint, headers and that the collector is running")

    def _task_usage(self, since: float, until: float) -> dict[tuple[str | None, str | None], list[dict[str, Any]]]:
        """Each task's cost records, oldest first: an attempt's usage is the records written while it ran."""
        usage: dict[tuple[str | None, str | None], list[dict[str, Any]]] = defaultdict(list)
        for r in self.analyzer.rows("otlp_task_usage", {"since": since, "until": until}):
            usage[(r["session_id"], r["task_id"])].append(r)
        return usage

    def _spans(self, sdk: dict[str, Any], resource: Any, since: float, until: float) -> list[Any]:
        """A parent span per session and a child per finished task attempt, with their real times."""
        memory = sdk["InMemorySpanExporter"]()
        ids = _StableIds()
        provider = sdk["TracerProvider"](resource=resource, id_generator=ids)
        provider.add_span_processor(sdk["SimpleSpanProcessor"](memory))
        tracer = provider.get_tracer(SCOPE)
        rows = self.analyzer.rows("otlp_finished_attempts", {"since": since, "until": until})
        usage = self._task_usage(since, until)
        ran = {
            (r["session_id"], r["task_id"], int(r["attempt"])): (float(r["started_at"]), float(r["finished_at"]))
            for r in self.analyzer.rows("otlp_attempt_times", {"since": since, "until": until})
        }
        by_session: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_session[row["session_id"]].append(row)
        for session_id, attempts in by_session.items():
            starts = [a["ts"] - (a["duration_ms"] or 0) / 1000 for a in attempts]
            name = attempts[0]["session_name"] or session_id or "standalone"
            result = _pipeline_result(attempts)
            ids.key = f"session:{session_id or 'standalone'}:{min(starts) if session_id is None else ''}"
            parent = tracer.start_span(
                f"session {name}",
                start_time=_ns(min(starts)),
                attributes={
                    "cicd.pipeline.name": name,
                    **({"cicd.pipeline.run.id": session_id} if session_id else {}),
                    **({"cicd.pipeline.result": result} if result else {}),
                },
            )
            context = sdk["set_span_in_context"](parent)
            for attempt, start in zip(attempts, starts):
                meta = json.loads(attempt["data"]) if attempt["data"] else {}
                number = meta.get("attempt")
                ids.key = f"{session_id}/{attempt['task_id']}/" + (str(number) if number is not None else f"event{attempt['id']}")
                # The stored attempt's own times where this store ran it (the next rung starts the moment this one ends, and
                # a verify can outlast the agent the event's duration measures); else the event's, with a little slack.
                fallback = (start - SLACK_S, attempt["ts"] + SLACK_S)
                first, last = ran.get((session_id, attempt["task_id"], int(number)), fallback) if number is not None else fallback
                records = [r for r in usage.get((session_id, attempt["task_id"]), []) if first <= r["ts"] <= last]
                self._task_span(sdk, tracer, context, attempt, meta, start, records)
            parent.end(end_time=_ns(max(a["ts"] for a in attempts)))
        provider.shutdown()
        return list(memory.get_finished_spans())

    def _task_span(
        self, sdk: dict[str, Any], tracer: Any, context: Any, row: dict[str, Any], meta: dict[str, Any], start: float, records: list[dict[str, Any]]
    ) -> None:
        """One attempt's span: its model and tokens from the cost records written while it ran (its own, not its task's)."""
        ok = row["type"] == "task_completed"
        attempt = meta.get("attempt")
        attributes: dict[str, Any] = {
            "cicd.pipeline.task.name": row["task_id"] or "task",
            "cicd.pipeline.task.run.id": "/".join(str(p) for p in (row["session_id"], row["task_id"], attempt) if p is not None),
            "cicd.pipeline.task.run.result": "success" if ok else "failure",
        }
        if row["worker_id"]:
            attributes["cicd.worker.id"] = row["worker_id"]
        if attempt is not None:
            attributes["buildrunner.task.attempt"] = int(attempt)
        model = records[-1]["model"] if records else meta.get("model")
        if model:
            provider = self._provider(records[-1]["agent"] if records else None)
            attributes.update({"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": provider, "gen_ai.request.model": str(model)})
        if records:
            attributes["gen_ai.usage.input_tokens"] = sum(int(r["input_tokens"] or 0) for r in records)
            attributes["gen_ai.usage.output_tokens"] = sum(int(r["output_tokens"] or 0) for r in records)
        cost = row["cost"] if row["cost"] is not None else (sum(float(r["cost"] or 0) for r in records) if records else None)
        if cost is not None:
            attributes["buildrunner.cost_usd"] = float(cost)
        if not ok and row["error_key"]:
            attributes["error.type"] = row["error_key"][:100]
        span = tracer.start_span(f"task {row['task_id'] or 'task'}", context=context, start_time=_ns(start), attributes=attributes)
        if not ok:
            span.set_status(sdk["Status"](sdk["StatusCode"].ERROR, row["error"] or "task failed"))
        span.end(end_time=_ns(row["ts"]))

    def _metrics(self, sdk: dict[str, Any], resource: Any, since: float, until: float) -> Any:
        """Token usage and operation duration (GenAI names), task outcomes, duration and cost."""
        reader = sdk["InMemoryMetricReader"]()
        views = [
            sdk["View"](instrument_name=name, aggregation=sdk["ExplicitBucketHistogramAggregation"](boundaries=bounds))
            for name, bounds in (
                ("gen_ai.client.token.usage", TOKEN_COUNTS), ("gen_ai.client.operation.duration", OPERATION_SECONDS), ("buildrunner.task.duration", TASK_SECONDS),
            )
        ]
        provider = sdk["MeterProvider"](resource=resource, metric_readers=[reader], views=views)
        meter = provider.get_meter(SCOPE)
        tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}", description="Tokens used per agent call.")
        op_duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s", description="Duration of agent calls.")
        task_duration = meter.create_histogram("buildrunner.task.duration", unit="s", description="Duration of finished task attempts.")
        window_params = {"since": since, "until": until}
        spend: dict[str, float] = defaultdict(float)
        for r in self.analyzer.rows("otlp_cost_records", window_params):
            model = r["model_id"] or r["model"]  # the model, as on the spans (a tier is not a model name)
            base = {"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": self._provider(r["agent"]), "gen_ai.request.model": model}
            tokens.record(int(r["input_tokens"]), {**base, "gen_ai.token.type": "input"})
            tokens.record(int(r["output_tokens"]), {**base, "gen_ai.token.type": "output"})
            if r["latency_ms"] is not None:
                op_duration.record(float(r["latency_ms"]) / 1000, base)
            spend[model] += float(r["cost"])
        for r in self.analyzer.rows("otlp_attempt_durations", window_params):
            task_duration.record(float(r["duration_ms"]) / 1000, {"cicd.pipeline.task.run.result": "success" if r["type"] == "task_completed" else "failure"})
        m = self.analyzer.metrics_between(since, until, with_errors=False)
        # Totals over the export window, which slides: gauges, not monotonic sums (a sum whose window moved on would
        # drop, read as a counter reset); each point says its window.
        window = {"buildrunner.window.hours": round((until - since) / 3600, 3)}
        observe = sdk["Observation"]
        meter.create_observable_gauge(
            "buildrunner.cost", unit="USD", description="Spend in the export window (--hours), from the cost records.",
            callbacks=[lambda _options: [observe(v, {**window, "gen_ai.request.model": k}) for k, v in spend.items()]],
        )
        outcomes = {"success": m.succeeded_tasks, "failure": m.failed_tasks}
        meter.create_observable_gauge(
            "buildrunner.tasks.finished", unit="{task}", description="Tasks finished in the export window by result (retried then completed counts once).",
            callbacks=[lambda _options: [observe(n, {**window, "cicd.pipeline.task.run.result": k}) for k, n in outcomes.items() if n]],
        )
        data = reader.get_metrics_data()
        provider.shutdown()
        return data
