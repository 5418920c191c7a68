"""notify(): the one way a notification is made; live on the personal stream, email by preference;
read state shared by every tab; the daily digest by time zone; unsubscribe by signed link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail, signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from domains.mail.models import OutboundEmail
from domains.notifications import services
from domains.notifications.kinds import Delivery, Priority, notification_kind
from domains.notifications.models import EmailState, Notification, NotificationPreference
from domains.notifications.services import notify
from realtime.models import StreamEvent
from realtime.streams import user_stream
from tests.events import CapturedEvents
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URGENT = notification_kind("test.urgent", "Something urgent", priority=Priority.HIGH)
ROUTINE = notification_kind("test.routine", "Something routine")
INAPP = notification_kind("test.inapp", "Shown in the product only", email=False)


class RollbackError(Exception):
    pass


def _notify_then_fail(user: Any) -> None:
    with transaction.atomic():
        notify(user=user, kind=URGENT, title="Never happened", link="/lounges/")
        raise RollbackError


def test_a_notice_in_a_rolled_back_transaction_sends_nothing(django_capture_on_commit_callbacks: Any) -> None:
    user = UserFactory.create()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RollbackError):
        _notify_then_fail(user)
    assert not Notification.objects.exists()
    assert not StreamEvent.objects.filter(stream_id=user_stream(user.pk)).exists()
    assert not OutboundEmail.objects.exists()
    assert mail.outbox == []


def test_a_notice_goes_live_on_the_personal_stream_with_the_unread_count(capture_events: CapturedEvents) -> None:
    user = UserFactory.create()
    first = notify(user=user, kind=ROUTINE, title="One", link="/notes/")
    second = notify(user=user, kind=ROUTINE, title="Two")
    events = capture_events.events(user_stream(user.pk))
    assert [(e["type"], e["notification"]["id"], e["notification"]["title"], e["unread"]) for e in events] == [
        ("notification.created", first.pk, "One", 1),
        ("notification.created", second.pk, "Two", 2),
    ]
    assert events[0]["notification"] | {"created_at": None} == {
        "id": first.pk,
        "kind": "test.routine",
        "priority": "normal",
        "title": "One",
        "body": "",
        "link": "/notes/",
        "created_at": None,
        "read": False,
    }


def test_an_urgent_notice_is_emailed_at_once_with_a_one_click_unsubscribe(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = UserFactory.create(email="ada@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(user=user, kind=URGENT, title="You were muted in Harbour", body="For 5 minutes.")
    (sent,) = mail.outbox
    assert sent.to == ["ada@example.test"]
    assert sent.subject == "[Coachwire] You were muted in Harbour"
    assert "For 5 minutes." in sent.body
    assert "/notifications/unsubscribe/" in sent.extra_headers["List-Unsubscribe"]
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert isinstance(sent, EmailMultiAlternatives)
    html = str(sent.alternatives[0][0])
    assert "You were muted in Harbour" in html
    notification.refresh_from_db()
    assert notification.email_state == EmailState.SENT


def test_a_kind_that_is_never_emailed_and_a_kind_turned_off_are_suppressed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = UserFactory.create()
    services.preference_set(user=user, kind=URGENT.name, delivery=Delivery.OFF)
    with django_capture_on_commit_callbacks(execute=True):
        off = notify(user=user, kind=URGENT, title="Off")
        inapp = notify(user=user, kind=INAPP, title="In the product")
    assert mail.outbox == []
    assert {off.email_state, inapp.email_state} == {EmailState.SUPPRESSED}


def test_over_long_text_is_shortened_and_a_link_off_the_site_is_refused() -> None:
    user = UserFactory.create()
    notification = notify(user=user, kind=ROUTINE, title="x" * 500, body="y" * 5000)
    assert len(notification.title) == 200
    assert notification.title.endswith("…")
    assert len(notification.body) == 2000
    for link in ("https://evil.test/", "//evil.test/", "/\\evil.test/", "javascript:alert(1)"):
        with pytest.raises(ValueError, match="path on this site"):
            notify(user=user, kind=ROUTINE, title="Go", link=link)
    with pytest.raises(ValueError, match="unknown notification kind"):
        notify(user=user, kind="no.such.kind", title="?")


def test_reading_one_or_all_tells_every_tab_the_new_count(capture_events: CapturedEvents) -> None:
    user, other = UserFactory.create(), UserFactory.create()
    first = notify(user=user, kind=ROUTINE, title="One")
    notify(user=user, kind=ROUTINE, title="Two")
    foreign = notify(user=other, kind=ROUTINE, title="Not yours")
    services.notification_read(user=user, notification_id=first.pk)
    services.notification_read(user=user, notification_id=first.pk)  # again: no second event
    with pytest.raises(Notification.DoesNotExist):
        services.notification_read(user=user, notification_id=foreign.pk)
    assert services.notifications_read_all(user=user) == 1
    assert services.notifications_read_all(user=user) == 0
    reads = [e for e in capture_events.events(user_stream(user.pk)) if e["type"] == "notification.read"]
    assert reads == [
        {"type": "notification.read", "ids": [first.pk], "all": False, "unread": 1},
        {"type": "notification.read", "ids": [], "all": True, "unread": 0},
    ]
    foreign.refresh_from_db()
    assert foreign.read_at is None


def test_preferences_refuse_unknown_kinds_deliveries_and_email_for_a_never_emailed_kind() -> None:
    user = UserFactory.create()
    for kind, delivery, field in [
        ("no.such", "off", "kind"),
        (ROUTINE.name, "weekly", "delivery"),
        (INAPP.name, "immediate", "delivery"),
    ]:
        with pytest.raises(services.NotificationError) as refused:
            services.preference_set(user=user, kind=kind, delivery=delivery)
        assert refused.value.field_errors().keys() == {field}
    assert not NotificationPreference.objects.exists()


# ------------------------------------------------------------------ the digest


def _at(hour: int, zone_offset: int = 0) -> datetime:
    """A UTC instant that is `hour` o'clock where the clock is UTC+zone_offset."""
    return datetime(2026, 12, 2, hour, 30, tzinfo=UTC) - timedelta(hours=zone_offset)


def test_the_digest_goes_out_at_each_persons_morning_once_with_what_waits(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS_DIGEST_HOUR = 8
    tokyo = UserFactory.create(email="tokyo@example.test", time_zone="Asia/Tokyo")  # UTC+9
    london = UserFactory.create(email="london@example.test", time_zone="Europe/London")  # UTC+0 in December
    for person in (tokyo, london):
        notify(user=person, kind=ROUTINE, title=f"Waiting for {person.email}")
    read = notify(user=tokyo, kind=ROUTINE, title="Already read")
    services.notification_read(user=tokyo, notification_id=read.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digest_send_due(now=_at(8, zone_offset=9)) == 1  # 08:30 in Tokyo, 23:30 in London
    (digest,) = mail.outbox
    assert digest.to == ["tokyo@example.test"]
    assert digest.subject == "[Coachwire] Your daily digest: 1 notification"
    assert "Waiting for tokyo@example.test" in digest.body
    assert "Already read" not in digest.body
    # the same hour again, and the next sweep in it: nothing more for Tokyo; London at its own 08:30
    assert services.digest_send_due(now=_at(8, zone_offset=9) + timedelta(minutes=15)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digest_send_due(now=_at(8)) == 1
    assert [m.to for m in mail.outbox] == [["tokyo@example.test"], ["london@example.test"]]
    assert Notification.objects.get(title="Already read").email_state == EmailState.SUPPRESSED


def test_the_digest_has_its_own_one_click_unsubscribe_that_stops_every_digest_kind(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.NOTIFICATIONS_DIGEST_HOUR = 8
    user = UserFactory.create(time_zone="UTC")
    services.preference_set(user=user, kind=URGENT.name, delivery=Delivery.IMMEDIATE)
    notify(user=user, kind=ROUTINE, title="Routine")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.digest_send_due(now=_at(8)) == 1
    (digest,) = mail.outbox
    url = digest.extra_headers["List-Unsubscribe"].strip("<>")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert url in digest.body
    services.unsubscribe(token)
    choices = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    assert choices[ROUTINE.name] == "off"  # a digest kind: off
    assert choices[URGENT.name] == "immediate"  # emailed at once: untouched


def test_the_digest_leaves_out_kinds_turned_off_since(settings: Any) -> None:
    settings.NOTIFICATIONS_DIGEST_HOUR = 8
    user = UserFactory.create(time_zone="UTC")
    notify(user=user, kind=ROUTINE, title="Routine")
    services.preference_set(user=user, kind=ROUTINE.name, delivery=Delivery.OFF)
    assert services.digest_send_due(now=_at(8)) == 0
    assert Notification.objects.get().email_state == EmailState.SUPPRESSED


# ------------------------------------------------------------------ unsubscribe


def test_an_unsubscribe_token_names_one_person_and_one_kind_and_cannot_be_altered() -> None:
    user, other = UserFactory.create(), UserFactory.create()
    token = services.unsubscribe_token(user=user, kind=URGENT.name)
    assert services.unsubscribe_read(token) == (user, URGENT)
    payload, signature = token.rsplit(":", 1)
    others = services.unsubscribe_token(user=other, kind=URGENT.name)
    other_kind = services.unsubscribe_token(user=user, kind=ROUTINE.name)
    forged = [
        f"{payload}:{signature[::-1]}",  # the signature altered
        f"{others.rsplit(':', 1)[0]}:{signature}",  # another person's payload under this signature
        f"{other_kind.rsplit(':', 1)[0]}:{signature}",  # another kind's payload under this signature
        signing.dumps({"u": user.pk, "k": URGENT.name}, salt="another.salt", compress=True),
        "not-a-token",
    ]
    assert len(set(forged)) == len(forged)
    assert token not in forged
    for bad in forged:
        with pytest.raises(services.NotificationError):
            services.unsubscribe(bad)
    services.unsubscribe(token)
    assert dict(NotificationPreference.objects.values_list("user_id", "delivery")) == {user.pk: "off"}
    assert NotificationPreference.objects.get().kind == URGENT.name
