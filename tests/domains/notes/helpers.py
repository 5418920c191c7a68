"""Helpers for the notes and coach tests (imported by test modules, after Django is set up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domains.accounts.models import Role
from domains.lounges.models import LoungeRole
from domains.notes.models import Note
from domains.notes.services import note_embed
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory, LoungeMembershipFactory
from tests.factories.notes import NoteFactory


def embedded_note(**fields: Any) -> Note:
    """A note with its chunks written (what the embed task does after commit)."""
    note = NoteFactory(**fields)
    note_embed(note_id=note.pk)
    return note


@dataclass
class World:
    """One organisation with a lounge: a moderator, a learner who belongs to it, an outsider learner
    who does not; plus a second organisation."""

    org: Any
    lounge: Any
    other_lounge: Any
    moderator: Any
    learner: Any
    outsider: Any
    other_org: Any
    foreigner: Any


def build_world() -> World:
    org = OrganisationFactory()
    other_org = OrganisationFactory()
    moderator, learner, outsider = UserFactory(), UserFactory(), UserFactory()
    for user in (moderator, learner, outsider):
        MembershipFactory(user=user, organisation=org, role=Role.LEARNER)
    foreigner = MembershipFactory(organisation=other_org).user
    lounge = LoungeFactory(organisation=org)
    other_lounge = LoungeFactory(organisation=org)
    LoungeMembershipFactory(lounge=lounge, user=moderator, role=LoungeRole.MODERATOR)
    LoungeMembershipFactory(lounge=lounge, user=learner)
    LoungeMembershipFactory(lounge=other_lounge, user=outsider, role=LoungeRole.OWNER)
    return World(org, lounge, other_lounge, moderator, learner, outsider, other_org, foreigner)


def drive_lounge_coach(*, lounge: Any, asker: Any, question: str, fake_llm: Any, settings: Any, reply: str = "") -> Any:
    """Run the real lounge coach once against the fake OpenAI server; returns (message, request)."""
    from domains.lounges.coach import coach_reply_generate
    from domains.lounges.models import AuthorKind, Message, MessageStatus
    from tests.factories.lounges import MessageFactory

    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url
    lounge.coach_provider = "openai"
    lounge.save(update_fields=["coach_provider"])
    MessageFactory(lounge=lounge, author=asker, body=question)
    coach = Message.objects.create(
        lounge=lounge,
        author=None,
        author_kind=AuthorKind.COACH,
        status=MessageStatus.STREAMING,
        summoned_by=asker,
        coach_request_id=f"req-{lounge.pk}-{Message.objects.count()}",
    )
    if reply:
        fake_llm.queue({"text": reply, "match": "openai"})
    message = coach_reply_generate(message_id=coach.pk)
    chats = [r for r in fake_llm.requests if r.protocol == "openai"]
    return message, chats[-1]
