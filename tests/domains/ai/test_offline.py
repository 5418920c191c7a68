"""The offline coach: no key, no network, deterministic, quotes and cites the passages it is given."""

from __future__ import annotations

import pytest

from domains.ai.models import AIUsage
from domains.ai.providers.base import ChatMessage, Passage
from domains.ai.providers.offline import OFFLINE_LABEL, OfflineProvider, compose_offline_reply
from domains.ai.services import chat_complete, chat_stream, provider_for
from tests.domains.ai.helpers import collect

PASSAGES = [
    Passage(
        title="Interview prep",
        text="Research the company first. Practise the STAR method for behavioural questions. Sleep well.",
    ),
    Passage(title="Feedback", text="My mentor said my STAR answers lacked a clear result. Quantify the result."),
]


@pytest.fixture
def no_keys(settings):
    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    settings.ANTHROPIC_API_KEY = settings.ANTHROPIC_BASE_URL = ""
    settings.AI_DEFAULT_PROVIDER = ""
    settings.AI_QUOTA_REQUESTS_PER_HOUR = 0
    settings.AI_QUOTA_TOKENS_PER_DAY = 0
    return settings


@pytest.mark.django_db
def test_no_key_means_the_offline_coach(no_keys, org, learner):
    """With no key configured, every feature gets the offline coach, labelled as such."""
    provider = provider_for(organisation=org, feature="coach")

    result = chat_complete(
        organisation=org, user=learner, feature="coach", messages=[{"role": "user", "content": "Hi"}]
    )

    assert isinstance(provider, OfflineProvider)
    assert result.provider == "offline"
    assert result.is_offline
    assert result.label == OFFLINE_LABEL == "offline coach"
    assert AIUsage.objects.get().provider == "offline"


@pytest.mark.django_db
def test_configured_provider_without_key_falls_back_to_offline(no_keys, org):
    no_keys.AI_DEFAULT_PROVIDER = "anthropic"

    assert isinstance(provider_for(organisation=org, feature="lounge"), OfflineProvider)


@pytest.mark.django_db
def test_offline_reply_is_deterministic_and_streamed_in_words(no_keys, org, learner):
    """Same question and passages, same reply; it arrives word by word."""
    kwargs = {
        "organisation": org,
        "user": learner,
        "feature": "coach",
        "messages": [{"role": "user", "content": "How should I answer behavioural questions with STAR?"}],
        "passages": PASSAGES,
    }

    first, usage, result = collect(chat_stream(**kwargs))
    second, _, _ = collect(chat_stream(**kwargs))

    assert first == second
    assert len(first) > 20
    assert all(len(delta.split()) == 1 for delta in first)
    assert "".join(first) == result.text
    assert usage.tokens_out == len(first)


def test_offline_reply_quotes_and_cites_passages():
    """Each passage is quoted (its sentence most relevant to the question) with its number, then summed up."""
    reply = compose_offline_reply(
        [ChatMessage("user", "How should I answer behavioural questions with STAR?")], PASSAGES
    )

    assert reply.startswith("Offline coach here")
    assert "How should I answer behavioural questions with STAR?" in reply
    assert "[1] Interview prep: “Practise the STAR method for behavioural questions.”" in reply
    assert "[2] Feedback: “My mentor said my STAR answers lacked a clear result.”" in reply
    assert "In short: your notes keep coming back to “star” ([1], [2])" in reply


def test_offline_reply_without_passages_acknowledges_the_question():
    reply = compose_offline_reply([ChatMessage("user", "I keep procrastinating.")], [])

    assert "You asked: “I keep procrastinating.”" in reply
    assert "1. " in reply
    assert "[1]" not in reply


@pytest.mark.django_db
def test_offline_passages_may_be_plain_strings(no_keys, org, learner):
    result = chat_complete(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Recursion?"}],
        passages=["Recursion: a function that calls itself."],
    )

    assert "[1] “Recursion: a function that calls itself.”" in result.text
