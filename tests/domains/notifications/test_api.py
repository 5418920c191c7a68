"""/api/v1/notifications: only the caller's own (another person's is 404), read state published to
every tab, preferences all or nothing with field-level errors, session auth and CSRF."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.test.utils import CaptureQueriesContext

from domains.accounts.models import User
from domains.lounges.notices import LOUNGE_MUTED, LOUNGE_REPORT_RESOLVED
from domains.notifications import kinds
from domains.notifications.kinds import NotificationKind, notification_kind
from domains.notifications.models import Notification, NotificationPreference
from domains.notifications.services import notify
from realtime.streams import user_stream
from tests.events import CapturedEvents
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications"
HUGE = "9" * 25  # beyond bigint


@pytest.fixture
def test_kinds(monkeypatch: pytest.MonkeyPatch) -> tuple[NotificationKind, NotificationKind]:
    """A routine kind (digest by default, so nothing is mailed) and one that is never emailed,
    registered for this test only."""
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    return (
        notification_kind("test.api_routine", "Something routine"),
        notification_kind("test.api_inapp", "Shown in the product only", email=False),
    )


@pytest.fixture
def routine(test_kinds: tuple[NotificationKind, NotificationKind]) -> NotificationKind:
    return test_kinds[0]


@pytest.fixture
def inapp(test_kinds: tuple[NotificationKind, NotificationKind]) -> NotificationKind:
    return test_kinds[1]


def _client(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _put(client: Client, data: Any, **extra: Any) -> Any:
    return client.put(f"{URL}/preferences", json.dumps(data), content_type="application/json", **extra)


def _locs(response: Any) -> list[list[Any]]:
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return [error["loc"] for error in body["errors"]]


def _deliveries(client: Client) -> dict[str, str]:
    return {row["kind"]: row["delivery"] for row in client.get(f"{URL}/preferences").json()}


def test_the_list_is_mine_newest_first_with_an_unread_filter_and_bounded_pages(routine: NotificationKind) -> None:
    """Only the caller's notifications, newest first; `unread=true` leaves out the read ones; pages
    are 1..100 long (422 beyond)."""
    me, other = UserFactory.create(), UserFactory.create()
    first = notify(user=me, kind=routine, title="First", body="Body", link="/notes/")
    second = notify(user=me, kind=routine, title="Second")
    third = notify(user=me, kind=routine, title="Third")
    notify(user=other, kind=routine, title="Not mine")
    Notification.objects.filter(pk=second.pk).update(read_at=second.created_at)
    client = _client(me)

    listing = client.get(URL).json()
    assert listing["count"] == 3
    assert [item["id"] for item in listing["items"]] == [third.pk, second.pk, first.pk]
    oldest = listing["items"][-1]
    assert oldest | {"created_at": None} == {
        "id": first.pk,
        "kind": "test.api_routine",
        "priority": "normal",
        "title": "First",
        "body": "Body",
        "link": "/notes/",
        "created_at": None,
        "read_at": None,
        "read": False,
    }
    assert listing["items"][1]["read"] is True
    assert listing["items"][1]["read_at"] is not None

    unread = client.get(URL, {"unread": "true"}).json()
    assert [item["id"] for item in unread["items"]] == [third.pk, first.pk]
    assert client.get(URL, {"unread": "false"}).json()["count"] == 3
    page = client.get(URL, {"limit": 1, "offset": 1}).json()
    assert (page["count"], [item["id"] for item in page["items"]]) == (3, [second.pk])

    too_long = client.get(URL, {"limit": 101})
    assert too_long.status_code == 422
    assert _locs(too_long) == [["query", "limit"]]
    assert client.get(URL, {"limit": 0}).status_code == 422
    assert client.get(URL, {"offset": -1}).status_code == 422
    assert client.get(URL, {"unread": "perhaps"}).status_code == 422


def test_the_list_costs_the_same_queries_however_long(routine: NotificationKind) -> None:
    """No query per notification (the priority comes from the registry, not the database)."""
    me = UserFactory.create()
    client = _client(me)
    notify(user=me, kind=routine, title="One")
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for n in range(5):
        notify(user=me, kind=routine, title=f"More {n}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).json()["count"] == 6
    assert len(many) == len(few)


def test_marking_one_read_is_idempotent_and_updates_every_tab(
    routine: NotificationKind, capture_events: CapturedEvents
) -> None:
    """POST …/read answers the notification, read; again changes nothing and publishes nothing; the
    personal stream carries `notification.read` with the new unread count."""
    me = UserFactory.create()
    target = notify(user=me, kind=routine, title="Read me")
    notify(user=me, kind=routine, title="Still unread")
    client = _client(me)
    capture_events.clear()

    response = client.post(f"{URL}/{target.pk}/read")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == target.pk
    assert response.json()["read"] is True
    read_at = response.json()["read_at"]
    assert read_at is not None
    assert capture_events.events(user_stream(me.pk)) == [
        {"type": "notification.read", "ids": [target.pk], "all": False, "unread": 1}
    ]
    assert capture_events.select(user_stream(me.pk))[0].durable

    again = client.post(f"{URL}/{target.pk}/read")
    assert again.status_code == 200
    assert again.json()["read_at"] == read_at
    assert len(capture_events.events(user_stream(me.pk))) == 1
    assert client.get(f"{URL}/unread-count").json() == {"unread": 1}


def test_another_persons_notification_is_404_like_a_missing_one(
    routine: NotificationKind, capture_events: CapturedEvents
) -> None:
    """Marking someone else's notification read answers exactly what a missing id does, and changes
    nothing; ids outside 1..bigint are refused by the schema."""
    me, other = UserFactory.create(), UserFactory.create()
    theirs = notify(user=other, kind=routine, title="Theirs")
    client = _client(me)
    capture_events.clear()

    foreign = client.post(f"{URL}/{theirs.pk}/read")
    missing = client.post(f"{URL}/{theirs.pk + 1000}/read")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"detail": "Not found.", "errors": []}
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert capture_events.events() == []

    for bad in ("0", HUGE):
        response = client.post(f"{URL}/{bad}/read")
        assert response.status_code == 422
        assert _locs(response) == [["path", "notification_id"]]
    assert client.post(f"{URL}/abc/read").status_code == 404


def test_read_all_marks_only_mine_and_says_how_many(routine: NotificationKind, capture_events: CapturedEvents) -> None:
    """Read-all marks the caller's unread ones, reports the count, and publishes one `all` event;
    with nothing unread it marks 0 and publishes nothing."""
    me, other = UserFactory.create(), UserFactory.create()
    for n in range(3):
        notify(user=me, kind=routine, title=f"Mine {n}")
    theirs = notify(user=other, kind=routine, title="Theirs")
    client = _client(me)
    assert client.get(f"{URL}/unread-count").json() == {"unread": 3}
    capture_events.clear()

    response = client.post(f"{URL}/read-all")
    assert response.status_code == 200
    assert response.json() == {"marked": 3, "unread": 0}
    assert capture_events.events(user_stream(me.pk)) == [
        {"type": "notification.read", "ids": [], "all": True, "unread": 0}
    ]
    assert client.get(f"{URL}/unread-count").json() == {"unread": 0}
    assert client.get(URL, {"unread": "true"}).json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None

    assert client.post(f"{URL}/read-all").json() == {"marked": 0, "unread": 0}
    assert len(capture_events.events()) == 1


def test_preferences_show_the_defaults_then_what_was_chosen(inapp: NotificationKind) -> None:
    """GET lists every kind with its default; PUT changes the kinds it names (in order), answers the full list,
    and GET shows the same."""
    me = UserFactory.create()
    client = _client(me)
    rows = {row["kind"]: row for row in client.get(f"{URL}/preferences").json()}
    assert set(rows) == {kind.name for kind in kinds.kinds_all()}
    assert rows[LOUNGE_MUTED.name] == {
        "kind": "lounge.muted",
        "label": "You are muted in a lounge",
        "priority": "high",
        "email": True,
        "delivery": "immediate",
        "default": "immediate",
    }
    assert rows[inapp.name] | {"label": None} == {
        "kind": "test.api_inapp",
        "label": None,
        "priority": "normal",
        "email": False,
        "delivery": "off",
        "default": "off",
    }

    response = _put(
        client,
        {
            "preferences": [
                {"kind": LOUNGE_MUTED.name, "delivery": "digest"},
                {"kind": LOUNGE_REPORT_RESOLVED.name, "delivery": "off"},
                {"kind": inapp.name, "delivery": "off"},
            ]
        },
    )
    assert response.status_code == 200, response.content
    answered = {row["kind"]: row["delivery"] for row in response.json()}
    assert answered == _deliveries(client)
    assert answered[LOUNGE_MUTED.name] == "digest"
    assert answered[LOUNGE_REPORT_RESOLVED.name] == "off"
    assert {row["kind"]: row["default"] for row in response.json()}[LOUNGE_MUTED.name] == "immediate"
    assert _deliveries(_client(UserFactory.create()))[LOUNGE_MUTED.name] == "immediate"  # mine only

    assert _put(client, {"preferences": []}).json() == response.json()  # nothing named, nothing changed
    twice = [{"kind": LOUNGE_MUTED.name, "delivery": "off"}, {"kind": LOUNGE_MUTED.name, "delivery": "immediate"}]
    assert {row["kind"]: row["delivery"] for row in _put(client, {"preferences": twice}).json()}[
        LOUNGE_MUTED.name
    ] == "immediate"  # in order: the last wins


def test_bad_preferences_answer_field_errors_and_change_nothing(inapp: NotificationKind) -> None:
    """An unknown kind, an unknown delivery, email for a kind never emailed, too many items: 422 with
    each item's field named, and the valid items in the same request are not saved either."""
    me = UserFactory.create()
    client = _client(me)
    before = _deliveries(client)
    valid = {"kind": LOUNGE_MUTED.name, "delivery": "off"}

    unknown_kind = _put(client, {"preferences": [valid, {"kind": "no.such", "delivery": "off"}]})
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["errors"] == [
        {
            "loc": ["body", "payload", "preferences", 1, "kind"],
            "msg": "No such kind of notification.",
            "type": "invalid",
        }
    ]

    never_emailed = _put(client, {"preferences": [valid, {"kind": inapp.name, "delivery": "digest"}]})
    assert never_emailed.status_code == 422
    assert _locs(never_emailed) == [["body", "payload", "preferences", 1, "delivery"]]

    several = _put(
        client,
        {
            "preferences": [
                {"kind": "no.such", "delivery": "off"},
                valid,
                {"kind": inapp.name, "delivery": "immediate"},
            ]
        },
    )
    assert _locs(several) == [
        ["body", "payload", "preferences", 0, "kind"],
        ["body", "payload", "preferences", 2, "delivery"],
    ]

    bad_delivery = _put(client, {"preferences": [{"kind": LOUNGE_MUTED.name, "delivery": "hourly"}]})
    assert bad_delivery.status_code == 422
    assert _locs(bad_delivery) == [["body", "payload", "preferences", 0, "delivery"]]

    too_many = [{"kind": LOUNGE_MUTED.name, "delivery": "off"}] * (len(kinds.kinds_all()) + 1)
    assert _locs(_put(client, {"preferences": too_many})) == [["body", "payload", "preferences"]]
    assert _locs(_put(client, {"preferences": ["off"]})) == [["body", "payload", "preferences", 0]]
    assert _locs(_put(client, {"preferences": [{"kind": "a" * 65, "delivery": "off"}]})) == [
        ["body", "payload", "preferences", 0, "kind"]
    ]
    assert _put(client, {}).status_code == 422
    assert _put(client, ["off"]).status_code == 422

    assert _deliveries(client) == before
    assert not NotificationPreference.objects.filter(user=me).exists()


def test_the_schema_names_the_kinds_and_what_each_accepts(inapp: NotificationKind) -> None:
    """The OpenAPI schema lists the registered kinds, at most one item per kind, and that a kind
    never emailed takes only `off`, so generated clients (and schemathesis) send what is accepted."""
    schema = Client().get("/api/openapi.json").json()
    assert "/api/v1/notifications/{notification_id}/read" in schema["paths"]
    components = schema["components"]["schemas"]
    item = components["PreferenceIn"]
    names = [kind.name for kind in kinds.kinds_all()]
    assert item["properties"]["kind"]["enum"] == names
    assert components["PreferencesIn"]["properties"]["preferences"]["maxItems"] == len(names)
    never = next(branch for branch in item["anyOf"] if "delivery" in branch["properties"])
    assert inapp.name in never["properties"]["kind"]["enum"]
    assert never["properties"]["delivery"] == {"const": "off"}


def test_it_needs_a_session_and_csrf(routine: NotificationKind) -> None:
    """No session: 401 on every operation. A session without the CSRF token cannot write (403, and
    nothing is marked); with it, it can."""
    me = UserFactory.create()
    mine = notify(user=me, kind=routine, title="Mine")
    anonymous = Client()
    assert anonymous.get(URL).status_code == 401
    assert anonymous.get(f"{URL}/unread-count").status_code == 401
    assert anonymous.get(f"{URL}/preferences").status_code == 401
    assert anonymous.post(f"{URL}/read-all").status_code == 401
    assert anonymous.put(f"{URL}/preferences", "{}", content_type="application/json").status_code == 401

    client = _client(me, enforce_csrf_checks=True)
    assert client.get(URL).status_code == 200
    assert client.post(f"{URL}/{mine.pk}/read").status_code == 403
    assert client.post(f"{URL}/read-all").status_code == 403
    assert _put(client, {"preferences": [{"kind": LOUNGE_MUTED.name, "delivery": "off"}]}).status_code == 403
    mine.refresh_from_db()
    assert mine.read_at is None
    assert not NotificationPreference.objects.filter(user=me).exists()

    token = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    assert client.post(f"{URL}/{mine.pk}/read", HTTP_X_CSRFTOKEN=token).status_code == 200
    assert client.post(f"{URL}/read-all", HTTP_X_CSRFTOKEN=token).json() == {"marked": 0, "unread": 0}
