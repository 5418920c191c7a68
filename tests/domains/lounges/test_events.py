"""The lounge event TypedDicts (domains/lounges/events.py) are what lounges publish: every event a
service publishes has exactly the keys its TypedDict declares (nested payloads included), and every
declared type is published by some service, so the types cannot drift from the wire again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args

import pytest
from django.utils import timezone

from domains.accounts.models import Membership, Role
from domains.ai.models import ReplyStatus
from domains.ai.providers.base import Passage
from domains.coach.lounge_reply import lounge_streams_sweep
from domains.lounges import events, services
from domains.lounges.models import AuthorKind, LoungeMembership, LoungeRole, Message, ReportStatus
from domains.notes.retrieval import citations_for
from realtime.livetext import COACH_DELTA, CoachDelta, DeltaCoalescer
from tests.events import CapturedEvents, contract_mismatches, event_types, mismatches
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory

pytestmark = pytest.mark.django_db


def _person(lounge: Any, role: str = LoungeRole.MEMBER) -> Any:
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=role)
    return user


def test_every_durable_lounge_event_is_exactly_its_typeddict(capture_events: CapturedEvents) -> None:
    """Given a lounge, when every lounge service that publishes runs once, then each published event
    matches its TypedDict in `LoungeEvent` key for key, and every declared type was published."""
    # given an open lounge with a moderator and two members
    lounge = LoungeFactory.create()
    moderator = _person(lounge, LoungeRole.MODERATOR)
    member = _person(lounge)
    reporter = _person(lounge)
    # when they post, summon the coach, edit, moderate and report
    posted = services.message_post(lounge=lounge, author=member, body="hi @coach", client_msg_id="a")
    message = posted.message
    services.message_edit(message=message, editor=member, body="hello @coach")
    services.message_pin(message=message, moderator=moderator)
    services.message_unpin(message=message, moderator=moderator)
    services.message_hide(message=message, moderator=moderator, reason="off topic")
    services.message_unhide(message=message, moderator=moderator)
    report = services.report_create(message=message, reporter=reporter, reason="rude")
    services.report_resolve(report=report, moderator=moderator, action="delete", note="rude")
    services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=5, reason="calm down")
    services.member_unmute(lounge=lounge, moderator=moderator, member=member)
    services.lounge_settings_set(lounge=lounge, moderator=moderator, locked=True, slow_mode_seconds=30)
    services.member_kick(lounge=lounge, moderator=moderator, member=reporter, reason="noise")
    services.lounge_join(lounge=lounge, user=reporter)
    services.lounge_leave(lounge=lounge, user=reporter)
    owner = _person(lounge, LoungeRole.OWNER)
    services.lounge_ownership_transfer(lounge=lounge, owner=owner, member=moderator)
    services.member_ban(lounge=lounge, moderator=moderator, member=member, reason="abuse")
    services.member_unban(lounge=lounge, moderator=moderator, member=member)
    # and the coach reply, which cited a note, is swept after its worker vanished
    assert posted.coach is not None
    assert posted.coach.reply is not None
    Message.objects.filter(pk=posted.coach.reply.pk).update(
        citations=citations_for([Passage(text="Breathe first.", title="Nerves", source="note:7#0-14")]),
        updated_at=timezone.now() - timedelta(hours=1),
    )
    assert lounge_streams_sweep(older_than_seconds=60) == 1
    # then every event matches its TypedDict, and every declared type was published
    published = capture_events.select(lounge.stream, durable=True)
    # everything else went to people's personal streams: the notices (domains/lounges/notices.py)
    others = [event for event in capture_events.select() if event.stream != lounge.stream]
    assert {(event.stream.split(".")[0], event.type) for event in others} == {("user", "notification.created")}
    assert len(published) + len(others) == len(capture_events)
    assert contract_mismatches(events.LoungeEvent, published) == []
    assert {p.type for p in published} == set(event_types(events.LoungeEvent))
    completed = [p.payload["message"] for p in published if p.type == "message.completed"]
    assert [len(m["citations"]) for m in completed] == [1]
    assert completed[0]["coach_name"] == lounge.coach_name


def test_the_coach_delta_is_exactly_its_typeddict(capture_events: CapturedEvents) -> None:
    """The delta the coach's job sends on a lounge stream is a `CoachDelta`, ephemeral."""
    coalescer = DeltaCoalescer("lounge.5", 9, interval=1.0, clock=lambda: 0.0, event_type=COACH_DELTA)
    coalescer.add("Hé")
    coalescer.add("llo")
    coalescer.flush()
    assert capture_events.events() == [
        {"type": "coach.delta", "id": 9, "offset": 0, "text": "Hé"},
        {"type": "coach.delta", "id": 9, "offset": 2, "text": "llo"},
    ]
    assert not any(p.durable for p in capture_events)
    assert contract_mismatches(events.LoungeEphemeralEvent, capture_events.published) == []
    assert event_types(CoachDelta) == {COACH_DELTA: CoachDelta}


def test_the_declared_values_are_the_models_choices() -> None:
    """The Literal values in the TypedDicts are exactly the choices the rows can hold."""
    assert set(get_args(events.AuthorKindName)) == set(AuthorKind.values)
    assert set(get_args(events.ReplyStatusName)) == set(ReplyStatus.values)
    assert set(get_args(events.ReportStatusName)) == set(ReportStatus.values)


def test_the_check_refuses_a_missing_or_an_undeclared_key() -> None:
    """The contract check itself: a payload key the TypedDict lacks, or one it requires but the
    event lacks, is reported, nested ones included; an optional key may be missing."""
    user = {"id": 1, "name": "Ana"}
    assert mismatches(events.MemberChanged, {"type": "member.joined", "user": user, "by": 1}) == []
    assert mismatches(events.MemberChanged, {"type": "member.joined", "user": user}) == [
        "event: no key 'by' (MemberChanged)"
    ]
    assert mismatches(events.MemberChanged, {"type": "member.joined", "user": {**user, "x": 1}, "by": 1}) == [
        "event.user: key 'x' is not in AuthorPayload"
    ]
    assert mismatches(events.PresenceLeft, {"type": "presence.left", "user": user}) == [
        "event.user: key 'name' is not in UserRef"
    ]
