"""Notification pages over HTTP: the list and its unread filter, opening one (read, then its link),
marking read, the preferences form, and unsubscribe without signing in. A foreign id is 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from domains.accounts.models import Role
from domains.notifications import services
from domains.notifications.kinds import notification_kind
from domains.notifications.models import Notification, NotificationPreference
from domains.notifications.selectors import preferences_for_user
from domains.notifications.services import notify
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PAGE_KIND = notification_kind("test.page", "A page test kind")
NEVER_EMAILED = notification_kind("test.page_inapp", "An in-app only kind", email=False)


@pytest.fixture
def person(client: Client) -> Any:
    user = MembershipFactory.create(role=Role.LEARNER).user
    client.force_login(user)
    return user


def _listed(response: Any) -> list[int]:
    return [int(n) for n in re.findall(r'data-notification-id="(\d+)"', response.content.decode())]


def test_the_list_shows_only_the_persons_own_and_filters_unread(client: Client, person: Any) -> None:
    stranger = MembershipFactory.create(role=Role.LEARNER).user
    read = notify(user=person, kind=PAGE_KIND, title="Old news")
    services.notification_read(user=person, notification_id=read.pk)
    fresh = notify(user=person, kind=PAGE_KIND, title="Fresh news")
    notify(user=stranger, kind=PAGE_KIND, title="Someone else's")
    everything = client.get("/notifications/")
    assert everything.status_code == 200
    assert _listed(everything) == [fresh.pk, read.pk]
    assert "Someone else" not in everything.content.decode()
    assert _listed(client.get("/notifications/?filter=unread")) == [fresh.pk]
    # the badge on every page says how many are unread
    assert re.search(r"data-notification-badge>1<", client.get("/").content.decode())


def test_opening_a_notification_marks_it_read_and_goes_to_its_link(client: Client, person: Any) -> None:
    notification = notify(user=person, kind=PAGE_KIND, title="See this", link="/notes/")
    response = client.get(f"/notifications/{notification.pk}/open/")
    assert (response.status_code, response["Location"]) == (302, "/notes/")
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_anothers_notification_and_a_bad_id_are_404_and_change_nothing(client: Client, person: Any) -> None:
    stranger = MembershipFactory.create(role=Role.LEARNER).user
    theirs = notify(user=stranger, kind=PAGE_KIND, title="Theirs")
    for notification_id in (str(theirs.pk), "0", "99999999999999999999"):
        assert client.get(f"/notifications/{notification_id}/open/").status_code == 404
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert client.get(f"/notifications/{theirs.pk}/read/").status_code == 405
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_one_and_mark_all_read(client: Client, person: Any) -> None:
    first = notify(user=person, kind=PAGE_KIND, title="One")
    notify(user=person, kind=PAGE_KIND, title="Two")
    assert client.post(f"/notifications/{first.pk}/read/", {"next": "/notifications/"})["Location"] == "/notifications/"
    assert Notification.objects.filter(user=person, read_at__isnull=True).count() == 1
    response = client.post("/notifications/read-all/", {"next": "https://evil.test/"})
    assert response["Location"] == "/notifications/"  # never off the site
    assert not Notification.objects.filter(user=person, read_at__isnull=True).exists()


def test_preferences_save_each_kind_and_a_bad_value_saves_nothing(client: Client, person: Any) -> None:
    page = client.get("/notifications/preferences/")
    assert page.status_code == 200
    assert "A page test kind" in page.content.decode()
    fields = {f"kind-{kind.name}": delivery for kind, delivery in preferences_for_user(user=person)}
    good = dict(fields, **{f"kind-{PAGE_KIND.name}": "immediate"})
    assert client.post("/notifications/preferences/", good).status_code == 302
    assert NotificationPreference.objects.get(user=person, kind=PAGE_KIND.name).delivery == "immediate"
    bad = dict(good, **{f"kind-{PAGE_KIND.name}": "off", f"kind-{NEVER_EMAILED.name}": "digest"})
    refused = client.post("/notifications/preferences/", bad)
    assert refused.status_code == 400
    assert "Nothing was saved" in refused.content.decode()
    assert NotificationPreference.objects.get(user=person, kind=PAGE_KIND.name).delivery == "immediate"
    assert not NotificationPreference.objects.filter(user=person, kind=NEVER_EMAILED.name, delivery="digest").exists()


def test_unsubscribe_works_signed_out_changes_only_that_kind_and_refuses_a_tampered_link() -> None:
    user = MembershipFactory.create(role=Role.LEARNER).user
    services.preference_set(user=user, kind="test.page", delivery="immediate")
    visitor = Client(enforce_csrf_checks=True)  # a mail client: no session, no CSRF token
    token = services.unsubscribe_token(user=user, kind=PAGE_KIND.name)
    asked = visitor.get(f"/notifications/unsubscribe/{token}/")
    assert asked.status_code == 200
    assert "Stop these emails?" in asked.content.decode()
    # a GET (a mail scanner following the link) changes nothing
    assert NotificationPreference.objects.get(user=user, kind=PAGE_KIND.name).delivery == "immediate"
    tampered = visitor.post(f"/notifications/unsubscribe/{token[:-3]}xyz/")
    assert tampered.status_code == 400
    assert NotificationPreference.objects.get(user=user, kind=PAGE_KIND.name).delivery == "immediate"
    done = visitor.post(f"/notifications/unsubscribe/{token}/")
    assert done.status_code == 200
    assert "You will no longer get emails about" in done.content.decode()
    preferences = NotificationPreference.objects.filter(user=user).values_list("kind", "delivery")
    assert dict(preferences) == {"test.page": "off"}
