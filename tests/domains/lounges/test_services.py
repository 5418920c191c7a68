"""Lounge services: rights on every action, idempotency, revisions, audit and the events published."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from domains.accounts.models import Membership, Role
from domains.compliance.models import AuditEvent
from domains.lounges import services
from domains.lounges.models import LoungeAccess, LoungeMembership, LoungeRole, Message, MessageStatus, ReportStatus
from domains.lounges.services import LoungeError
from realtime.models import StreamEvent
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory

pytestmark = pytest.mark.django_db


def _member(lounge: Any, role: str = LoungeRole.MEMBER) -> Any:
    user = UserFactory()
    Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=role)
    return user


def _events(lounge: Any) -> list[str]:
    return list(StreamEvent.objects.filter(stream_id=lounge.stream).order_by("seq").values_list("type", flat=True))


@pytest.fixture
def lounge() -> Any:
    return LoungeFactory()


def test_a_post_publishes_one_durable_event_and_a_repeat_publishes_none(lounge: Any) -> None:
    author = _member(lounge)
    first, created = services.message_post(lounge=lounge, author=author, body=" hi ", client_msg_id="x")
    again, created_again = services.message_post(lounge=lounge, author=author, body="hi", client_msg_id="x")
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert first.body == "hi"
    assert _events(lounge) == ["message.created"]


def test_raw_html_in_a_post_is_escaped_and_images_never_render(lounge: Any) -> None:
    author = _member(lounge)
    message, _ = services.message_post(
        lounge=lounge,
        author=author,
        client_msg_id="h",
        body="<script>alert(1)</script> ![x](https://evil.example/t.png) [site](https://example.org)",
    )
    assert "<script>" not in message.body_html
    assert "<img" not in message.body_html
    assert 'rel="nofollow noopener noreferrer"' in message.body_html


def test_non_members_cannot_post_and_nothing_is_stored(lounge: Any) -> None:
    outsider = UserFactory()
    with pytest.raises(LoungeError) as refusal:
        services.message_post(lounge=lounge, author=outsider, body="hi", client_msg_id="y")
    assert refusal.value.code == "not_member"
    assert not Message.objects.exists()
    assert _events(lounge) == []


def test_a_mute_lifts_itself(lounge: Any) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=5)
    with pytest.raises(LoungeError) as refusal:
        services.message_post(lounge=lounge, author=member, body="hi", client_msg_id="1")
    assert refusal.value.code == "muted"
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        _, created = services.message_post(lounge=lounge, author=member, body="hi", client_msg_id="2")
    assert created


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
        assert services.message_post(lounge=lounge, author=member, body="3", client_msg_id="c")[1]


def test_moderators_cannot_act_on_the_owner_or_each_other(lounge: Any) -> None:
    owner = _member(lounge, LoungeRole.OWNER)
    moderator = _member(lounge, LoungeRole.MODERATOR)
    other_moderator = _member(lounge, LoungeRole.MODERATOR)
    for target in (owner, other_moderator, moderator):
        with pytest.raises(LoungeError):
            services.member_mute(lounge=lounge, moderator=moderator, member=target, minutes=5)
    assert not LoungeMembership.objects.filter(muted_until__isnull=False).exists()


def test_every_moderation_action_is_audited_and_published(lounge: Any) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    member = _member(lounge)
    message, _ = services.message_post(lounge=lounge, author=member, body="hello", client_msg_id="m")
    services.message_pin(message=message, moderator=moderator)
    services.message_unpin(message=message, moderator=moderator)
    services.message_hide(message=message, moderator=moderator, reason="off topic")
    services.message_unhide(message=message, moderator=moderator)
    services.message_delete(message=message, moderator=moderator, reason="spam")
    services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=1)
    services.member_unmute(lounge=lounge, moderator=moderator, member=member)
    services.lounge_settings_set(lounge=lounge, moderator=moderator, locked=True, slow_mode_seconds=10)
    services.member_ban(lounge=lounge, moderator=moderator, member=member, reason="abuse")
    services.member_unban(lounge=lounge, moderator=moderator, member=member)
    assert _events(lounge) == [
        "message.created",
        "message.pinned",
        "message.unpinned",
        "message.hidden",
        "message.unhidden",
        "message.deleted",
        "member.muted",
        "member.unmuted",
        "lounge.updated",
        "member.banned",
        "member.unbanned",
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
    message, _ = services.message_post(lounge=lounge, author=member, body="x", client_msg_id="x")
    with pytest.raises(LoungeError):
        services.message_hide(message=message, moderator=moderator, reason="   ")
    with pytest.raises(LoungeError):
        services.message_hide(message=message, moderator=member, reason="mine")
    message.refresh_from_db()
    assert message.hidden_at is None


def test_an_edit_keeps_the_reported_text(lounge: Any) -> None:
    moderator = _member(lounge, LoungeRole.MODERATOR)
    author = _member(lounge)
    reporter = _member(lounge)
    message, _ = services.message_post(lounge=lounge, author=author, body="rude words", client_msg_id="r")
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


def test_invite_lounges_need_the_code_and_members_lounges_need_a_moderator() -> None:
    invite = LoungeFactory(access=LoungeAccess.INVITE, invite_code="sesame")
    members = LoungeFactory(access=LoungeAccess.MEMBERS)
    person = UserFactory()
    with pytest.raises(LoungeError):
        services.lounge_join(lounge=invite, user=person, invite_code="wrong")
    with pytest.raises(LoungeError):
        services.lounge_join(lounge=members, user=person)
    assert not LoungeMembership.objects.filter(user=person).exists()
    assert services.lounge_join(lounge=invite, user=person, invite_code="sesame").role == LoungeRole.MEMBER


def test_a_coach_summons_is_idempotent_and_respects_mutes(lounge: Any, django_capture_on_commit_callbacks: Any) -> None:
    member = _member(lounge)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply, created = services.coach_summon(lounge=lounge, user=member, request_id="r1")
        again, created_again = services.coach_summon(lounge=lounge, user=member, request_id="r1")
    assert (created, created_again) == (True, False)
    assert reply.pk == again.pk
    assert reply.status == MessageStatus.STREAMING
    assert Message.objects.filter(author_kind="coach").count() == 1
    assert _events(lounge) == ["message.created"]
    # one on-commit send for the event, one enqueue of the job: the repeat added neither
    assert len(callbacks) == 2
    moderator = _member(lounge, LoungeRole.MODERATOR)
    services.member_mute(lounge=lounge, moderator=moderator, member=member, minutes=5)
    with pytest.raises(LoungeError) as refusal:
        services.coach_summon(lounge=lounge, user=member, request_id="r2")
    assert refusal.value.code == "muted"
