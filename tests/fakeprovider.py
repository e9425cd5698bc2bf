"""A real HTTP server on 127.0.0.1 that answers like OpenAI and Anthropic, for tests.

The SDKs talk to it over real sockets, so their request building, status handling and
timeouts are what is tested. Script the next answers with `queue()`; once the queue is
empty every request succeeds with `fake.reply`. Every request is kept in `received`.

    with FakeProvider() as fake:
        fake.queue(status(429, headers={"retry-after": "2"}), success("Hi"))
        OpenAIBackend("sk-test", base_url=fake.openai_url).complete(...)
        assert len(fake.received) == 1
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from sandbox.backends import CompletionRequest

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
# Shaped like a real key, so tests can search messages for it.
FAKE_KEY = "sk-test-0123456789abcdefSECRET"
# The request the backend tests send: a system prompt, one user turn, parameters to check.
REQUEST = CompletionRequest(
    model="test-model",
    system="You are terse.",
    messages=({"role": "user", "content": "Say hello."},),
    temperature=0.3,
    max_tokens=42,
)
# A hung request gives up after this long even if the test never stops the server.
MAX_HANG_SECONDS = 60.0


@dataclass(frozen=True)
class Script:
    """One scripted answer. Build it with success(), status(), hang() or raw()."""

    kind: Literal["success", "status", "hang", "raw"]
    status: int = 200
    text: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    request_id: str = "req_fake_1"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"


def success(
    text: str | None = None,
    *,
    input_tokens: int = 11,
    output_tokens: int = 7,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    cache_creation_tokens: int = 0,
    request_id: str = "req_fake_1",
) -> Script:
    """Answer 200 in the wire format of the path asked; text defaults to `fake.reply`.

    input_tokens counts every prompt token, as OpenAI's prompt_tokens does: cached_tokens
    (read from the provider's prompt cache) and cache_creation_tokens (written to it) are
    part of it. Anthropic's wire format reports the three apart, as the real API does."""
    usage = {
        "input": input_tokens,
        "output": output_tokens,
        "cached": cached_tokens,
        "reasoning": reasoning_tokens,
        "cache_creation": cache_creation_tokens,
    }
    return Script("success", text=text, usage=usage, request_id=request_id)


def status(code: int, headers: dict[str, str] | None = None, message: str = "") -> Script:
    """Answer an error status with the provider's error body."""
    return Script("status", status=code, headers=headers or {}, text=message or None)


def hang() -> Script:
    """Read the request and never answer (until the server stops or MAX_HANG_SECONDS)."""
    return Script("hang")


def raw(body: bytes, code: int = 200, content_type: str = "application/json") -> Script:
    """Answer exactly these bytes, e.g. a truncated JSON body."""
    return Script("raw", status=code, body=body, content_type=content_type)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class FakeProvider:
    def __init__(self, reply: str = "Hello there!") -> None:
        self.reply = reply
        self.received: list[Received] = []
        self.stopping = threading.Event()
        self._scripts: deque[Script] = deque()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval makes stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """The base_url for the OpenAI SDK (it appends /chat/completions)."""
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        """The base_url for the Anthropic SDK (it appends /v1/messages)."""
        return self.url

    def queue(self, *scripts: Script) -> None:
        with self._lock:
            self._scripts.extend(scripts)

    def calls(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        # Idle keep-alive connections would otherwise hold a handler thread each.
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def _next(self, received: Received) -> Script:
        with self._lock:
            self.received.append(received)
            return self._scripts.popleft() if self._scripts else success()


def _handler_for(fake: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps the SDK's pooled connection open, as a real provider does.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this each answer waits ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw_body = self.rfile.read(length)
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = raw_body
            received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if self.path not in (OPENAI_PATH, ANTHROPIC_PATH):
                fake._record(received)
                self._send(404, {"error": {"message": f"No route {self.path}"}}, {})
                return
            script = fake._next(received)
            if script.kind == "hang":
                fake.stopping.wait(MAX_HANG_SECONDS)
                self.close_connection = True
            elif script.kind == "raw":
                self._send_bytes(script.status, script.body, script.content_type, {})
            elif script.kind == "status":
                self._send(script.status, self._error_body(script), script.headers)
            else:
                answer = self._openai if self.path == OPENAI_PATH else self._anthropic
                answer(script, body if isinstance(body, dict) else {})

        def _openai(self, script: Script, request: dict[str, Any]) -> None:
            usage = script.usage
            body = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": request.get("model", "gpt-fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self._text(script)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": usage["input"],
                    "completion_tokens": usage["output"],
                    "total_tokens": usage["input"] + usage["output"],
                    "prompt_tokens_details": {"cached_tokens": usage["cached"]},
                    "completion_tokens_details": {"reasoning_tokens": usage["reasoning"]},
                },
            }
            self._send(200, body, {"x-request-id": script.request_id})

        def _anthropic(self, script: Script, request: dict[str, Any]) -> None:
            usage = script.usage
            body = {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": request.get("model", "claude-fake"),
                "content": [{"type": "text", "text": self._text(script)}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": usage["input"] - usage["cached"] - usage["cache_creation"],
                    "output_tokens": usage["output"],
                    "cache_read_input_tokens": usage["cached"],
                    "cache_creation_input_tokens": usage["cache_creation"],
                    "output_tokens_details": {"thinking_tokens": usage["reasoning"]},
                },
            }
            self._send(200, body, {"request-id": script.request_id})

        def _text(self, script: Script) -> str:
            return fake.reply if script.text is None else script.text

        def _error_body(self, script: Script) -> dict[str, Any]:
            kind = ERROR_TYPES.get(script.status, "api_error")
            message = script.text or f"Fake error {script.status}"
            if self.path == ANTHROPIC_PATH:
                return {"type": "error", "error": {"type": kind, "message": message}}
            return {"error": {"message": message, "type": kind, "param": None, "code": None}}

        def _send(self, code: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            self._send_bytes(code, json.dumps(body).encode(), "application/json", headers)

        def _send_bytes(
            self, code: int, payload: bytes, content_type: str, headers: dict[str, str]
        ) -> None:
            self.send_response(code)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler
