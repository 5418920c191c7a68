"""A loopback fake of the OpenAI and Anthropic HTTP APIs, scriptable per request.

It speaks what the real SDKs send and expect, so tests drive `openai.OpenAI` and
`anthropic.Anthropic` against it through `base_url`:

- `POST /v1/chat/completions`: OpenAI Chat Completions, streaming (SSE `data:` chunks, the usage
  chunk when `stream_options.include_usage` is set, then `data: [DONE]`) and non-streaming.
- `POST /v1/messages`: Anthropic Messages, streaming (`message_start`, `content_block_start`,
  `ping`, `content_block_delta`..., `content_block_stop`, `message_delta`, `message_stop`) and
  non-streaming.
- `POST /v1/embeddings`: OpenAI embeddings, deterministic unit vectors; honours `dimensions`
  and both `encoding_format`s.
- `GET /v1/models`: a one-model list, for OpenAI-compatible clients that probe it.

Scripting. Each request runs one *scenario* (a JSON object, see `Scenario` below), chosen in
this order: the `X-Fake-Scenario: <json>` request header; else the first queued scenario whose
`match` fits the request; else the default (echo a short reply). Queue scenarios from Python
(`server.queue(...)`) or over HTTP (`POST /_fake/scenarios` with an object or a list), so a
server in another process (daphne, Celery) can be scripted too.

Control endpoints: `POST /_fake/scenarios`, `POST /_fake/reset`, `GET /_fake/requests`
(every request received: path, protocol, body, scenario, chunks sent, whether the client went
away), `GET /_fake/health`.

Standalone: `python -m tests.fakes.llm_server --port 8765`; then
`OPENAI_BASE_URL=http://127.0.0.1:8765/v1` and `ANTHROPIC_BASE_URL=http://127.0.0.1:8765`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import re
import select
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TEXT = "Hello from the fake model."
SCENARIO_HEADER = "x-fake-scenario"
RESET_GRACE_SECONDS = 0.2
_WORD = re.compile(r"\S+\s*|\s+")

# Named errors, in each protocol's real shape: (status, openai body, anthropic body, headers).
_ERRORS: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {
    "rate_limited": (
        429,
        {"message": "Rate limit reached for requests.", "type": "requests", "code": "rate_limit_exceeded"},
        {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit."},
    ),
    "overloaded": (
        529,
        {"message": "The server is overloaded.", "type": "overloaded_error", "code": "overloaded"},
        {"type": "overloaded_error", "message": "Overloaded"},
    ),
    "server_error": (
        500,
        {"message": "The server had an error while processing your request.", "type": "server_error", "code": None},
        {"type": "api_error", "message": "Internal server error"},
    ),
    "unavailable": (
        503,
        {"message": "Service unavailable.", "type": "server_error", "code": None},
        {"type": "api_error", "message": "Service unavailable"},
    ),
    "context_too_long": (
        400,
        {
            "message": "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 210000 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        },
        {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"},
    ),
    "spend_cap": (
        # OpenAI answers an exhausted budget with 429 insufficient_quota; Anthropic with 402 billing_error.
        429,
        {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        },
        {"type": "billing_error", "message": "Your credit balance is too low to access the Anthropic API."},
    ),
    "bad_request": (
        400,
        {"message": "Invalid value for 'temperature'.", "type": "invalid_request_error", "code": "invalid_value"},
        {"type": "invalid_request_error", "message": "temperature: must be between 0 and 1"},
    ),
    "unauthorized": (
        401,
        {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"},
        {"type": "authentication_error", "message": "invalid x-api-key"},
    ),
}
_ANTHROPIC_STATUS = {"spend_cap": 402}


@dataclass
class Scenario:
    """What one request gets. Every field is optional in the JSON form.

    text / chunks       the reply (chunks: explicit deltas; else `text` split into words)
    tokens_per_second   pace of the deltas (0: as fast as possible)
    usage               {"input_tokens": n, "output_tokens": m} (default: word counts)
    stop_reason         "stop" / "length" (OpenAI names; mapped for Anthropic)
    error               a named error answered instead of a 200 (see `_ERRORS`)
    status, retry_after, error_type, error_code, error_message   override or build an error
    error_after_tokens  send an error *event* after this many deltas (with `error_event`)
    error_event         named error for that event (default "overloaded")
    stall_after_tokens  stop sending after this many deltas, for `stall_seconds` (default 30)
    reset_after_tokens  reset the connection (TCP RST) after this many deltas (0: before headers)
    headers             extra response headers
    match               "openai" / "anthropic" / "embeddings" / "" (any): which requests a queued one fits
    times               how many requests a queued scenario serves (default 1)
    """

    text: str = DEFAULT_TEXT
    chunks: list[str] | None = None
    tokens_per_second: float = 0
    usage: dict[str, int] | None = None
    stop_reason: str = "stop"
    error: str = ""
    status: int | None = None
    retry_after: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_after_tokens: int | None = None
    error_event: str = "overloaded"
    stall_after_tokens: int | None = None
    stall_seconds: float = 30
    reset_after_tokens: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    match: str = ""
    times: int = 1

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown scenario fields: {sorted(unknown)}")
        scenario = cls(**data)
        if scenario.retry_after is not None:
            scenario.retry_after = str(scenario.retry_after)
        return scenario

    def deltas(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return _WORD.findall(self.text)

    def reply_text(self) -> str:
        return "".join(self.deltas())


@dataclass
class RecordedRequest:
    """One request the fake received, for assertions."""

    index: int
    method: str
    path: str
    protocol: str  # openai / anthropic / embeddings / control / other
    headers: dict[str, str]
    body: Any
    scenario: dict[str, Any]
    status: int = 0
    stream: bool = False
    chunks_sent: int = 0
    completed: bool = False
    disconnected: bool = False
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def system(self) -> str:
        """The system prompt, in either protocol."""
        if not isinstance(self.body, dict):
            return ""
        system = self.body.get("system")
        if isinstance(system, str):
            return system
        if isinstance(system, list):
            return "".join(block.get("text", "") for block in system if isinstance(block, dict))
        for message in self.messages:
            if message.get("role") in ("system", "developer"):
                return _content_text(message.get("content"))
        return ""

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "protocol": self.protocol,
            "headers": self.headers,
            "body": self.body,
            "scenario": self.scenario,
            "status": self.status,
            "stream": self.stream,
            "chunks_sent": self.chunks_sent,
            "completed": self.completed,
            "disconnected": self.disconnected,
        }


class _ClientGone(Exception):  # noqa: N818
    """The client closed the connection while we were writing."""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _count_words(text: str) -> int:
    return len(text.split())


def _prompt_words(body: dict[str, Any]) -> int:
    total = _count_words(_content_text(body.get("system")))
    for message in body.get("messages", []) or []:
        total += _count_words(_content_text(message.get("content")))
    return max(total, 1)


def _protocol_for(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith("/embeddings"):
        return "embeddings"
    if path.startswith("/_fake/"):
        return "control"
    return "other"


class _State:
    """Scenario queue and request log, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[Scenario] = []
        self.requests: list[RecordedRequest] = []
        self.changed = threading.Condition(self.lock)

    def reset(self) -> None:
        with self.lock:
            self.queue.clear()
            self.requests.clear()
            self.changed.notify_all()

    def push(self, scenarios: list[Scenario]) -> None:
        with self.lock:
            self.queue.extend(scenarios)

    def take(self, protocol: str) -> Scenario | None:
        with self.lock:
            for position, scenario in enumerate(self.queue):
                if scenario.match in ("", protocol):
                    scenario.times -= 1
                    if scenario.times <= 0:
                        del self.queue[position]
                    return scenario
        return None

    def record(self, **fields: Any) -> RecordedRequest:
        with self.lock:
            recorded = RecordedRequest(index=len(self.requests), **fields)
            self.requests.append(recorded)
            self.changed.notify_all()
            return recorded

    def finish(self, recorded: RecordedRequest) -> None:
        with self.lock:
            recorded.done.set()
            self.changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()  # the socket was reset on purpose, or the client went away

    # ------------------------------------------------------------ plumbing
    def _read_json(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _start_chunked(self, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError) as exc:
            raise _ClientGone from exc

    def _end_chunked(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError as exc:
            raise _ClientGone from exc

    def _reset_connection(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), as a dropped upstream connection looks."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _client_went_away(self, timeout: float) -> bool:
        """Wait up to `timeout`; True if the client closed its end meanwhile."""
        try:
            readable, _, _ = select.select([self.connection], [], [], timeout)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _pace(self, scenario: Scenario) -> None:
        if scenario.tokens_per_second > 0 and self._client_went_away(1 / scenario.tokens_per_second):
            raise _ClientGone

    def _stall(self, scenario: Scenario) -> None:
        deadline = time.monotonic() + scenario.stall_seconds
        while not self.server.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._client_went_away(min(0.05, remaining)):
                raise _ClientGone

    # ------------------------------------------------------------ routing
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_fake/requests":
            self._send_json(200, {"requests": [r.as_json() for r in self.server.fake.requests]})
        elif path == "/_fake/health":
            self._send_json(200, {"ok": True})
        elif path.endswith("/models"):
            self._send_json(
                200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}]}
            )
        else:
            self._send_json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_json()
        if path == "/_fake/reset":
            self.server.fake.reset()
            self._send_json(200, {"ok": True})
            return
        if path == "/_fake/scenarios":
            items = body if isinstance(body, list) else [body or {}]
            try:
                scenarios = [Scenario.from_json(item) for item in items]
            except (TypeError, ValueError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self.server.fake._state.push(scenarios)
            self._send_json(200, {"queued": len(scenarios)})
            return
        protocol = _protocol_for(path)
        if protocol not in ("openai", "anthropic", "embeddings"):
            self._send_json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
            return
        scenario = self._scenario_for(protocol)
        if scenario is None:
            return
        recorded = self.server.fake._state.record(
            method="POST",
            path=path,
            protocol=protocol,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            scenario=dict(scenario.__dict__),
            stream=bool(isinstance(body, dict) and body.get("stream")),
        )
        try:
            if scenario.reset_after_tokens == 0:
                self._reset_connection()
                recorded.disconnected = True
                return
            if scenario.error or scenario.status:
                self._answer_error(protocol, scenario, recorded)
                return
            if protocol == "embeddings":
                self._answer_embeddings(body or {}, scenario, recorded)
            elif protocol == "openai":
                self._answer_openai(body or {}, scenario, recorded)
            else:
                self._answer_anthropic(body or {}, scenario, recorded)
        except _ClientGone:
            recorded.disconnected = True
            self.close_connection = True
        finally:
            self.server.fake._state.finish(recorded)

    def _scenario_for(self, protocol: str) -> Scenario | None:
        raw = self.headers.get(SCENARIO_HEADER)
        if raw:
            try:
                return Scenario.from_json(json.loads(raw))
            except (TypeError, ValueError) as exc:
                self._send_json(400, {"error": {"message": f"bad {SCENARIO_HEADER}: {exc}", "type": "fake_error"}})
                return None
        return self.server.fake._state.take(protocol) or Scenario()

    # ------------------------------------------------------------ errors
    def _error_parts(self, protocol: str, scenario: Scenario, name: str) -> tuple[int, dict[str, Any]]:
        status, openai_error, anthropic_error = _ERRORS.get(name, _ERRORS["server_error"])
        if protocol == "anthropic":
            status = _ANTHROPIC_STATUS.get(name, status)
            error = dict(anthropic_error)
        else:
            error = dict(openai_error)
        if scenario.error_type:
            error["type"] = scenario.error_type
        if scenario.error_code and protocol != "anthropic":
            error["code"] = scenario.error_code
        if scenario.error_message:
            error["message"] = scenario.error_message
        return status, error

    def _answer_error(self, protocol: str, scenario: Scenario, recorded: RecordedRequest) -> None:
        status, error = self._error_parts(protocol, scenario, scenario.error or "server_error")
        if scenario.status:
            status = scenario.status
        headers = dict(scenario.headers)
        if scenario.retry_after is not None:
            headers["retry-after"] = scenario.retry_after
        # The SDKs retry on their own unless told: the fake says nothing either way, like the real APIs.
        if protocol == "anthropic":
            payload: dict[str, Any] = {"type": "error", "error": error, "request_id": f"req_{uuid.uuid4().hex[:12]}"}
        else:
            payload = {"error": error}
        recorded.status = status
        self._send_json(status, payload, headers)
        recorded.completed = True

    # ------------------------------------------------------------ OpenAI
    def _answer_openai(self, body: dict[str, Any], scenario: Scenario, recorded: RecordedRequest) -> None:
        model = str(body.get("model") or "fake-model")
        deltas = scenario.deltas()
        usage = _usage_for(body, scenario)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        openai_usage = {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        }
        recorded.status = 200
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": scenario.reply_text(), "refusal": None},
                            "finish_reason": scenario.stop_reason,
                            "logprobs": None,
                        }
                    ],
                    "usage": openai_usage,
                },
                scenario.headers,
            )
            recorded.completed = True
            return

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            }

        def event(payload: dict[str, Any] | str) -> bytes:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            return f"data: {data}\n\n".encode()

        def error_event() -> bytes:
            _, error = self._error_parts("openai", scenario, scenario.error_event)
            return event({"error": error})

        self._start_chunked(scenario.headers)
        self._write_chunk(event(chunk({"role": "assistant", "content": "", "refusal": None})))
        if not self._stream_deltas(
            recorded, scenario, deltas, lambda text: event(chunk({"content": text})), error_event
        ):
            return
        self._write_chunk(event(chunk({}, scenario.stop_reason)))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if include_usage:
            self._write_chunk(event({**chunk({}), "choices": [], "usage": openai_usage}))
        self._write_chunk(event("[DONE]"))
        self._end_chunked()
        recorded.completed = True

    # ------------------------------------------------------------ Anthropic
    def _answer_anthropic(self, body: dict[str, Any], scenario: Scenario, recorded: RecordedRequest) -> None:
        model = str(body.get("model") or "fake-model")
        deltas = scenario.deltas()
        usage = _usage_for(body, scenario)
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        stop_reason = {"stop": "end_turn", "length": "max_tokens"}.get(scenario.stop_reason, scenario.stop_reason)
        recorded.status = 200
        if not body.get("stream"):
            self._send_json(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": scenario.reply_text()}],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"]},
                },
                {"request-id": f"req_{uuid.uuid4().hex[:12]}", **scenario.headers},
            )
            recorded.completed = True
            return

        def event(name: str, payload: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()

        def error_event() -> bytes:
            _, error = self._error_parts("anthropic", scenario, scenario.error_event)
            return event("error", {"type": "error", "error": error})

        self._start_chunked({"request-id": f"req_{uuid.uuid4().hex[:12]}", **scenario.headers})
        self._write_chunk(
            event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
                    },
                },
            )
        )
        self._write_chunk(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        self._write_chunk(event("ping", {"type": "ping"}))
        streamed = self._stream_deltas(
            recorded,
            scenario,
            deltas,
            lambda text: event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            ),
            error_event,
        )
        if not streamed:
            return
        self._write_chunk(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        self._write_chunk(
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        self._write_chunk(event("message_stop", {"type": "message_stop"}))
        self._end_chunked()
        recorded.completed = True

    def _stream_deltas(
        self,
        recorded: RecordedRequest,
        scenario: Scenario,
        deltas: list[str],
        render: Callable[[str], bytes],
        error_event: Callable[[], bytes],
    ) -> bool:
        """Send the deltas, paced, with the scripted fault (error event, stall or reset) after N of them.

        False when the stream ended early on purpose (an error event, or a reset)."""
        for position in range(len(deltas) + 1):
            if scenario.error_after_tokens == position:
                # An error after the 200, as the real APIs send it: an event, then the end of the body.
                self._write_chunk(error_event())
                self._end_chunked()
                self.close_connection = True
                recorded.completed = True
                return False
            if scenario.reset_after_tokens == position:
                # A reset throws away whatever the client has not read yet, so give it a moment to
                # read the deltas already sent: the test then sees exactly N of them, then the reset.
                if position > 0 and self._client_went_away(RESET_GRACE_SECONDS):
                    raise _ClientGone
                self._reset_connection()
                recorded.disconnected = True
                return False
            if scenario.stall_after_tokens == position:
                self._stall(scenario)
            if position == len(deltas):
                return True
            if position > 0:
                self._pace(scenario)
            self._write_chunk(render(deltas[position]))
            recorded.chunks_sent += 1
        return True

    # ------------------------------------------------------------ embeddings
    def _answer_embeddings(self, body: dict[str, Any], scenario: Scenario, recorded: RecordedRequest) -> None:
        inputs = body.get("input", "")
        items = inputs if isinstance(inputs, list) else [inputs]
        dimensions = int(body.get("dimensions") or 1536)
        encoding = body.get("encoding_format") or "float"
        data = []
        tokens = 0
        for position, item in enumerate(items):
            text = item if isinstance(item, str) else json.dumps(item)
            tokens += max(_count_words(text), 1)
            vector = fake_embedding(text, dimensions)
            embedding: Any = vector
            if encoding == "base64":
                embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": position, "embedding": embedding})
        recorded.status = 200
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "text-embedding-3-small"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            scenario.headers,
        )
        recorded.completed = True


def _usage_for(body: dict[str, Any], scenario: Scenario) -> dict[str, int]:
    usage = scenario.usage or {}
    return {
        "input_tokens": int(usage.get("input_tokens", _prompt_words(body))),
        "output_tokens": int(usage.get("output_tokens", len(scenario.deltas()))),
    }


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class _Server(ThreadingHTTPServer):
    # Many streams start at once (50 in the bench): the default backlog of 5 drops connects.
    request_queue_size = 256
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeLLMServer
    verbose: bool = False
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class FakeLLMServer:
    """The Python API: start, script, inspect, stop.

    >>> server = FakeLLMServer().start()
    >>> server.queue({"error": "rate_limited", "retry_after": "2"}, {"text": "ok"})
    >>> OpenAI(base_url=server.openai_base_url, api_key="x", max_retries=0)
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self._state = _State()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._httpd.verbose = verbose
        self._httpd.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # scripting
    def queue(self, *scenarios: dict[str, Any] | Scenario) -> None:
        self._state.push([s if isinstance(s, Scenario) else Scenario.from_json(s) for s in scenarios])

    def reset(self) -> None:
        self._state.reset()

    # inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        """Model requests received (control calls are not recorded)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float = 5) -> bool:
        """Block until `predicate(requests)` holds (the handler threads run on their own)."""
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while not predicate(list(self._state.requests)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._state.changed.wait(remaining)
        return True

    def wait_done(self, index: int, timeout: float = 5) -> RecordedRequest:
        """Wait until request `index` has been fully handled (answered, failed or abandoned)."""
        if not self.wait_for(lambda requests: len(requests) > index, timeout):
            raise TimeoutError(f"request {index} never arrived")
        recorded = self.requests[index]
        if not recorded.done.wait(timeout):
            raise TimeoutError(f"request {index} never finished")
        return recorded


def iter_requests_over_http(base_url: str) -> Iterator[dict[str, Any]]:
    """Read the request log of a fake running in another process."""
    import urllib.request

    with urllib.request.urlopen(f"{base_url.rstrip('/')}/_fake/requests", timeout=5) as response:  # noqa: S310 - loopback
        yield from json.loads(response.read())["requests"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic server for tests, `make run` and bench/.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    server = FakeLLMServer(args.host, args.port, verbose=args.verbose)
    print(
        f"fake LLM server on {server.url} "
        f"(OPENAI_BASE_URL={server.openai_base_url} ANTHROPIC_BASE_URL={server.anthropic_base_url})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
