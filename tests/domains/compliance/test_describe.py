"""Audit and moderation logs read as sentences with people's names and links, never emails or raw codes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from domains.accounts.models import Membership, Role
from domains.accounts.services import membership_grant
from domains.compliance.describe import describe_events
from domains.compliance.models import AuditEvent
from domains.lounges.models import LoungeMembership, LoungeRole
from domains.lounges.services import lounge_settings_set, member_mute, message_hide
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory, MessageFactory

pytestmark = pytest.mark.django_db


def text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


@pytest.fixture
def scene() -> dict[str, Any]:
    lounge = LoungeFactory.create(title="Interview prep")
    mentor = UserFactory.create(display_name="Mira Mentor", email="mira@example.test")
    learner = UserFactory.create(display_name="Lena Learner", email="lena@example.test")
    staff = UserFactory.create(display_name="Stan Staff", email="stan@example.test")
    for user, role in ((mentor, Role.MENTOR), (learner, Role.LEARNER), (staff, Role.STAFF)):
        Membership.objects.create(user=user, organisation=lounge.organisation, role=role)
    LoungeMembership.objects.create(lounge=lounge, user=mentor, role=LoungeRole.MODERATOR)
    LoungeMembership.objects.create(lounge=lounge, user=staff, role=LoungeRole.OWNER)
    LoungeMembership.objects.create(lounge=lounge, user=learner)
    return {"lounge": lounge, "mentor": mentor, "learner": learner, "staff": staff}


def latest() -> Any:
    return describe_events([AuditEvent.objects.order_by("-pk")[0]])[0]


def test_a_mute_reads_as_a_sentence_with_names_and_links(scene: dict[str, Any]) -> None:
    lounge, mentor, learner = scene["lounge"], scene["mentor"], scene["learner"]
    member_mute(lounge=lounge, moderator=mentor, member=learner, minutes=10, reason="cool off")

    line = latest()

    assert text(line.sentence) == "Mira Mentor muted Lena Learner in Interview prep for 10 minutes: “cool off”"
    assert f'href="/members/{learner.pk}/"' in line.sentence
    assert f'href="/members/{mentor.pk}/"' in line.sentence
    assert f'href="/lounges/{lounge.slug}/"' in line.sentence
    assert line.action == "lounge.member_muted"


def test_settings_changes_read_as_words_not_field_values(scene: dict[str, Any]) -> None:
    lounge, staff = scene["lounge"], scene["staff"]
    lounge_settings_set(lounge=lounge, moderator=staff, locked=True)
    lounge_settings_set(lounge=lounge, moderator=staff, locked=False, slow_mode_seconds=30)

    assert text(latest().sentence) == "Stan Staff changed the settings of Interview prep: unlocked, slow mode 30 s"


def test_an_ownership_hand_over_names_the_new_owner(scene: dict[str, Any]) -> None:
    lounge, mentor, staff = scene["lounge"], scene["mentor"], scene["staff"]
    AuditEvent.objects.create(
        actor=staff,
        action="lounge.ownership_transferred",
        target_type="accounts.user",
        target_id=str(mentor.pk),
        details={
            "lounge": lounge.pk,
            "lounge_slug": lounge.slug,
            "lounge_title": lounge.title,
            "previous": "moderator",
        },
    )

    assert text(latest().sentence) == "Stan Staff handed Interview prep over to Mira Mentor, its new owner"


def test_a_hidden_message_links_to_the_message_and_names_its_author(scene: dict[str, Any]) -> None:
    lounge, mentor, learner = scene["lounge"], scene["mentor"], scene["learner"]
    message = MessageFactory.create(lounge=lounge, author=learner)
    message_hide(message=message, moderator=mentor, reason="off topic")

    line = latest()

    assert text(line.sentence) == "Mira Mentor hid a message by Lena Learner in Interview prep: “off topic”"
    assert f'href="/lounges/{lounge.slug}/#msg-{message.pk}"' in line.sentence


def test_a_role_grant_and_a_deleted_actor_never_show_an_email(scene: dict[str, Any]) -> None:
    learner, staff = scene["learner"], scene["staff"]
    membership_grant(organisation=scene["lounge"].organisation, user=learner, role=Role.MENTOR, actor=staff)
    assert text(latest().sentence) == "Stan Staff gave Lena Learner the mentor role"

    gone = AuditEvent.objects.create(action="auth.password_changed", actor_label="gone@example.test")
    assert text(describe_events([gone])[0].sentence) == "gone changed their password"


def test_the_audit_page_shows_sentences_and_loads_names_in_constant_queries(
    client: Client, scene: dict[str, Any]
) -> None:
    lounge, mentor, learner, staff = scene["lounge"], scene["mentor"], scene["learner"], scene["staff"]
    client.force_login(staff)

    def page_queries() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/audit/")
        assert response.status_code == 200
        return len(queries), response.content.decode()

    page_queries()  # the first request also warms per-session caches
    member_mute(lounge=lounge, moderator=mentor, member=learner, minutes=90)
    few, _ = page_queries()
    for n in range(15):
        other = UserFactory.create(display_name=f"Person {n}")
        member_mute(lounge=lounge, moderator=mentor, member=learner, minutes=5)
        membership_grant(organisation=lounge.organisation, user=other, role=Role.LEARNER, actor=staff)
        lounge_settings_set(lounge=lounge, moderator=staff, slow_mode_seconds=n + 1)
    many, html = page_queries()

    assert many == few
    assert "muted Lena Learner in Interview prep for 1 hour 30 minutes" in text(html)
    assert "example.test" not in html
    assert 'title="lounge.member_muted"' in html


def test_the_moderation_log_reads_as_sentences(client: Client, scene: dict[str, Any]) -> None:
    lounge, mentor, learner = scene["lounge"], scene["mentor"], scene["learner"]
    member_mute(lounge=lounge, moderator=mentor, member=learner, minutes=60 * 24, reason="spam")
    client.force_login(mentor)

    html = client.get(f"/lounges/{lounge.slug}/moderation/").content.decode()

    assert "Mira Mentor muted Lena Learner in Interview prep for 1 day: “spam”" in text(html)
    assert "example.test" not in html


def test_a_shared_note_links_to_the_note_and_an_unknown_action_still_reads(scene: dict[str, Any]) -> None:
    lounge, mentor = scene["lounge"], scene["mentor"]
    shared = AuditEvent.objects.create(
        actor=mentor,
        action="note.shared_updated",
        target_type="notes.note",
        target_id="41",
        target_label="STAR method",
        details={
            "note": 41,
            "lounge": lounge.pk,
            "lounge_slug": lounge.slug,
            "lounge_title": lounge.title,
            "fields": ["body"],
        },
    )
    unknown = AuditEvent.objects.create(actor=mentor, action="lounge.thing_done", details={"lounge": lounge.pk})
    admin = AuditEvent.objects.create(
        actor=scene["staff"],
        action="admin.user_changed",
        target_type="accounts.user",
        target_id=str(mentor.pk),
        target_label="mira@example.test",
        details={"change": [{"changed": {"fields": ["Display name"]}}]},
    )

    shared_line, unknown_line, admin_line = describe_events([shared, unknown, admin])

    assert text(shared_line.sentence) == "Mira Mentor edited the shared note “STAR method” in Interview prep"
    assert 'href="/notes/41/"' in shared_line.sentence
    assert text(unknown_line.sentence) == f"Mira Mentor did “lounge: thing done” (lounge {lounge.pk})"
    assert text(admin_line.sentence) == "Stan Staff changed the user “Mira Mentor” in the organisation admin"
