"""The active sessions page (/accounts/sessions/, allauth.usersessions with our adapter): each
session shows its device, address and last activity; ending one signs it out, closes its sockets
and is audited; nobody can end another person's session."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

from domains.accounts.services import user_sessions_end
from domains.accounts.sessions import device_describe
from domains.compliance.models import AuditEvent
from realtime.streams import session_group
from tests.factories import UserFactory
from tests.helpers import communicator, session_for
from tests.listen import GroupListener

pytestmark = pytest.mark.django_db

FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1"
)
PAGE = "/accounts/sessions/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _browser(user: Any, *, agent: str, ip: str, **extra: Any) -> Client:
    """A browser signed in as `user`; its first request makes allauth record the session."""
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip, **extra)
    client.force_login(user)
    assert client.get("/accounts/email/").status_code == 200
    return client


def _row(html: str, session: UserSession) -> str:
    match = re.search(rf'<tr data-session="{session.pk}"(.*?)</tr>', html, re.S)
    assert match, f"no row for session {session.pk}"
    return match.group(0)


def _store_exists(session_key: str) -> bool:
    return bool(import_string(f"{settings.SESSION_ENGINE}.SessionStore")().exists(session_key))


def test_the_device_is_the_browser_and_system_read_from_the_user_agent() -> None:
    """ua-parser names the browser and the operating system; an agent it cannot read is unknown."""
    assert device_describe(FIREFOX_UBUNTU).label == "Firefox 128 on Ubuntu"
    assert device_describe(SAFARI_IPHONE).label == "Mobile Safari 17 on iOS 17.1"
    assert device_describe("").label == "Unknown device"
    assert device_describe("\x01garbage").label == "Unknown device"


def test_the_page_lists_each_session_with_device_address_and_last_seen_and_marks_this_one() -> None:
    """Given two signed-in browsers, the page shows both: device, IP, when last seen, and which is
    the one looking at it."""
    user = UserFactory.create()
    with time_machine.travel(T0, tick=False):
        phone = _browser(user, agent=SAFARI_IPHONE, ip="198.51.100.20")
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        laptop = _browser(user, agent=FIREFOX_UBUNTU, ip="203.0.113.10")
        html = laptop.get(PAGE).content.decode()
    mine = UserSession.objects.get(session_key=laptop.session.session_key)
    other = UserSession.objects.get(session_key=phone.session.session_key)

    assert "Active sessions" in html
    own_row, other_row = _row(html, mine), _row(html, other)
    assert "Firefox 128 on Ubuntu" in own_row
    assert "203.0.113.10" in own_row
    assert "This session" in own_row
    assert "data-current" in own_row
    assert "Mobile Safari 17 on iOS 17.1" in other_row
    assert "198.51.100.20" in other_row
    assert "3\xa0hours ago" in other_row
    assert "This session" not in other_row
    assert f'name="session" value="{other.pk}"' in other_row
    assert 'name="session"' not in own_row  # this one signs out instead
    assert 'href="/accounts/sessions/" aria-current="page"' in html  # the settings navigation links here


def test_the_recorded_address_is_the_resolved_client_never_a_forged_forwarded_header(settings: Any) -> None:
    """A client's own X-Forwarded-For is ignored; behind a trusted proxy, the hop it names counts."""
    user = UserFactory.create()
    forged = _browser(user, agent=FIREFOX_UBUNTU, ip="203.0.113.5", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert UserSession.objects.get(session_key=forged.session.session_key).ip == "203.0.113.5"

    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    proxied = _browser(user, agent=FIREFOX_UBUNTU, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert UserSession.objects.get(session_key=proxied.session.session_key).ip == "198.51.100.7"


def test_ending_one_session_signs_it_out_closes_its_sockets_and_is_audited(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Given three browsers, ending one from the page deletes that session (its cookie stops
    working), tells its sockets to close with 4401, audits it, and leaves the others signed in."""
    user = UserFactory.create()
    laptop = _browser(user, agent=FIREFOX_UBUNTU, ip="203.0.113.10")
    phone = _browser(user, agent=SAFARI_IPHONE, ip="198.51.100.20")
    tablet = _browser(user, agent=SAFARI_IPHONE, ip="198.51.100.21")
    ended = UserSession.objects.get(session_key=phone.session.session_key)
    key = ended.session_key
    kept = UserSession.objects.get(session_key=tablet.session.session_key)

    with (
        GroupListener(session_group(key)) as ended_sockets,
        GroupListener(session_group(kept.session_key)) as kept_sockets,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = laptop.post(PAGE, {"session": ended.pk}, follow=True)
        control = ended_sockets.receive()
        kept_sockets.assert_nothing()

    assert response.status_code == 200
    assert "That session is signed out." in response.content.decode()
    assert {k: control[k] for k in ("action", "reason", "code")} == {
        "action": "force_close",
        "reason": "session_ended",
        "code": 4401,
    }
    assert not UserSession.objects.filter(pk=ended.pk).exists()
    assert not _store_exists(key)
    assert phone.get(PAGE).status_code == 302  # signed out: sent to the login page
    assert tablet.get(PAGE).status_code == 200
    assert laptop.get(PAGE).status_code == 200
    event = AuditEvent.objects.get(action="auth.session_ended")
    assert (event.actor_id, event.target_id, event.ip_address) == (user.pk, str(user.pk), "203.0.113.10")
    assert event.details == {
        "session_id": ended.pk,
        "device": "Mobile Safari 17 on iOS 17.1",
        "ip": "198.51.100.20",
        "reason": "ended_by_owner",
    }


def test_ending_all_other_sessions_keeps_only_this_one(django_capture_on_commit_callbacks: Any) -> None:
    """The page's "End all other sessions" ends every session but the caller's, each audited."""
    user = UserFactory.create()
    laptop = _browser(user, agent=FIREFOX_UBUNTU, ip="203.0.113.10")
    others = [_browser(user, agent=SAFARI_IPHONE, ip=f"198.51.100.{n}") for n in (1, 2)]

    with django_capture_on_commit_callbacks(execute=True):
        response = laptop.post(PAGE, follow=True)

    assert "All your other sessions are signed out." in response.content.decode()
    assert list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == [
        laptop.session.session_key
    ]
    assert all(other.get(PAGE).status_code == 302 for other in others)
    assert AuditEvent.objects.filter(action="auth.session_ended", target_id=str(user.pk)).count() == 2


def test_another_persons_session_cannot_be_ended_from_the_page(django_capture_on_commit_callbacks: Any) -> None:
    """Posting a stranger's session id ends nothing: theirs stays, and so do the caller's others."""
    me, stranger = UserFactory.create(), UserFactory.create()
    laptop = _browser(me, agent=FIREFOX_UBUNTU, ip="203.0.113.10")
    my_phone = _browser(me, agent=SAFARI_IPHONE, ip="198.51.100.20")
    theirs = _browser(stranger, agent=FIREFOX_UBUNTU, ip="192.0.2.4")
    their_session = UserSession.objects.get(session_key=theirs.session.session_key)

    with django_capture_on_commit_callbacks(execute=True):
        response = laptop.post(PAGE, {"session": their_session.pk}, follow=True)

    assert "No session was signed out." in response.content.decode()
    assert UserSession.objects.filter(pk=their_session.pk).exists()
    assert theirs.get(PAGE).status_code == 200
    assert my_phone.get(PAGE).status_code == 200
    assert not AuditEvent.objects.filter(action="auth.session_ended").exists()


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_of_an_ended_session_is_told_and_closed_4401() -> None:
    """A websocket on the session hears `force_close` / `session_ended` and is closed with 4401;
    a socket of the person's other session stays open."""
    user = await database_sync_to_async(UserFactory.create)()
    ended, kept = await database_sync_to_async(session_for)(user), await database_sync_to_async(session_for)(user)
    sockets = [communicator("/ws/ping/", session=ended), communicator("/ws/ping/", session=kept)]
    for socket in sockets:
        assert (await socket.connect())[0]
        await socket.receive_json_from()

    def end() -> None:
        row = UserSession.objects.create(
            user=user, session_key=ended.session_key, ip="203.0.113.1", user_agent=FIREFOX_UBUNTU
        )
        user_sessions_end(sessions=[row], reason="ended_by_owner")

    await database_sync_to_async(end)()

    assert await sockets[0].receive_json_from() == {"type": "force_close", "reason": "session_ended", "code": 4401}
    assert (await sockets[0].receive_output())["code"] == 4401
    assert await sockets[1].receive_nothing()
    await sockets[1].disconnect()
