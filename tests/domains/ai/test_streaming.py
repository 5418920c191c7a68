"""Streaming through the real SDKs against the fake server: exact text, usage, and the usage row."""

from __future__ import annotations

import pytest

from domains.ai.models import AIFeatureConfig, AIUsage
from domains.ai.providers.base import ChatMessage, ChatOptions, Passage
from domains.ai.services import chat_complete, chat_stream, provider_named
from tests.domains.ai.helpers import collect

pytestmark = pytest.mark.django_db

REPLY = "Start with the smallest step, then review what you learned."


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_stream_yields_exact_text_then_usage_then_result(ai_settings, fake_llm, org, learner, provider):
    """A stream yields the scripted text delta by delta, then the provider's usage, then a result."""
    fake_llm.queue({"text": REPLY, "usage": {"input_tokens": 42, "output_tokens": 11}})

    deltas, usage, result = collect(
        chat_stream(
            organisation=org,
            user=learner,
            feature="coach",
            messages=[{"role": "user", "content": "How do I start?"}],
            system="You are a coach.",
            provider=provider_named(provider),
        )
    )

    assert "".join(deltas) == REPLY
    assert len(deltas) == len(REPLY.split())
    assert (usage.tokens_in, usage.tokens_out, usage.estimated) == (42, 11, False)
    assert result.text == REPLY
    assert result.stop_reason == "stop"
    assert result.provider == provider
    assert result.attempts == 1
    assert result.usage_id is not None
    row = AIUsage.objects.get(pk=result.usage_id)
    assert (row.organisation, row.user, row.feature, row.provider) == (org, learner, "coach", provider)
    assert (row.tokens_in, row.tokens_out, row.outcome) == (42, 11, "ok")
    assert row.ttft_ms is not None
    assert row.total_ms >= row.ttft_ms
    assert row.model == ("gpt-4.1-mini" if provider == "openai" else "claude-haiku-4-5")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_request_carries_system_messages_passages_and_options(ai_settings, fake_llm, org, learner, provider):
    """The fake keeps the prompt: system prompt, history, and passages inside a delimited untrusted block."""
    chat_complete(
        organisation=org,
        user=learner,
        feature="lounge",
        messages=[
            ChatMessage("user", "Hi"),
            ChatMessage("assistant", "Hello!"),
            ChatMessage("user", "Explain recursion"),
        ],
        system="Be brief.",
        passages=[Passage(text="Recursion is a function calling itself.", title="CS notes")],
        options=ChatOptions(model="custom-model", temperature=0.2, max_tokens=77),
        provider=provider_named(provider),
    )

    [request] = fake_llm.requests
    assert request.protocol == provider
    assert request.body["model"] == "custom-model"
    # anthropic 2.x sends no sampling temperature (the SDK has no such parameter any more).
    assert request.body.get("temperature") == (0.2 if provider == "openai" else None)
    assert request.body["stream"] is True
    assert "Be brief." in request.system
    assert "<<<retrieved-notes" in request.system
    assert "[1] CS notes" in request.system
    assert "Recursion is a function calling itself." in request.system
    history = [(m["role"], m["content"]) for m in request.messages if m["role"] != "system"]
    assert history == [("user", "Hi"), ("assistant", "Hello!"), ("user", "Explain recursion")]
    if provider == "openai":
        assert request.body["stream_options"] == {"include_usage": True}
        assert request.body["max_completion_tokens"] == 77
    else:
        assert request.body["max_tokens"] == 77


def test_stop_reason_length_is_normalised(ai_settings, fake_llm, org, learner):
    """Anthropic's max_tokens and OpenAI's length both read as "length"."""
    fake_llm.queue({"stop_reason": "length"}, {"stop_reason": "length"})
    for provider in ("openai", "anthropic"):
        result = chat_complete(
            organisation=org,
            user=learner,
            feature="coach",
            messages=[{"role": "user", "content": "x"}],
            provider=provider_named(provider),
        )
        assert result.stop_reason == "length"


def test_organisation_config_picks_provider_and_model(ai_settings, fake_llm, org, learner):
    """A feature's admin configuration chooses the provider and model; the blank-feature row is the org default."""
    AIFeatureConfig.objects.create(organisation=org, feature="", provider="anthropic", model="org-default-model")
    AIFeatureConfig.objects.create(organisation=org, feature="interview", model="interview-model", max_tokens=99)

    coach = chat_complete(organisation=org, user=learner, feature="coach", messages=[{"role": "user", "content": "x"}])
    interview = chat_complete(
        organisation=org, user=learner, feature="interview", messages=[{"role": "user", "content": "x"}]
    )

    assert (coach.provider, coach.model) == ("anthropic", "org-default-model")
    assert (interview.provider, interview.model) == ("anthropic", "interview-model")
    assert fake_llm.requests[1].body["max_tokens"] == 99


def test_missing_usage_is_estimated(ai_settings, org, learner):
    """A provider that reports no usage (some OpenAI-compatible servers) still gets a marked estimate."""
    from domains.ai.providers.base import Delta, Finish

    class NoUsageProvider:
        name = "openai"
        label = "OpenAI"
        default_model = "compat"

        def stream(self, request):
            yield Delta("four chars")
            yield Finish("stop")

    result = chat_complete(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "x"}],
        provider=NoUsageProvider(),
    )

    assert result.usage_id is not None
    row = AIUsage.objects.get(pk=result.usage_id)
    assert row.tokens_estimated is True
    assert row.tokens_out == 3  # ten characters, about four a token
