"""A small OTLP/HTTP receiver for tests: decodes what the exporters post, answers 200."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    traces: list[Any] = field(default_factory=list)
    metrics: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


class OtlpReceiver:
    """`with OtlpReceiver() as rx:` serves http://127.0.0.1:<port>/v1/{traces,metrics}."""

    def __init__(
        self, status: int = 200, traces_only: bool = False, metrics_status: int | None = None, refusal: bytes = b"",
        auth: str | None = None, data_status: int | None = None,
    ) -> None:
        """`traces_only`: /v1/metrics answers 404, as Langfuse, Jaeger and Tempo do; `metrics_status`: what it answers;
        `refusal`: the body of a refusal (what the collector says is wrong); `auth`: the Authorization header it
        requires (401 without); `data_status`: what it answers a post that holds data (an empty one gets 200)."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        received = self.received = Received()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.headers.append(dict(self.headers))
                received.paths.append(self.path)
                if self.path == "/v1/traces":
                    received.traces.append(ExportTraceServiceRequest.FromString(body))
                elif self.path == "/v1/metrics":
                    received.metrics.append(ExportMetricsServiceRequest.FromString(body))
                served = ("/v1/traces",) if traces_only else ("/v1/traces", "/v1/metrics")
                answer = status if self.path in served else 404
                if self.path == "/v1/metrics" and metrics_status is not None:
                    answer = metrics_status
                if data_status is not None:
                    answer = data_status if body else 200
                if auth is not None and self.headers.get("Authorization") != auth:
                    answer = 401
                said = refusal if answer >= 400 else b""
                self.send_response(answer)
                self.send_header("Content-Type", "text/plain" if said else "application/x-protobuf")
                self.send_header("Content-Length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OtlpReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def attributes(kvs: Any) -> dict[str, Any]:
    """OTLP KeyValue list -> plain dict."""
    out = {}
    for kv in kvs:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out
