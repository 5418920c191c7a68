"""Every fault, through the real SDKs against the fake server: the right typed error, bounded
retries that honour retry-after (with an injected sleep), and no retry for spend caps, 4xx, or
once text has gone out."""

from __future__ import annotations

import socket

import httpx2
import pytest

from domains.ai.models import AIUsage
from domains.ai.providers.anthropic import AnthropicProvider
from domains.ai.providers.base import Delta
from domains.ai.providers.errors import (
    ContextTooLong,
    Overloaded,
    ProviderDown,
    RateLimited,
    RequestRejected,
    SpendCapped,
    StreamBroken,
)
from domains.ai.providers.openai import OpenAIProvider
from domains.ai.services import chat_complete, chat_stream, provider_named
from tests.domains.ai.helpers import collect

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("provider", ["openai", "anthropic"])]

WORDS = "one two three four five six seven eight"


def run(provider, org, learner, sleeps, **kwargs):
    return chat_complete(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Hello"}],
        provider=provider_named(provider),
        sleep=sleeps,
        **kwargs,
    )


def test_rate_limit_retry_after_is_honoured(ai_settings, fake_llm, org, learner, sleeps, provider):
    """A 429 with retry-after: 3 is retried once, after exactly the requested 3 seconds."""
    fake_llm.queue({"error": "rate_limited", "retry_after": "3"}, {"text": WORDS})

    result = run(provider, org, learner, sleeps)

    assert result.text == WORDS
    assert result.attempts == 2
    assert sleeps.calls == [3.0]
    assert fake_llm.request_count == 2


def test_rate_limit_retry_after_ms_is_honoured(ai_settings, fake_llm, org, learner, sleeps, provider):
    """retry-after-ms wins over retry-after, as the providers document."""
    fake_llm.queue(
        {"error": "rate_limited", "headers": {"retry-after-ms": "1500", "retry-after": "9"}}, {"text": WORDS}
    )

    run(provider, org, learner, sleeps)

    assert sleeps.calls == [1.5]


def test_retries_stop_at_the_bound(ai_settings, fake_llm, org, learner, sleeps, provider):
    """A provider that keeps answering 429 is tried 1 + AI_MAX_RETRIES times, then RateLimited is raised."""
    fake_llm.queue({"error": "rate_limited", "retry_after": "1", "times": 10})

    with pytest.raises(RateLimited) as caught:
        run(provider, org, learner, sleeps)

    assert fake_llm.request_count == 3
    assert sleeps.calls == [1.0, 1.0]
    assert caught.value.attempts == 3
    assert caught.value.retry_after == 1.0
    assert caught.value.status_code == 429
    row = AIUsage.objects.get()
    assert (row.outcome, row.attempts, row.tokens_in, row.tokens_out) == ("rate_limited", 3, 0, 0)


def test_long_retry_after_is_not_slept_on(ai_settings, fake_llm, org, learner, sleeps, provider):
    """A retry-after beyond AI_RETRY_AFTER_MAX fails at once, carrying the wait for the caller."""
    fake_llm.queue({"error": "rate_limited", "retry_after": "120", "times": 10})

    with pytest.raises(RateLimited) as caught:
        run(provider, org, learner, sleeps)

    assert caught.value.retry_after == 120.0
    assert fake_llm.request_count == 1
    assert sleeps.calls == []


def test_overloaded_529_is_typed_and_retried(ai_settings, fake_llm, org, learner, sleeps, provider):
    """529 reads as Overloaded; without retry-after the backoff stays within its cap."""
    fake_llm.queue({"error": "overloaded", "times": 10})

    with pytest.raises(Overloaded) as caught:
        run(provider, org, learner, sleeps)

    assert caught.value.status_code == 529
    assert fake_llm.request_count == 3
    assert len(sleeps.calls) == 2
    assert all(0 < delay <= ai_settings.AI_RETRY_MAX_DELAY for delay in sleeps.calls)
    assert AIUsage.objects.get().outcome == "overloaded"


def test_server_error_is_provider_down_and_retried(ai_settings, fake_llm, org, learner, sleeps, provider):
    """A 500 then a 200: the retry succeeds."""
    fake_llm.queue({"error": "server_error"}, {"text": WORDS})

    result = run(provider, org, learner, sleeps)

    assert result.text == WORDS
    assert fake_llm.request_count == 2


def test_server_error_every_time_raises_provider_down(ai_settings, fake_llm, org, learner, sleeps, provider):
    fake_llm.queue({"error": "unavailable", "times": 10})

    with pytest.raises(ProviderDown):
        run(provider, org, learner, sleeps)

    assert fake_llm.request_count == 3


@pytest.mark.parametrize(
    ("scripted", "expected"),
    [
        ({"error": "spend_cap"}, SpendCapped),
        ({"error": "spend_cap", "status": 402}, SpendCapped),
        ({"error": "context_too_long"}, ContextTooLong),
        ({"error": "bad_request"}, RequestRejected),
        ({"error": "unauthorized"}, RequestRejected),
        ({"error": "bad_request", "status": 409}, RequestRejected),
    ],
)
def test_spend_caps_and_4xx_are_never_retried(
    ai_settings, fake_llm, org, learner, sleeps, provider, scripted, expected
):
    """Spend caps, context-too-long and other 4xx are raised after one request, even with a retry-after."""
    fake_llm.queue({**scripted, "retry_after": "1", "times": 10})

    with pytest.raises(expected):
        run(provider, org, learner, sleeps)

    assert fake_llm.request_count == 1
    assert sleeps.calls == []
    assert AIUsage.objects.get().outcome == expected.outcome


def test_error_event_after_text_is_stream_broken_and_not_retried(ai_settings, fake_llm, org, learner, sleeps, provider):
    """An error event after a 200 and some text: StreamBroken, the partial text kept, no retry."""
    fake_llm.queue({"text": WORDS, "error_after_tokens": 3, "error_event": "server_error", "times": 10})

    stream = chat_stream(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Hi"}],
        provider=provider_named(provider),
        sleep=sleeps,
    )
    deltas: list[str] = []
    with pytest.raises(StreamBroken) as caught:
        # extend keeps the deltas read before the raise
        deltas.extend(item.text for item in stream if isinstance(item, Delta))

    assert "".join(deltas) == "one two three "
    assert caught.value.partial_text == "one two three "
    assert fake_llm.request_count == 1
    assert sleeps.calls == []
    row = AIUsage.objects.get()
    assert row.outcome == "stream_broken"
    assert row.tokens_estimated
    assert row.tokens_out > 0


def test_overloaded_event_mid_stream_is_overloaded(ai_settings, fake_llm, org, learner, sleeps, provider):
    """An `overloaded_error` event after a 200 reads as Overloaded; after text it is not retried."""
    fake_llm.queue({"text": WORDS, "error_after_tokens": 2, "error_event": "overloaded", "times": 10})

    with pytest.raises(Overloaded) as caught:
        run(provider, org, learner, sleeps)

    assert caught.value.partial_text == "one two "
    assert fake_llm.request_count == 1


def test_error_event_before_any_text_is_retried(ai_settings, fake_llm, org, learner, sleeps, provider):
    """An overloaded event before the first delta: nothing went out, so the call is retried."""
    fake_llm.queue({"text": WORDS, "error_after_tokens": 0, "error_event": "overloaded"}, {"text": WORDS})

    result = run(provider, org, learner, sleeps)

    assert result.text == WORDS
    assert fake_llm.request_count == 2
    assert len(sleeps.calls) == 1


def test_stall_after_text_is_stream_broken(ai_settings, fake_llm, org, learner, sleeps, provider):
    """No chunk within the idle timeout after text went out: StreamBroken, not retried."""
    fake_llm.queue({"text": WORDS, "stall_after_tokens": 2, "stall_seconds": 30})

    with pytest.raises(StreamBroken) as caught:
        run(provider, org, learner, sleeps)

    assert "stalled" in caught.value.message
    assert caught.value.partial_text == "one two "
    assert fake_llm.request_count == 1
    # The client gave up and closed the connection: the fake saw it go.
    assert fake_llm.wait_done(0).disconnected


def test_stall_before_text_is_retried(ai_settings, fake_llm, org, learner, sleeps, provider):
    fake_llm.queue({"text": WORDS, "stall_after_tokens": 0, "stall_seconds": 30}, {"text": WORDS})

    result = run(provider, org, learner, sleeps)

    assert result.text == WORDS
    assert fake_llm.request_count == 2


def test_connection_reset_mid_stream_is_stream_broken(ai_settings, fake_llm, org, learner, sleeps, provider):
    """A TCP reset after some text: StreamBroken, with the partial text."""
    fake_llm.queue({"text": WORDS, "reset_after_tokens": 2, "times": 10})

    with pytest.raises(StreamBroken) as caught:
        run(provider, org, learner, sleeps)

    assert caught.value.partial_text == "one two "
    assert fake_llm.request_count == 1


def test_connection_reset_before_headers_is_provider_down(ai_settings, fake_llm, org, learner, sleeps, provider):
    """A reset before any response: ProviderDown, retried up to the bound."""
    fake_llm.queue({"reset_after_tokens": 0, "times": 10})

    with pytest.raises(ProviderDown):
        run(provider, org, learner, sleeps)

    assert fake_llm.request_count == 3


def test_unreachable_provider_is_provider_down(ai_settings, org, learner, sleeps, provider):
    """Nothing listening on the port: ProviderDown after the bounded retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ai_settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    ai_settings.ANTHROPIC_BASE_URL = f"http://127.0.0.1:{port}"

    with pytest.raises(ProviderDown) as caught:
        run(provider, org, learner, sleeps)

    assert caught.value.attempts == 3
    assert len(sleeps.calls) == 2


def test_sdk_retries_are_off(ai_settings, fake_llm, provider):
    """Only one retry layer: the SDK clients are built with max_retries=0 and our timeouts."""
    sdk_provider = provider_named(provider)
    assert isinstance(sdk_provider, OpenAIProvider | AnthropicProvider)
    client = sdk_provider._client

    assert client.max_retries == 0
    assert isinstance(client.timeout, httpx2.Timeout)
    assert client.timeout.connect == ai_settings.AI_CONNECT_TIMEOUT
    assert client.timeout.read == ai_settings.AI_IDLE_TIMEOUT


def test_no_retries_when_the_bound_is_zero(ai_settings, fake_llm, org, learner, sleeps, provider):
    ai_settings.AI_MAX_RETRIES = 0
    fake_llm.queue({"error": "overloaded", "times": 10})

    with pytest.raises(Overloaded):
        collect(
            chat_stream(
                organisation=org,
                user=learner,
                feature="coach",
                messages=[{"role": "user", "content": "x"}],
                provider=provider_named(provider),
                sleep=sleeps,
            )
        )

    assert fake_llm.request_count == 1
