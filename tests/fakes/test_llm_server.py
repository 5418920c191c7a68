"""The fake provider server speaks both protocols to the real SDKs, and is scriptable in and out of process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from tests.fakes.llm_server import FakeLLMServer, fake_embedding

ROOT = Path(__file__).resolve().parents[2]


def _openai(server: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0, timeout=httpx2.Timeout(5))


def _anthropic(server: FakeLLMServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-test", base_url=server.anthropic_base_url, max_retries=0, timeout=httpx2.Timeout(5)
    )


def _post(url: str, payload: object) -> dict:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def test_openai_streaming_shape(fake_llm):
    """Role chunk, content chunks, finish chunk, the usage chunk (include_usage), then [DONE]."""
    fake_llm.queue({"text": "Hello there friend", "usage": {"input_tokens": 9, "output_tokens": 3}})

    chunks = list(
        _openai(fake_llm).chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there friend"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == 9
    assert usage.completion_tokens == 3
    assert {c.model for c in chunks} == {"gpt-test"}


def test_openai_without_include_usage_sends_no_usage_chunk(fake_llm):
    chunks = list(
        _openai(fake_llm).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    )

    assert all(c.usage is None for c in chunks)


def test_anthropic_streaming_event_sequence(fake_llm):
    """message_start, content_block_start, ping (skipped by the SDK), deltas, stop, message_delta, message_stop."""
    fake_llm.queue({"text": "Hi you", "usage": {"input_tokens": 4, "output_tokens": 2}})

    events = list(
        _anthropic(fake_llm).messages.create(
            model="claude-test",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    )

    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start, message_delta = events[0], events[-2]
    assert start.type == "message_start"
    assert start.message.usage.input_tokens == 4
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "Hi you"
    assert message_delta.type == "message_delta"
    assert message_delta.delta.stop_reason == "end_turn"
    assert message_delta.usage.output_tokens == 2


def test_non_streaming_forms(fake_llm):
    fake_llm.queue({"text": "Plain answer", "match": "openai"}, {"text": "Plain answer", "match": "anthropic"})

    completion = _openai(fake_llm).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    message = _anthropic(fake_llm).messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )

    assert completion.choices[0].message.content == "Plain answer"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 2
    block = message.content[0]
    assert block.type == "text"
    assert block.text == "Plain answer"
    assert message.stop_reason == "end_turn"


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_honour_dimensions(fake_llm, encoding):
    """Deterministic unit vectors of the requested size, in either encoding."""
    result = _openai(fake_llm).embeddings.create(
        model="text-embedding-3-small",
        input=["alpha", "beta"],
        dimensions=384,
        encoding_format=encoding,
    )

    first, second = (item.embedding for item in result.data)
    if encoding == "base64":
        import base64
        import struct

        # The SDK types `embedding` as list[float]; with encoding_format="base64" it is the encoded string.
        first, second = (list(struct.unpack("<384f", base64.b64decode(v))) for v in (first, second))  # type: ignore[arg-type]
    assert len(first) == len(second) == 384
    assert first == pytest.approx(fake_embedding("alpha", 384), abs=1e-6)
    assert sum(v * v for v in first) == pytest.approx(1.0, abs=1e-4)
    assert first != second
    assert fake_llm.requests[0].body["dimensions"] == 384


def test_header_scenario_wins_over_the_queue(fake_llm):
    fake_llm.queue({"text": "from the queue"})

    completion = _openai(fake_llm).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Fake-Scenario": json.dumps({"text": "from the header"})},
    )

    assert completion.choices[0].message.content == "from the header"


def test_queue_match_and_times(fake_llm):
    """A queued scenario serves `times` requests of the protocol it matches, then the default returns."""
    fake_llm.queue({"error": "rate_limited", "retry_after": "7", "match": "anthropic", "times": 2})
    client = _anthropic(fake_llm)

    assert _openai(fake_llm).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).choices
    for _ in range(2):
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert caught.value.response.headers["retry-after"] == "7"
    assert client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]).content


def test_requests_are_counted_and_kept(fake_llm):
    _openai(fake_llm).chat.completions.create(
        model="m",
        messages=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Question?"}],
    )

    [request] = fake_llm.requests
    assert fake_llm.request_count == 1
    assert request.system == "Be kind."
    assert request.messages[-1] == {"role": "user", "content": "Question?"}
    assert request.headers["authorization"] == "Bearer sk-test"


def test_control_endpoints_over_http(fake_llm):
    """Another process scripts and inspects the fake over HTTP."""
    assert _post(f"{fake_llm.url}/_fake/scenarios", [{"text": "first"}, {"text": "second"}]) == {"queued": 2}
    client = _openai(fake_llm)
    texts = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        .choices[0]
        .message.content
        for _ in range(2)
    ]
    with urllib.request.urlopen(f"{fake_llm.url}/_fake/requests", timeout=5) as response:  # noqa: S310
        log = json.loads(response.read())["requests"]

    assert texts == ["first", "second"]
    assert [entry["scenario"]["text"] for entry in log] == ["first", "second"]
    assert _post(f"{fake_llm.url}/_fake/reset", {}) == {"ok": True}
    assert fake_llm.request_count == 0


def test_bad_scenario_is_refused(fake_llm):
    with pytest.raises(urllib.error.HTTPError) as caught:
        _post(f"{fake_llm.url}/_fake/scenarios", {"nonsense": 1})
    assert caught.value.code == 400


def test_client_disconnect_is_seen(fake_llm):
    """A client that closes mid-stream is recorded as disconnected, with the chunks sent so far."""
    fake_llm.queue({"text": " ".join(["w"] * 50), "tokens_per_second": 50})
    stream = _openai(fake_llm).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    next(iter(stream))
    stream.close()

    recorded = fake_llm.wait_done(0)
    assert recorded.disconnected
    assert not recorded.completed
    assert recorded.chunks_sent < 50


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_standalone_process(tmp_path):
    """`python -m tests.fakes.llm_server --port N` serves the SDKs and takes scenarios over HTTP."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:  # wait for readiness (polling, not asserting timing)
            try:
                urllib.request.urlopen(f"{base}/_fake/health", timeout=1).close()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        _post(f"{base}/_fake/scenarios", {"text": "standalone reply"})
        client = openai.OpenAI(api_key="k", base_url=f"{base}/v1", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        with urllib.request.urlopen(f"{base}/_fake/requests", timeout=5) as response:  # noqa: S310
            log = json.loads(response.read())["requests"]
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert reply.choices[0].message.content == "standalone reply"
    assert len(log) == 1
    assert log[0]["protocol"] == "openai"
