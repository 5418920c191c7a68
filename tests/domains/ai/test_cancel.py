"""Cancellation: the Redis flag is read on the first chunk and then at most every
AI_CANCEL_CHECK_SECONDS (0: every chunk), and closes the provider stream (and socket)."""

from __future__ import annotations

import pytest

from domains.ai.models import AIUsage
from domains.ai.providers.base import Delta, Result, Usage
from domains.ai.services import chat_cancel, chat_is_cancelled, chat_stream, provider_named

pytestmark = pytest.mark.django_db

TEXT = " ".join(f"word{n}" for n in range(40))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cancel_closes_the_stream_within_one_chunk(ai_settings, fake_llm, org, learner, provider):
    """Stop after the third delta: no fourth delta comes out, and the fake sees the client go."""
    ai_settings.AI_CANCEL_CHECK_SECONDS = 0
    fake_llm.queue({"text": TEXT, "tokens_per_second": 20})
    stream = chat_stream(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Go"}],
        provider=provider_named(provider),
        cancel_key="message:1",
    )

    items = []
    for item in stream:
        items.append(item)
        if sum(isinstance(i, Delta) for i in items) == 3:
            chat_cancel(cancel_key="message:1")  # as another process would

    deltas = [i for i in items if isinstance(i, Delta)]
    result = items[-1]
    assert [d.text for d in deltas] == ["word0 ", "word1 ", "word2 "]
    assert isinstance(items[-2], Usage)
    assert items[-2].estimated
    assert isinstance(result, Result)
    assert result.stop_reason == "cancelled"
    assert result.text == "word0 word1 word2 "
    recorded = fake_llm.wait_done(0)
    assert recorded.disconnected
    assert not recorded.completed
    assert recorded.chunks_sent <= 5 < 40  # three yielded, at most one read and dropped, one in flight
    row = AIUsage.objects.get()
    assert row.outcome == "cancelled"
    assert row.tokens_out > 0


def test_the_flag_is_read_at_most_once_per_interval_of_the_streams_clock(ai_settings, fake_llm, org, learner):
    """With an interval, a cancel set after the first chunk is seen at the first chunk once the
    interval has passed on the stream's clock, not before."""
    ai_settings.AI_CANCEL_CHECK_SECONDS = 1.0
    fake_llm.queue({"text": TEXT, "tokens_per_second": 200})
    now = [0.0]
    stream = chat_stream(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Go"}],
        provider=provider_named("openai"),
        cancel_key="message:3",
        clock=lambda: now[0],
    )
    deltas: list[str] = []
    for item in stream:
        if not isinstance(item, Delta):
            continue
        deltas.append(item.text)
        if len(deltas) == 1:
            chat_cancel(cancel_key="message:3")  # read at chunk 1 (before it was set): not seen yet
        if len(deltas) == 4:
            now[0] = 1.0  # the interval has passed: the next chunk reads the flag
    assert deltas == ["word0 ", "word1 ", "word2 ", "word3 "]


def test_cancel_before_start_makes_no_provider_call(ai_settings, fake_llm, org, learner):
    """A generation stopped while still queued never reaches the provider."""
    chat_cancel(cancel_key="message:2")

    items = list(
        chat_stream(
            organisation=org,
            user=learner,
            feature="coach",
            messages=[{"role": "user", "content": "Go"}],
            provider=provider_named("openai"),
            cancel_key="message:2",
        )
    )

    assert [type(i) for i in items] == [Usage, Result]
    result = items[-1]
    assert isinstance(result, Result)
    assert result.stop_reason == "cancelled"
    assert fake_llm.request_count == 0
    row = AIUsage.objects.get()
    assert (row.outcome, row.attempts, row.tokens_in, row.tokens_out) == ("cancelled", 0, 0, 0)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_closing_the_generator_closes_the_connection(ai_settings, fake_llm, org, learner, provider):
    """A consumer that stops reading (generator closed) closes the SDK stream too, and it is recorded."""
    fake_llm.queue({"text": TEXT, "tokens_per_second": 20})
    stream = chat_stream(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Go"}],
        provider=provider_named(provider),
    )

    first = next(stream)
    stream.close()

    assert first == Delta("word0 ")
    assert fake_llm.wait_done(0).disconnected
    assert AIUsage.objects.get().outcome == "cancelled"


def test_cancel_flag_is_shared_through_redis(ai_settings):
    assert not chat_is_cancelled(cancel_key="message:3")
    chat_cancel(cancel_key="message:3")
    assert chat_is_cancelled(cancel_key="message:3")
    assert not chat_is_cancelled(cancel_key=None)
