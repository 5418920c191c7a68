"""The offline coach: no key, no network, deterministic, quotes and cites the passages it is given."""

from __future__ import annotations

import pytest

from domains.ai.models import AIUsage
from domains.ai.providers.base import ChatMessage, Passage
from domains.ai.providers.offline import (
    CONVERSATION_CUE,
    GROUP_CHAT_RULE,
    OFFLINE_LABEL,
    OfflineProvider,
    compose_offline_reply,
)
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
    """Each passage is quoted from its sentence most relevant to the question, with its number; the
    reply says offline it can only point to the notes, and names the closest match."""
    reply = compose_offline_reply(
        [ChatMessage("user", "How should I answer behavioural questions with STAR?")], PASSAGES
    )

    assert reply.startswith("Offline coach here: no AI model is connected, so I can only point you to your notes.")
    assert "You asked: “How should I answer behavioural questions with STAR?”" in reply
    assert (
        "From the note “Interview prep”: Practise the STAR method for behavioural questions. Sleep well. [1]" in reply
    )
    assert (
        "From the note “Feedback”: My mentor said my STAR answers lacked a clear result. Quantify the result. [2]"
        in reply
    )
    assert reply.endswith("The closest match is [1].\n")


def test_offline_reply_reads_markdown_passages_as_plain_sentences():
    """A note's Markdown is quoted as plain text: no heading marks, bold or link syntax, and a heading
    repeating the note's title is left out (the reply names the note)."""
    star = Passage(
        title="STAR method",
        text="# STAR method\n\n**Situation**: set the scene. **Task**: what *you* owned.\n\n"
        "- Action: what you did\n- Result: what changed\n\nSee [the guide](https://guide.example).",
    )

    reply = compose_offline_reply([ChatMessage("user", "How do I use the STAR method?")], [star])

    assert (
        "From the note “STAR method”: Situation: set the scene. Task: what you owned. Action: what you did. "
        "Result: what changed. See the guide. [1]" in reply
    )
    for markup in ("#", "**", "*you*", "](", "- Action"):
        assert markup not in reply


def test_offline_reply_keeps_the_prompt_numbers_of_the_passages():
    """An empty passage is not quoted, and the others keep the numbers their citations carry."""
    reply = compose_offline_reply([ChatMessage("user", "STAR?")], [Passage(text="  "), *PASSAGES])

    assert "[1]" not in reply
    assert "Interview prep”: Practise the STAR method for behavioural questions. Sleep well. [2]" in reply
    assert "[3]" in reply


def test_offline_reply_without_passages_says_it_found_nothing():
    """No passages: a plain answer that the notes say nothing about it, with what to do instead."""
    reply = compose_offline_reply([ChatMessage("user", "I keep procrastinating.")], [])

    assert reply == (
        "Offline coach here. You asked: “I keep procrastinating.”\n\n"
        "I found nothing in your notes about that. Offline, I can only point to what the notes say: "
        "write a note about it, or ask a mentor.\n"
    )
    assert "[" not in reply


def test_offline_lounge_reply_quotes_the_question_without_name_or_mention():
    """A lounge prompt labels lines "Name: text": the quote drops the name and the @coach mention."""
    system = f"You are the AI coach.\n{GROUP_CHAT_RULE}"

    reply = compose_offline_reply(
        [ChatMessage("user", "Lena Learner: @coach how do I use the STAR method?")], PASSAGES, system=system
    )

    assert "You asked: “How do I use the STAR method?”" in reply
    assert "point you to the notes shared with this lounge" in reply
    assert "Lena Learner" not in reply
    assert "@coach" not in reply


def test_offline_lounge_reply_without_passages_suggests_sharing_a_note():
    reply = compose_offline_reply([ChatMessage("user", "Bea: @coach what is zzzqqq?")], [], system=GROUP_CHAT_RULE)

    assert "You asked: “What is zzzqqq?”" in reply
    assert "I found nothing in the notes shared with this lounge about that." in reply
    assert "share a note about it with this lounge, or ask a mentor" in reply
    assert "[" not in reply


def test_offline_summons_without_a_question_picks_up_the_last_message():
    """After the conversation cue, the reply picks up the last thing a person said (not the coach's)."""
    messages = [
        ChatMessage("user", "Ana: My STAR answers run long."),
        ChatMessage("user", "Bea: @coach"),
        ChatMessage("assistant", "Earlier answer."),
        ChatMessage("user", CONVERSATION_CUE),
    ]

    reply = compose_offline_reply(messages, PASSAGES, system=GROUP_CHAT_RULE)

    assert "Picking up the last message, from Ana: “My STAR answers run long.”" in reply
    assert "[1]" in reply
    assert "summoned" not in reply
    assert CONVERSATION_CUE not in reply


def test_offline_summons_in_an_empty_room_invites_a_question():
    reply = compose_offline_reply([ChatMessage("user", CONVERSATION_CUE)], [], system=GROUP_CHAT_RULE)

    assert reply == (
        "Offline coach here. Nobody has asked anything here yet: ask a question, and I will point you "
        "to what the notes shared with this lounge say about it.\n"
    )


def test_a_private_question_keeps_its_colon():
    """Only a lounge prompt names speakers: a private question with a colon is quoted whole."""
    reply = compose_offline_reply([ChatMessage("user", "STAR: how long should an answer be?")], [])

    assert "You asked: “STAR: how long should an answer be?”" in reply


@pytest.mark.django_db
def test_offline_passages_may_be_plain_strings(no_keys, org, learner):
    result = chat_complete(
        organisation=org,
        user=learner,
        feature="coach",
        messages=[{"role": "user", "content": "Recursion?"}],
        passages=["Recursion: a function that calls itself."],
    )

    assert "From a note: Recursion: a function that calls itself. [1]" in result.text


def test_quotes_inside_the_question_become_single_quotes():
    reply = compose_offline_reply([ChatMessage("user", "Let's talk about my note “STAR method”.")], [])

    assert "You asked: “Let's talk about my note \u2018STAR method\u2019.”" in reply
