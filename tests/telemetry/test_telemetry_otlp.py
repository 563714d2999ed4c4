"""OTLP/HTTP export against a real receiver started in the test (the [otel] extra)."""

from __future__ import annotations

import json
import os

import pytest

if not os.environ.get("CI"):  # in CI the [otel] extra is installed and these tests must run
    pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra")

from otlp_receiver import OtlpReceiver, attributes  # noqa: E402
from telemetry_helpers import add_cost, finished  # noqa: E402

from buildrunner.errors import APIError, ConfigError  # noqa: E402
from buildrunner.project import Project  # noqa: E402
from buildrunner.telemetry.event_collector import EventCollector  # noqa: E402
from buildrunner.telemetry.otlp import OtlpExporter  # noqa: E402


def spans_of(receiver: OtlpReceiver) -> list:
    return [span for req in receiver.received.traces for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans]


def test_spans_and_metrics_with_semconv_names(any_project: Project) -> None:
    EventCollector(any_project).collect_batch(
        [
            finished("s1", "build", False, 2000, age_s=30, error="API timeout after 30s", attempt=1, worker_id="w1"),
            finished("s1", "build", True, 4000, age_s=20, attempt=2, model="sonnet", worker_id="w1"),
            finished("s1", "lint", True, 500, age_s=10, attempt=1),
        ]
    )
    add_cost(any_project, 0.25, model="sonnet", session_id="s1", task_id="build", latency_ms=3500, age_s=22)  # while attempt 2 ran
    with OtlpReceiver() as rx:
        result = OtlpExporter(any_project, endpoint=rx.url, headers={"x-api-key": "k1"}).export(24)
    spans = spans_of(rx)
    assert result.spans == len(spans) == 4
    by_name: dict[str, list] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    [session] = by_name["session s1"]
    tasks = by_name["task build"] + by_name["task lint"]
    assert all(t.parent_span_id == session.span_id and t.trace_id == session.trace_id for t in tasks)
    failed, retried = sorted(by_name["task build"], key=lambda s: s.start_time_unix_nano)
    assert failed.status.code == 2  # STATUS_CODE_ERROR
    assert attributes(failed.attributes)["cicd.pipeline.task.run.result"] == "failure"
    attrs = attributes(retried.attributes)
    assert attrs["cicd.pipeline.task.name"] == "build" and attrs["cicd.pipeline.task.run.result"] == "success"
    assert attrs["gen_ai.request.model"] == "sonnet" and attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["cicd.worker.id"] == "w1" and attrs["buildrunner.task.attempt"] == 2
    assert (retried.end_time_unix_nano - retried.start_time_unix_nano) / 1e6 == pytest.approx(4000, abs=1)
    assert attributes(session.attributes)["cicd.pipeline.result"] == "success"
    names = {m.name for req in rx.received.metrics for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration", "buildrunner.task.duration", "buildrunner.tasks.finished", "buildrunner.cost"} <= names
    assert result.metric_points > 0
    assert all(h.get("x-api-key") == "k1" for h in rx.received.headers)
    resource = attributes(rx.received.traces[0].resource_spans[0].resource.attributes)
    assert resource["service.name"] == "buildrunner"


def test_endpoint_from_standard_env_and_cli(project: Project, run_br, monkeypatch: pytest.MonkeyPatch) -> None:
    EventCollector(project).collect_batch([finished("s1", "t", True, 100)])
    with OtlpReceiver() as rx:
        r = run_br("telemetry", "export", "--type", "otlp", env={"OTEL_EXPORTER_OTLP_ENDPOINT": rx.url})
    assert r.returncode == 0, r.stderr
    assert "Sent 2 spans" in r.stderr and len(spans_of(rx)) == 2


def test_a_collector_for_traces_only_gets_the_spans_and_the_export_succeeds_with_a_note(project: Project, run_br) -> None:
    """Langfuse, Jaeger and Tempo take traces only (404 on /v1/metrics): the spans were delivered, then the export
    failed with exit 5 and no way to send traces alone."""
    EventCollector(project).collect_batch([finished("s1", "t", True, 100)])
    with OtlpReceiver(traces_only=True) as rx:
        r = run_br("telemetry", "export", "--type", "otlp", "--endpoint", rx.url)
        as_json = run_br("telemetry", "export", "--type", "otlp", "--endpoint", rx.url, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "Sent 2 spans and 0 metric points" in r.stderr and "may accept traces only" in r.stderr and len(spans_of(rx)) == 4
    sent = json.loads(as_json.stdout)
    assert (sent["spans"], sent["metric_points"]) == (2, 0) and "traces only" in sent["note"]
    with OtlpReceiver(metrics_status=401) as rx:  # a refused metrics export is a failure, not a kind of collector
        refused = run_br("telemetry", "export", "--type", "otlp", "--endpoint", rx.url)
    assert refused.returncode == 5 and "did not accept the metrics" in refused.stderr


def test_no_endpoint_or_dead_collector_is_a_clear_error(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with pytest.raises(ConfigError, match="no OTLP endpoint"):
        OtlpExporter(project)
    EventCollector(project).collect_event(finished("s", "t", True, 100, age_s=1))
    with OtlpReceiver(status=400) as rx:
        with pytest.raises(APIError, match="did not accept"):
            OtlpExporter(project, endpoint=rx.url).export(1)
        closed = rx.url  # the receiver stops below: nothing listens on its port any more
    with pytest.raises(APIError, match=f"cannot reach the OTLP collector at {closed}"):
        OtlpExporter(project, endpoint=closed).export(1)  # said at once, not after the SDK's retries
    with pytest.raises(ConfigError, match="OTLP endpoint 'http://collector:99999'"):
        OtlpExporter(project, endpoint="http://collector:99999").export(1)  # was an "unexpected ValueError"


def test_endpoint_and_headers_from_config(tmp_project) -> None:
    from buildrunner.config import Config

    with OtlpReceiver() as rx:
        config = Config.model_validate({"telemetry": {"otlp": {"endpoint": rx.url + "/", "headers": {"authorization": "Bearer t0ken"}, "service_name": "ci-runner"}}})
        with Project(tmp_project, config=config) as project:
            EventCollector(project).collect_batch([finished("s1", "t", True, 100)])
            result = OtlpExporter(project).export(1)
    assert result.endpoint == rx.url and result.spans == 2
    assert rx.received.headers[0]["authorization"] == "Bearer t0ken"
    assert attributes(rx.received.traces[0].resource_spans[0].resource.attributes)["service.name"] == "ci-runner"


def test_a_stored_sessions_result_is_its_own_state(any_project: Project) -> None:
    """A session still retrying is not reported as failed: running has no result yet, then its end state."""
    from buildrunner.parallel.plan import validate_plan
    from buildrunner.parallel.session_manager import SessionManager

    manager = SessionManager(any_project)
    sid = manager.create_session("otlp", plan=validate_plan({"tasks": [{"id": "a", "command": "true"}]}, "p"), start_workers=False).session_id
    EventCollector(any_project).collect_batch([finished(sid, "a", False, 1000, age_s=20, attempt=1)])

    def session_result() -> str | None:
        with OtlpReceiver() as rx:
            OtlpExporter(any_project, endpoint=rx.url).export(24)
        [session] = [s for s in spans_of(rx) if s.name == "session otlp"]
        return attributes(session.attributes).get("cicd.pipeline.result")

    assert session_result() is None  # running: its failed attempt may still be retried
    manager.stop_session(sid)
    assert session_result() == "cancellation"


def test_each_attempt_has_its_own_model_and_tokens_and_a_second_export_sends_the_same_ids(any_project: Project) -> None:
    """A prompt task climbed haiku -> sonnet -> opus: every span said sonnet, and a failed rung carried the task's tokens."""
    EventCollector(any_project).collect_batch(
        [
            finished("s2", "fix", False, 2000, age_s=40, attempt=1, model="haiku"),
            finished("s2", "fix", False, 2000, age_s=30, attempt=2, model="sonnet"),
            finished("s2", "fix", True, 2000, age_s=20, attempt=3, model="opus"),
        ]
    )
    for age, model, tokens in ((41, "claude-haiku-4-5", 100), (31, "claude-sonnet-4-5", 200), (21, "claude-opus-4-1", 300)):
        add_cost(any_project, 0.01, model=model, session_id="s2", task_id="fix", age_s=age, input_tokens=tokens, output_tokens=tokens // 2)

    def export() -> list:
        with OtlpReceiver() as rx:
            OtlpExporter(any_project, endpoint=rx.url).export(24)
        return spans_of(rx), rx.received.metrics

    spans, metrics = export()
    rungs = sorted((s for s in spans if s.name == "task fix"), key=lambda s: s.start_time_unix_nano)
    assert [attributes(s.attributes)["gen_ai.request.model"] for s in rungs] == ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"]
    assert [attributes(s.attributes)["gen_ai.usage.input_tokens"] for s in rungs] == [100, 200, 300]
    again, _ = export()
    assert sorted((s.trace_id, s.span_id) for s in again) == sorted((s.trace_id, s.span_id) for s in spans)  # a collector keeps them once
    by_name = {m.name: m for req in metrics for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    bounds = list(by_name["buildrunner.task.duration"].histogram.data_points[0].explicit_bounds)
    assert bounds[0] < 1 and sum(1 for b in bounds if b <= 5) >= 4  # attempts of a few seconds fall in different buckets
    assert by_name["buildrunner.cost"].WhichOneof("data") == "gauge"  # a window's total, not a counter that drops as it slides


def test_a_rung_claimed_the_moment_the_last_one_failed_keeps_its_own_tokens(any_project: Project) -> None:
    """The next rung starts at once: the last rung's cost record, a moment before, was counted in both."""
    from buildrunner.parallel.plan import validate_plan
    from buildrunner.parallel.session_manager import SessionManager
    from buildrunner.parallel.states import AttemptState
    from buildrunner.parallel.worker_coordinator import WorkerCoordinator

    sid = SessionManager(any_project).create_session(
        "ladder", plan=validate_plan({"tasks": [{"id": "fix", "command": "true"}], "retries": 1}, "p"), start_workers=False
    ).session_id
    coordinator = WorkerCoordinator(sid, any_project)
    worker = coordinator.register_worker()
    for tokens, model, end in ((100, "claude-haiku-4-5", AttemptState.FAILED), (200, "claude-sonnet-4-5", AttemptState.COMPLETED)):
        task = coordinator.get_next_task(worker)
        assert task is not None
        add_cost(any_project, 0.01, model=model, session_id=sid, task_id="fix", age_s=0, input_tokens=tokens, output_tokens=1)
        climb = {"escalate_to": "sonnet"} if end == AttemptState.FAILED else {}  # the next rung is claimable at once
        coordinator.finish_attempt(worker, "fix", task.attempt, end, error="boom" if climb else None, model=model, duration_ms=1.0, **climb)
    with OtlpReceiver() as rx:
        OtlpExporter(any_project, endpoint=rx.url).export(24)
    rungs = sorted((s for s in spans_of(rx) if s.name == "task fix"), key=lambda s: attributes(s.attributes)["buildrunner.task.attempt"])
    assert [attributes(s.attributes)["gen_ai.usage.input_tokens"] for s in rungs] == [100, 200]


def test_an_endpoint_given_with_its_signal_path_is_used_as_its_base(project: Project) -> None:
    """Langfuse and many vendors document `.../v1/traces`: the spans went to `.../v1/traces/v1/traces`."""
    EventCollector(project).collect_event(finished("s", "t", True, 100, age_s=1))
    with OtlpReceiver() as rx:
        OtlpExporter(project, endpoint=f"{rx.url}/v1/traces").export(1)
    assert sorted(set(rx.received.paths)) == ["/v1/metrics", "/v1/traces"] and len(spans_of(rx)) == 2


def test_the_signal_endpoints_of_the_environment_are_read(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL, as the SDKs read it) was ignored: no endpoint configured."""
    EventCollector(project).collect_event(finished("s", "t", True, 100, age_s=1))
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with OtlpReceiver() as rx:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{rx.url}/v1/traces")
        sent = OtlpExporter(project).export(1)
    assert (sent.spans, len(spans_of(rx))) == (2, 2) and "/v1/metrics" in rx.received.paths


def test_a_refusing_collector_is_quoted_with_its_status_and_reason(project: Project) -> None:
    EventCollector(project).collect_event(finished("s", "t", True, 100, age_s=1))
    with OtlpReceiver(status=500, refusal=b"ingestion quota exceeded for this project") as rx:
        with pytest.raises(APIError, match="did not accept the spans [(]HTTP 500: ingestion quota exceeded for this project[)]"):
            OtlpExporter(project, endpoint=rx.url).export(1)


def test_metrics_name_the_model_as_the_spans_do(any_project: Project) -> None:
    """Spans said claude-haiku-4-5 and the token and cost metrics said "haiku" (a tier): they did not join."""
    EventCollector(any_project).collect_event(finished("s1", "t", True, 4000, age_s=10, attempt=1))
    add_cost(any_project, 0.25, model="haiku", model_id="claude-haiku-4-5", session_id="s1", task_id="t", latency_ms=3500, age_s=12)
    with OtlpReceiver() as rx:
        OtlpExporter(any_project, endpoint=rx.url).export(24)
    points = [
        (m.name, attributes(p.attributes))
        for req in rx.received.metrics for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        for p in (m.histogram.data_points if m.HasField("histogram") else m.gauge.data_points)
        if m.name in ("gen_ai.client.token.usage", "buildrunner.cost")
    ]
    assert points and {attrs["gen_ai.request.model"] for _, attrs in points} == {"claude-haiku-4-5"}
    assert {attrs.get("buildrunner.window.hours") for name, attrs in points if name == "buildrunner.cost"} == {24.0}
    [task] = [s for s in spans_of(rx) if s.name == "task t"]
    assert attributes(task.attributes)["gen_ai.request.model"] == "claude-haiku-4-5"


def test_a_refusal_of_the_data_is_not_blamed_on_the_headers_the_sdk_read(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe that says why ran without OTEL_EXPORTER_OTLP_HEADERS (the SDK reads them itself): a collector refusing
    the spans' content was reported as refusing the token."""
    EventCollector(project).collect_event(finished("s", "t", True, 100, age_s=1))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20good")
    with OtlpReceiver(auth="Bearer good", data_status=400) as rx:
        with pytest.raises(APIError, match="accepts an empty export, so what it refused was in the data") as refused:
            OtlpExporter(project, endpoint=rx.url).export(1)
    assert "HTTP 401" not in str(refused.value)  # (a port such as 40155 may hold the digits)


def test_each_agents_models_are_named_with_their_provider(any_project: Project) -> None:
    """Every span and metric said gen_ai.provider.name anthropic, a Codex run's gpt-5.1-codex included."""
    EventCollector(any_project).collect_event(finished("s1", "t", True, 4000, age_s=10, attempt=1))
    add_cost(any_project, 0.25, model="gpt-5.1-codex", model_id="gpt-5.1-codex", agent="codex", session_id="s1", task_id="t", age_s=12)
    add_cost(any_project, 0.10, model="gemini-2.5-pro", model_id="gemini-2.5-pro", agent="gemini", session_id="s2", task_id="u", age_s=30)
    add_cost(any_project, 0.05, model="haiku", model_id="claude-haiku-4-5", age_s=40)
    with OtlpReceiver() as rx:
        OtlpExporter(any_project, endpoint=rx.url).export(24)
    providers = {
        attributes(p.attributes)["gen_ai.request.model"]: attributes(p.attributes)["gen_ai.provider.name"]
        for req in rx.received.metrics for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
        if m.name == "gen_ai.client.token.usage" for p in m.histogram.data_points
    }
    assert providers == {"gpt-5.1-codex": "openai", "gemini-2.5-pro": "gcp.gemini", "claude-haiku-4-5": "anthropic"}
    [task] = [s for s in spans_of(rx) if s.name == "task t"]
    assert attributes(task.attributes)["gen_ai.provider.name"] == "openai"
