"""Lounge services: rights on every action, idempotency, revisions, audit and the exact events
published (`capture_events`, tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args

import pytest
import time_machine
from django.utils import timezone

from domains.accounts.models import Membership, Role
from domains.ai.models import AIFeatureConfig
from domains.compliance.models import AuditEvent
from domains.lounges import services
from domains.lounges.models import LoungeAccess, LoungeMembership, LoungeRole, Message, MessageStatus, ReportStatus
from domains.lounges.services import LoungeError
from tests.events import CapturedEvents
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory

pytestmark = pytest.mark.django_db


def _member(lounge: Any, role: str = LoungeRole.MEMBER) -> Any:
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=role)
    return user


def _user(user: Any) -> dict[str, Any]:
    return {"id": user.pk, "name": user.public_name}


def _wire(message: Message, **changes: Any) -> dict[str, Any]:
    """A message as its events carry it (docs/realtime-protocol.md, "Message"), built from its row:
    not pinned, hidden or deleted, unedited, without usage, error or citations unless `changes` says."""
    wire: dict[str, Any] = {
        "id": message.pk,
        "author": _user(message.author) if message.author_kind == "user" else None,
        "author_kind": message.author_kind,
        "body": message.body,
        "html": message.body_html,
        "status": message.status,
        "reply_to": message.reply_to_id,
        "client_msg_id": message.client_msg_id,
        "summoned_by": message.summoned_by_id,
        "created_at": message.created_at.isoformat(),
        "edited_at": None,
        "pinned": False,
        "hidden": False,
        "deleted": False,
        "hidden_reason": "",
        "provider_label": message.provider_label,
        "usage": {"tokens_in": 0, "tokens_out": 0},
        "error": None,
        "citations": [],
    }
    if message.author_kind == "coach":
        wire["coach_name"] = message.lounge.coach_name
    return {**wire, **changes}


def _durable(events: CapturedEvents, lounge: Any) -> list[dict[str, Any]]:
    """The lounge's events, asserting that every one was durable (a row with a seq)."""
    assert events.select(lounge.stream) == events.select(lounge.stream, durable=True)
    return events.events(lounge.stream)


@pytest.fixture
def lounge() -> Any:
    return LoungeFactory.create()


def test_a_post_publishes_one_durable_event_and_a_repeat_publishes_none(
    lounge: Any, capture_events: CapturedEvents
) -> None:
    author = _member(lounge)
    first = services.message_post(lounge=lounge, author=author, body=" hi ", client_msg_id="x")
    again = services.message_post(lounge=lounge, author=author, body="hi", client_msg_id="x")
    assert (first.created, again.created) == (True, False)
    assert first.message.pk == again.message.pk
    assert first.message.body == "hi"
    message = Message.objects.get(pk=first.message.pk)
    assert _durable(capture_events, lounge) == [
        {
            "type": "message.created",
            "message": _wire(message, author=_user(author), author_kind="user", body="hi", status="complete"),
        }
    ]
    assert [p.seq for p in capture_events] == [1]


def test_raw_html_in_a_post_is_escaped_and_images_never_render(lounge: Any) -> None:
    author = _member(lounge)
    message = services.message_post(
        lounge=lounge,
        author=author,
        client_msg_id="h",
        body="<script>alert(1)</script> ![x](https://evil.example/t.png) [site](https://example.org)",
    ).message
    assert "<script>" not in message.body_html
    assert "<img" not in message.body_html
    assert 'rel="nofollow noopener noreferrer"' in message.body_html


def test_non_members_cannot_post_and_nothing_is_stored(lounge: Any, capture_events: CapturedEvents) -> None:
    outsider = UserFactory.create()
    with pytest.raises(LoungeError) as refusal:
        services.message_post(lounge=lounge, author=outsider, body="hi", client_msg_id="y")
    assert refusal.value.code == "not_member"
    assert not Message.objects.exists()
    assert capture_events.events() == []


def test_a_mute_lifts_itself(lounge: Any) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=5)
    with pytest.raises(LoungeError) as refusal:
        services.message_post(lounge=lounge, author=member, body="hi", client_msg_id="1")
    assert refusal.value.code == "muted"
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        posted = services.message_post(lounge=lounge, author=member, body="hi", client_msg_id="2")
    assert posted.created


def test_slow_mode_counts_from_the_last_post_and_spares_moderators(lounge: Any) -> None:
    owner = _member(lounge, LoungeRole.OWNER)
    member = _member(lounge)
    services.lounge_settings_set(lounge=lounge, moderator=owner, slow_mode_seconds=60)
    lounge.refresh_from_db()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.message_post(lounge=lounge, author=member, body="1", client_msg_id="a")
        services.message_post(lounge=lounge, author=owner, body="m1", client_msg_id="m1")
        services.message_post(lounge=lounge, author=owner, body="m2", client_msg_id="m2")
    with time_machine.travel(start + timedelta(seconds=30), tick=False), pytest.raises(LoungeError) as refusal:
        services.message_post(lounge=lounge, author=member, body="2", client_msg_id="b")
    assert refusal.value.code == "slow_mode"
    assert refusal.value.retry_after == pytest.approx(30)
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert services.message_post(lounge=lounge, author=member, body="3", client_msg_id="c").created


def test_moderators_cannot_act_on_the_owner_or_each_other(lounge: Any) -> None:
    owner = _member(lounge, LoungeRole.OWNER)
    moderator = _member(lounge, LoungeRole.MODERATOR)
    other_moderator = _member(lounge, LoungeRole.MODERATOR)
    for target in (owner, other_moderator, moderator):
        with pytest.raises(LoungeError):
            services.member_mute(lounge=lounge, moderator=moderator, member=target, minutes=5)
    assert not LoungeMembership.objects.filter(muted_until__isnull=False).exists()


def test_every_moderation_action_is_audited_and_published(lounge: Any, capture_events: CapturedEvents) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    message = services.message_post(lounge=lounge, author=member, body="hello", client_msg_id="m").message
    posted = _wire(message)
    services.message_pin(message=message, moderator=moderator)
    services.message_unpin(message=message, moderator=moderator)
    services.message_hide(message=message, moderator=moderator, reason="off topic")
    services.message_unhide(message=message, moderator=moderator)
    services.message_delete(message=message, moderator=moderator, reason="spam")
    muted = services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=1)
    services.member_unmute(lounge=lounge, moderator=moderator, member=member)
    services.lounge_settings_set(lounge=lounge, moderator=moderator, locked=True, slow_mode_seconds=10)
    services.member_ban(lounge=lounge, moderator=moderator, member=member, reason="abuse")
    services.member_unban(lounge=lounge, moderator=moderator, member=member)
    by, user = moderator.pk, _user(member)
    assert muted.muted_until is not None
    assert _durable(capture_events, lounge) == [
        {"type": "message.created", "message": posted},
        {"type": "message.pinned", "id": message.pk, "by": by, "reason": ""},
        {"type": "message.unpinned", "id": message.pk, "by": by, "reason": ""},
        {"type": "message.hidden", "id": message.pk, "by": by, "reason": "off topic"},
        # unhidden, unpinned again: the message as it was posted, which members never saw hidden
        {"type": "message.unhidden", "id": message.pk, "by": by, "reason": "", "message": posted},
        {"type": "message.deleted", "id": message.pk, "by": by, "reason": "spam"},
        {"type": "member.muted", "user": user, "by": by, "until": muted.muted_until.isoformat(), "reason": ""},
        {"type": "member.unmuted", "user": user, "by": by, "until": None},
        {"type": "lounge.updated", "locked": True, "slow_mode_seconds": 10, "by": by},
        {"type": "member.banned", "user": user, "by": by, "reason": "abuse"},
        {"type": "member.unbanned", "user": user, "by": by},
    ]
    actions = set(AuditEvent.objects.filter(actor=moderator).values_list("action", flat=True))
    assert actions == {
        "lounge.message_pinned",
        "lounge.message_unpinned",
        "lounge.message_hidden",
        "lounge.message_unhidden",
        "lounge.message_deleted",
        "lounge.member_muted",
        "lounge.member_unmuted",
        "lounge.settings_changed",
        "lounge.member_banned",
        "lounge.member_unbanned",
    }
    assert AuditEvent.objects.filter(actor=moderator, details__lounge=lounge.pk).count() == 10


def test_hiding_needs_a_reason_and_a_moderator(lounge: Any) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    message = services.message_post(lounge=lounge, author=member, body="x", client_msg_id="x").message
    with pytest.raises(LoungeError):
        services.message_hide(message=message, moderator=moderator, reason="   ")
    with pytest.raises(LoungeError):
        services.message_hide(message=message, moderator=member, reason="mine")
    message.refresh_from_db()
    assert message.hidden_at is None


def test_an_edit_keeps_the_reported_text(lounge: Any, capture_events: CapturedEvents) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    author = _member(lounge)
    reporter = _member(lounge)
    message = services.message_post(lounge=lounge, author=author, body="rude words", client_msg_id="r").message
    report = services.report_create(message=message, reporter=reporter, reason="rude")
    assert services.report_create(message=message, reporter=reporter, reason="again").pk == report.pk
    services.message_edit(message=message, editor=author, body="nice words")
    report.refresh_from_db()
    assert report.reported_body == "rude words"
    assert list(message.revisions.values_list("body", flat=True)) == ["rude words"]
    with pytest.raises(LoungeError):
        services.message_edit(message=message, editor=reporter, body="not yours")
    resolved = services.report_resolve(report=report, moderator=moderator, action="delete", note="rude")
    assert resolved.status == ReportStatus.ACTIONED
    message.refresh_from_db()
    assert message.is_deleted
    assert message.edited_at is not None
    reported = {
        "id": report.pk,
        "message_id": message.pk,
        "reporter": _user(reporter),
        "reason": "rude",
        "reported_body": "rude words",
        "status": "open",
        "resolution": "",
        "created_at": report.created_at.isoformat(),
    }
    edited = _wire(message, body="nice words", edited_at=message.edited_at.isoformat())
    assert _durable(capture_events, lounge)[1:] == [
        {"type": "report.created", "audience": "moderators", "report": reported},
        {"type": "message.edited", "message": edited},
        {"type": "message.deleted", "id": message.pk, "by": moderator.pk, "reason": "rude"},
        {
            "type": "report.resolved",
            "audience": "moderators",
            "report": {**reported, "status": "actioned", "resolution": "delete: rude"},
        },
    ]


def test_invite_lounges_need_the_code_and_members_lounges_need_a_moderator() -> None:
    invite = LoungeFactory.create(access=LoungeAccess.INVITE, invite_code="sesame")
    members = LoungeFactory.create(access=LoungeAccess.MEMBERS)
    person = UserFactory.create()
    with pytest.raises(LoungeError):
        services.lounge_join(lounge=invite, user=person, invite_code="wrong")
    with pytest.raises(LoungeError):
        services.lounge_join(lounge=members, user=person)
    assert not LoungeMembership.objects.filter(user=person).exists()
    assert services.lounge_join(lounge=invite, user=person, invite_code="sesame").role == LoungeRole.MEMBER


def test_only_the_owner_makes_a_moderator_audited_once_and_unpublished(
    lounge: Any, capture_events: CapturedEvents
) -> None:
    """Given an owner, a moderator and a member, when the moderator tries to promote the member,
    the owner to change their own role, or anyone to make an owner, each is refused and nothing
    changes; when the owner promotes the member twice, the role changes once, audited once, and no
    event is published."""
    owner = _member(lounge, LoungeRole.OWNER)
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    refused = [
        ({"owner": moderator, "member": member, "role": LoungeRole.MODERATOR}, ("not_allowed", None)),
        ({"owner": owner, "member": owner, "role": LoungeRole.MEMBER}, ("not_allowed", None)),
        ({"owner": owner, "member": member, "role": LoungeRole.OWNER}, ("invalid", "role")),
        ({"owner": owner, "member": UserFactory.create(), "role": LoungeRole.MODERATOR}, ("not_found", None)),
    ]
    for arguments, outcome in refused:
        with pytest.raises(LoungeError) as refusal:
            services.member_role_set(lounge=lounge, **arguments)
        assert (refusal.value.code, refusal.value.field) == outcome
    assert LoungeMembership.objects.get(lounge=lounge, user=member).role == LoungeRole.MEMBER

    for _ in range(2):
        promoted = services.member_role_set(lounge=lounge, owner=owner, member=member, role=LoungeRole.MODERATOR)

    assert promoted.role == LoungeRole.MODERATOR
    assert LoungeMembership.objects.get(lounge=lounge, user=member).is_moderator
    audits = AuditEvent.objects.filter(action="lounge.member_role_changed")
    assert [(a.actor_id, a.details["role"], a.details["previous"]) for a in audits] == [
        (owner.pk, "moderator", "member")
    ]
    assert capture_events.events() == []


def test_a_coach_summons_is_idempotent_and_respects_mutes(
    lounge: Any, django_capture_on_commit_callbacks: Any, capture_events: CapturedEvents
) -> None:
    member = _member(lounge)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply, created = services.coach_summon(lounge=lounge, user=member, request_id="r1")
        again, created_again = services.coach_summon(lounge=lounge, user=member, request_id="r1")
    assert (created, created_again) == (True, False)
    assert reply.pk == again.pk
    assert reply.status == MessageStatus.STREAMING
    assert Message.objects.filter(author_kind="coach").count() == 1
    assert _durable(capture_events, lounge) == [
        {
            "type": "message.created",
            "message": _wire(
                reply, author=None, author_kind="coach", body="", html="", status="streaming", summoned_by=member.pk
            ),
        }
    ]
    assert _wire(reply)["coach_name"] == lounge.coach_name
    # one on-commit send for the event, one enqueue of the job: the repeat added neither
    assert len(callbacks) == 2
    moderator = _member(lounge, LoungeRole.MODERATOR)
    services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=5)
    with pytest.raises(LoungeError) as refusal:
        services.coach_summon(lounge=lounge, user=member, request_id="r2")
    assert refusal.value.code == "muted"


def test_a_coach_mention_in_slow_mode_posts_and_summons_in_one_call(
    lounge: Any, django_capture_on_commit_callbacks: Any, capture_events: CapturedEvents
) -> None:
    """In a slow-mode lounge, a post that mentions @coach lands and starts the coach reply in the
    same call: the summons is not refused by the slow-mode window the post itself just opened."""
    # given a member of a lounge in slow mode
    member = _member(lounge)
    lounge.slow_mode_seconds = 60
    lounge.save(update_fields=["slow_mode_seconds"])
    # when they post a message that mentions the coach
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        posted = services.message_post(lounge=lounge, author=member, body="@coach how do I start?", client_msg_id="q")
    # then the post and the streaming reply to it exist, published in that order, the job enqueued
    assert posted.created
    assert posted.coach is not None
    assert posted.coach.refusal is None
    assert posted.coach.created
    reply = posted.coach.reply
    assert reply is not None
    assert (reply.author_kind, reply.status, reply.reply_to_id) == ("coach", MessageStatus.STREAMING, posted.message.pk)
    assert (reply.summoned_by_id, reply.coach_request_id) == (member.pk, "mention-q")
    assert _durable(capture_events, lounge) == [
        {"type": "message.created", "message": _wire(posted.message)},
        {"type": "message.created", "message": _wire(reply, reply_to=posted.message.pk, status="streaming")},
    ]
    assert len(callbacks) == 3  # two event sends and one enqueue of the coach job
    assert posted.last_posted_at == LoungeMembership.objects.get(lounge=lounge, user=member).last_posted_at
    # and slow mode still holds the member's next post back
    with pytest.raises(LoungeError) as refusal:
        services.message_post(lounge=lounge, author=member, body="@coach again", client_msg_id="q2")
    assert refusal.value.code == "slow_mode"
    assert Message.objects.count() == 2


def test_a_refused_coach_mention_leaves_the_post_and_says_why(lounge: Any, capture_events: CapturedEvents) -> None:
    """When the AI quota refuses the summons a @coach mention asks for, the post still lands and the
    outcome carries the refusal (code and retry time); no reply is created."""
    # given a member allowed one coach request an hour, who has used it
    member = _member(lounge)
    AIFeatureConfig.objects.create(organisation=lounge.organisation, feature="lounge", requests_per_hour_per_user=1)
    first = services.message_post(lounge=lounge, author=member, body="@coach one", client_msg_id="a")
    assert first.coach is not None
    assert first.coach.reply is not None
    # when they mention the coach again
    posted = services.message_post(lounge=lounge, author=member, body="and @Coach two", client_msg_id="b")
    # then the post stands, the summons is refused with the quota's code, and only the post was published
    assert posted.created
    assert Message.objects.filter(pk=posted.message.pk, body="and @Coach two").exists()
    assert posted.coach is not None
    assert posted.coach.reply is None
    assert posted.coach.refusal is not None
    assert posted.coach.refusal.code == "quota"
    assert posted.coach.refusal.retry_after == pytest.approx(3600)
    assert Message.objects.filter(author_kind="coach").count() == 1
    assert _durable(capture_events, lounge) == [
        {"type": "message.created", "message": _wire(first.message)},
        {"type": "message.created", "message": _wire(first.coach.reply)},
        {"type": "message.created", "message": _wire(posted.message, body="and @Coach two")},
    ]


def test_a_repeated_mention_post_summons_nothing(lounge: Any) -> None:
    """A repeat of a @coach post (same client_msg_id) returns the first post and starts no reply."""
    member = _member(lounge)
    services.message_post(lounge=lounge, author=member, body="@coach hi", client_msg_id="r")
    again = services.message_post(lounge=lounge, author=member, body="@coach hi", client_msg_id="r")
    assert (again.created, again.coach) == (False, None)
    assert Message.objects.filter(author_kind="coach").count() == 1


def test_moderation_apply_dispatches_every_action_the_socket_accepts(
    lounge: Any, capture_events: CapturedEvents
) -> None:
    """`moderation_apply` handles exactly the actions the `moderate` message allows, each through
    its own service (the same events as calling those services directly)."""
    assert set(get_args(services.ModerationAction)) == {
        *services._ON_MESSAGE,
        *services._ON_MEMBER,
        *services._ON_LOUNGE,
    }
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    message = services.message_post(lounge=lounge, author=member, body="hello", client_msg_id="m").message
    steps: list[dict[str, Any]] = [
        {"action": "pin", "message_id": message.pk},
        {"action": "unpin", "message_id": message.pk},
        {"action": "hide", "message_id": message.pk, "reason": "off topic"},
        {"action": "unhide", "message_id": message.pk},
        {"action": "mute", "user_id": member.pk, "minutes": 5},
        {"action": "unmute", "user_id": member.pk},
        {"action": "lock"},
        {"action": "unlock"},
        {"action": "slow_mode", "seconds": 10},
        {"action": "delete", "message_id": message.pk, "reason": "spam"},
        {"action": "ban", "user_id": member.pk, "reason": "abuse"},
        {"action": "unban", "user_id": member.pk},
    ]
    posted = _wire(message)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        for step in steps:
            assert services.moderation_apply(lounge=lounge, moderator=moderator, **step) == step["action"]
        kicked = _member(lounge)
        services.moderation_apply(lounge=lounge, moderator=moderator, action="kick", user_id=kicked.pk)
    by, user, pk = moderator.pk, _user(member), message.pk
    assert _durable(capture_events, lounge)[1:] == [
        {"type": "message.pinned", "id": pk, "by": by, "reason": ""},
        {"type": "message.unpinned", "id": pk, "by": by, "reason": ""},
        {"type": "message.hidden", "id": pk, "by": by, "reason": "off topic"},
        {"type": "message.unhidden", "id": pk, "by": by, "reason": "", "message": posted},
        {
            "type": "member.muted",
            "user": user,
            "by": by,
            "until": (now + timedelta(minutes=5)).isoformat(),
            "reason": "",
        },
        {"type": "member.unmuted", "user": user, "by": by, "until": None},
        {"type": "lounge.updated", "locked": True, "slow_mode_seconds": 0, "by": by},
        {"type": "lounge.updated", "locked": False, "slow_mode_seconds": 0, "by": by},
        {"type": "lounge.updated", "locked": False, "slow_mode_seconds": 10, "by": by},
        {"type": "message.deleted", "id": pk, "by": by, "reason": "spam"},
        {"type": "member.banned", "user": user, "by": by, "reason": "abuse"},
        {"type": "member.unbanned", "user": user, "by": by},
        {"type": "member.kicked", "user": _user(kicked), "by": by, "reason": ""},
    ]


@pytest.mark.parametrize(
    ("step", "code", "field"),
    [
        ({"action": "hide", "reason": "x"}, "invalid", "message_id"),
        ({"action": "mute", "user_id": None}, "invalid", "user_id"),
        ({"action": "slow_mode"}, "invalid", "seconds"),
        ({"action": "ban", "user_id": 2**40}, "not_found", "user_id"),
    ],
)
def test_moderation_apply_refuses_a_missing_field_or_a_stranger_and_changes_nothing(
    lounge: Any, step: dict[str, Any], code: str, field: str, capture_events: CapturedEvents
) -> None:
    """An action without the field it needs, or aimed at someone outside the organisation, is
    refused field by field, and nothing is published."""
    moderator = _member(lounge, LoungeRole.MODERATOR)
    with pytest.raises(LoungeError) as refusal:
        services.moderation_apply(lounge=lounge, moderator=moderator, **step)
    assert (refusal.value.code, refusal.value.field) == (code, field)
    assert capture_events.events() == []


def test_a_mute_needs_minutes_once_the_member_is_found(lounge: Any) -> None:
    """`mute` without `minutes` is refused on `minutes`; the member stays unmuted."""
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    with pytest.raises(LoungeError) as refusal:
        services.moderation_apply(lounge=lounge, moderator=moderator, action="mute", user_id=member.pk)
    assert (refusal.value.code, refusal.value.field) == ("invalid", "minutes")
    assert LoungeMembership.objects.get(lounge=lounge, user=member).muted_until is None


# ------------------------------------------------------------------------------------------ ownership
def test_the_owner_cannot_leave_and_is_told_how_to_hand_over(lounge: Any, capture_events: CapturedEvents) -> None:
    """Given an owner, when they leave, they are refused with `owner_cannot_leave` and a message that
    says what to do; they stay the owner and nothing is published. A moderator may leave."""
    owner = _member(lounge, LoungeRole.OWNER)
    moderator = _member(lounge, LoungeRole.MODERATOR)

    with pytest.raises(LoungeError) as refusal:
        services.lounge_leave(lounge=lounge, user=owner)

    assert refusal.value.code == "owner_cannot_leave"
    assert "Make owner" in refusal.value.message
    assert LoungeMembership.objects.get(lounge=lounge, user=owner).role == LoungeRole.OWNER
    assert capture_events.events() == []
    assert services.lounge_leave(lounge=lounge, user=moderator) is True


def test_the_owner_hands_the_lounge_to_a_member_then_may_leave(lounge: Any, capture_events: CapturedEvents) -> None:
    """Given an owner and a member, when the owner transfers ownership (through `moderate`, as the
    socket sends it), the member owns the lounge, the old owner is a moderator, the transfer is
    audited, and one `member.role_changed` per person is published; then the old owner may leave."""
    owner = _member(lounge, LoungeRole.OWNER)
    member = _member(lounge)

    action = services.moderation_apply(lounge=lounge, moderator=owner, action="transfer_ownership", user_id=member.pk)

    assert action == "transfer_ownership"
    roles = dict(LoungeMembership.objects.filter(lounge=lounge).values_list("user_id", "role"))
    assert roles == {owner.pk: LoungeRole.MODERATOR, member.pk: LoungeRole.OWNER}
    (audit,) = AuditEvent.objects.filter(action="lounge.ownership_transferred")
    assert (audit.actor_id, audit.target_id, audit.details["previous"], audit.details["previous_owner"]) == (
        owner.pk,
        str(member.pk),
        "member",
        owner.pk,
    )
    assert _durable(capture_events, lounge) == [
        {"type": "member.role_changed", "user": _user(member), "by": owner.pk, "role": "owner"},
        {"type": "member.role_changed", "user": _user(owner), "by": owner.pk, "role": "moderator"},
    ]
    assert services.lounge_leave(lounge=lounge, user=owner) is True
    assert list(LoungeMembership.objects.filter(lounge=lounge).values_list("user_id", "role")) == [
        (member.pk, LoungeRole.OWNER)
    ]


def test_only_the_owner_transfers_ownership_and_only_to_a_member(lounge: Any, capture_events: CapturedEvents) -> None:
    """A moderator cannot transfer; the owner cannot transfer to themselves, to a banned member, or
    to someone outside the lounge. Each refusal changes nothing and publishes nothing."""
    owner = _member(lounge, LoungeRole.OWNER)
    moderator = _member(lounge, LoungeRole.MODERATOR)
    banned = _member(lounge)
    LoungeMembership.objects.filter(user=banned).update(is_banned=True)
    outsider = UserFactory.create()
    Membership.objects.create(user=outsider, organisation=lounge.organisation, role=Role.LEARNER)
    refused = [
        ({"owner": moderator, "member": banned}, ("not_allowed", None)),
        ({"owner": moderator, "member": owner}, ("not_allowed", None)),
        ({"owner": owner, "member": owner}, ("invalid", "user_id")),
        ({"owner": owner, "member": banned}, ("not_found", "user_id")),
        ({"owner": owner, "member": outsider}, ("not_found", "user_id")),
    ]
    for arguments, outcome in refused:
        with pytest.raises(LoungeError) as refusal:
            services.lounge_ownership_transfer(lounge=lounge, **arguments)
        assert (refusal.value.code, refusal.value.field) == outcome
    roles = dict(LoungeMembership.objects.filter(lounge=lounge).values_list("user_id", "role"))
    assert roles == {owner.pk: LoungeRole.OWNER, moderator.pk: LoungeRole.MODERATOR, banned.pk: LoungeRole.MEMBER}
    assert capture_events.events() == []
    assert not AuditEvent.objects.filter(action="lounge.ownership_transferred").exists()
