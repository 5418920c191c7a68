"""Isolation: retrieval never ranks what the audience may not read (ARCHITECTURE §6 "Retrieval")."""

from __future__ import annotations

import random
from typing import Any

import pytest

from domains.lounges.models import LoungeRole
from domains.notes.retrieval import notes_search, passages_for_learner, passages_for_lounge
from tests.domains.notes.helpers import World, drive_lounge_coach, embedded_note
from tests.factories.lounges import LoungeFactory, LoungeMembershipFactory

SHARED_WORDS = ["interview", "salary", "negotiation", "feedback", "portfolio", "mentor", "deadline", "pitch", "resume"]
CANARIES = {
    "other_user": "quokkacanary",
    "other_org": "zephyrcanary",
    "other_lounge": "marmotcanary",
    "banned_lounge": "ibexcanary",
    "learner_private": "okapicanary",
}


def _body(canary: str) -> str:
    return f"# Notes on {canary}\n\n{canary} " + " ".join(SHARED_WORDS) + f"\n\n## More\n\n{canary} again, {canary}."


def _seed(world: World) -> dict[str, Any]:
    banned_lounge = LoungeFactory.create(organisation=world.org)
    LoungeMembershipFactory.create(lounge=banned_lounge, user=world.learner, is_banned=True)
    LoungeMembershipFactory.create(lounge=banned_lounge, user=world.outsider, role=LoungeRole.MODERATOR)
    foreign_lounge = LoungeFactory.create(organisation=world.other_org)
    notes = {
        "shared": embedded_note(
            organisation=world.org,
            owner=world.moderator,
            lounge=world.lounge,
            title="Lounge knowledge",
            body="# Shared\n\nlounge knowledge " + " ".join(SHARED_WORDS),
        ),
        "learner_private": embedded_note(
            organisation=world.org, owner=world.learner, title="My diary", body=_body(CANARIES["learner_private"])
        ),
        "other_user": embedded_note(
            organisation=world.org, owner=world.outsider, title="Secret", body=_body(CANARIES["other_user"])
        ),
        "other_org": embedded_note(
            organisation=world.other_org,
            owner=world.foreigner,
            lounge=foreign_lounge,
            title="Elsewhere",
            body=_body(CANARIES["other_org"]),
        ),
        "other_lounge": embedded_note(
            organisation=world.org,
            owner=world.outsider,
            lounge=world.other_lounge,
            title="Other room",
            body=_body(CANARIES["other_lounge"]),
        ),
        "banned_lounge": embedded_note(
            organisation=world.org,
            owner=world.outsider,
            lounge=banned_lounge,
            title="Banned room",
            body=_body(CANARIES["banned_lounge"]),
        ),
    }
    return notes


@pytest.mark.django_db
def test_no_canary_crosses_an_audience_over_200_random_queries(world: World) -> None:
    """Over 200 seeded random queries (canary words included): a learner never retrieves another
    user's private note, another organisation's note, or a lounge they are not in (or banned from);
    a lounge coach never retrieves anyone's private note."""
    notes = _seed(world)
    rng = random.Random(5)
    vocabulary = SHARED_WORDS + list(CANARIES.values()) + ["lounge", "knowledge", "again", "notes"]
    forbidden_for_learner = {notes[key].pk for key in ("other_user", "other_org", "other_lounge", "banned_lounge")}
    forbidden_for_lounge = forbidden_for_learner | {notes["learner_private"].pk}
    seen_learner: set[int] = set()
    seen_lounge: set[int] = set()
    for _ in range(200):
        query = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 6)))
        hits = notes_search(organisation=world.org, user=world.learner, query=query, k=8)
        assert not {hit.note_id for hit in hits} & forbidden_for_learner, query
        seen_learner |= {hit.note_id for hit in hits}
        passages = passages_for_lounge(lounge=world.lounge, query=query, k=8)
        text = " ".join(p.text + p.title for p in passages)
        assert not any(canary in text for canary in CANARIES.values()), query
        seen_lounge |= {int(p.source.split(":")[1].split("#")[0]) for p in passages}
        assert not seen_lounge & forbidden_for_lounge
    # The searches did find things: the readable notes came back.
    assert seen_learner == {notes["shared"].pk, notes["learner_private"].pk}
    assert seen_lounge == {notes["shared"].pk}
    # A learner's private-thread passages: own notes and their lounge's shared notes.
    learner_passages = passages_for_learner(organisation=world.org, user=world.learner, query="okapicanary lounge")
    assert {p.source.split("#")[0] for p in learner_passages} == {
        f"note:{notes['learner_private'].pk}",
        f"note:{notes['shared'].pk}",
    }
    # Someone from another organisation passing this organisation finds nothing.
    assert notes_search(organisation=world.org, user=world.foreigner, query="interview okapicanary", k=8) == []


@pytest.mark.django_db
def test_the_lounge_coach_prompt_carries_shared_notes_and_never_a_private_canary(
    world: World, fake_llm: Any, settings: Any
) -> None:
    """Driving the real lounge coach through the fake provider: the shared note's passage reaches
    the prompt, the learner's private canary (a perfect match for the question) never does."""
    _seed(world)
    message, request = drive_lounge_coach(
        lounge=world.lounge,
        asker=world.learner,
        question="okapicanary: what do my notes say about salary negotiation and lounge knowledge?",
        fake_llm=fake_llm,
        settings=settings,
    )
    assert message is not None
    prompt = "\n".join(str(m.get("content")) for m in request.messages)
    assert "lounge knowledge interview salary negotiation" in request.system  # the shared passage
    for name, canary in CANARIES.items():
        if name == "learner_private":
            # The question itself names it (the asker typed it); no passage may carry it.
            assert canary not in request.system
        else:
            assert canary not in prompt
    assert message.status == "complete"
