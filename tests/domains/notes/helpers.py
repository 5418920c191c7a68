"""Helpers for the notes and coach tests (imported by test modules, after Django is set up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.test import Client
from pytest_django import Settings

from domains.accounts.models import Organisation, Role, User
from domains.lounges.models import Lounge, LoungeRole, Message
from domains.notes.models import Note
from domains.notes.services import note_embed
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory, LoungeMembershipFactory
from tests.factories.notes import NoteFactory
from tests.fakes.llm_server import FakeLLMServer, RecordedRequest


def embedded_note(**fields: Any) -> Note:
    """A note with its chunks written (what the embed task does after commit)."""
    note = NoteFactory.create(**fields)
    note_embed(note_id=note.pk)
    return note


@dataclass
class World:
    """One organisation with a lounge: a moderator, a learner who belongs to it, an outsider learner
    who does not; plus a second organisation."""

    org: Organisation
    lounge: Lounge
    other_lounge: Lounge
    moderator: User
    learner: User
    outsider: User
    other_org: Organisation
    foreigner: User


def build_world() -> World:
    org = OrganisationFactory.create()
    other_org = OrganisationFactory.create()
    moderator, learner, outsider = UserFactory.create(), UserFactory.create(), UserFactory.create()
    for user in (moderator, learner, outsider):
        MembershipFactory.create(user=user, organisation=org, role=Role.LEARNER)
    foreigner = MembershipFactory.create(organisation=other_org).user
    lounge = LoungeFactory.create(organisation=org)
    other_lounge = LoungeFactory.create(organisation=org)
    LoungeMembershipFactory.create(lounge=lounge, user=moderator, role=LoungeRole.MODERATOR)
    LoungeMembershipFactory.create(lounge=lounge, user=learner)
    LoungeMembershipFactory.create(lounge=other_lounge, user=outsider, role=LoungeRole.OWNER)
    return World(org, lounge, other_lounge, moderator, learner, outsider, other_org, foreigner)


def drive_lounge_coach(
    *, lounge: Lounge, asker: User, question: str, fake_llm: FakeLLMServer, settings: Settings, reply: str = ""
) -> tuple[Message | None, RecordedRequest]:
    """Run the real lounge coach once against the fake OpenAI server; returns (message, request)."""
    from domains.coach.lounge_reply import lounge_reply_generate
    from domains.lounges.models import AuthorKind, MessageStatus
    from tests.factories.lounges import MessageFactory

    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url
    lounge.coach_provider = "openai"
    lounge.save(update_fields=["coach_provider"])
    asked = MessageFactory.create(lounge=lounge, author=asker, body=question)
    coach = Message.objects.create(
        reply_to=asked,
        lounge=lounge,
        author=None,
        author_kind=AuthorKind.COACH,
        status=MessageStatus.STREAMING,
        summoned_by=asker,
        coach_request_id=f"req-{lounge.pk}-{Message.objects.count()}",
    )
    if reply:
        fake_llm.queue({"text": reply, "match": "openai"})
    message = lounge_reply_generate(message_id=coach.pk)
    chats = [r for r in fake_llm.requests if r.protocol == "openai"]
    return message, chats[-1]


def signed_in_client(user: User, first: str) -> Client:
    """A client signed in as `user` whose session's first request (`first`) is behind it: that one
    also checks the policies and saves the session, which a query count must not include."""
    client = Client()
    client.force_login(user)
    client.get(first)
    return client
