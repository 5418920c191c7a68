"""Websocket tickets for app clients, through WebsocketCommunicator against project.asgi.application:
a ticket from POST /api/v1/auth/ws-ticket opens one socket without Origin or cookie, once, within
its lifetime; without Origin nothing else does; with an Origin today's rule holds; logging the
ticket's session out force-closes the socket."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.test import Client, override_settings

from domains.accounts.models import Role
from domains.tokens import services
from tests.domains.tokens.helpers import SESSION, app_login, bearer, post_json
from tests.factories import MembershipFactory
from tests.helpers import ORIGIN, communicator, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)

TICKET = "/api/v1/auth/ws-ticket"


@database_sync_to_async
def _app_signed_in() -> tuple[Any, str]:
    """A member signed in as the app client, and their access token."""
    user = MembershipFactory.create(role=Role.LEARNER).user
    return user, app_login(user)["meta"]["access_token"]


@database_sync_to_async
def _ticket(access: str) -> dict[str, Any]:
    response = post_json(Client(enforce_csrf_checks=True), TICKET, **bearer(access))
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()


async def _opens(path: str, origin: tuple[bytes, bytes] | None = None, session: Any = None) -> bool:
    comm = communicator(path, origin=origin, session=session)
    connected, _ = await comm.connect()
    if connected:
        frame = await comm.receive_json_from()
        assert frame["type"] == "snapshot"
        await comm.disconnect()
    return connected


async def test_a_ticket_opens_one_socket_without_origin_and_only_once() -> None:
    """Given a ticket from the API (bearer, no CSRF), when the app connects with `?ticket=` and no
    Origin, then the socket opens for that person; the same ticket is refused the second time."""
    _, access = await _app_signed_in()
    body = await _ticket(access)
    assert set(body) == {"ticket", "expires_in"}
    assert body["expires_in"] == 30

    assert await _opens(f"/ws/ping/?ticket={body['ticket']}")
    assert not await _opens(f"/ws/ping/?ticket={body['ticket']}")


async def test_a_ticket_expires_after_its_lifetime() -> None:
    """A ticket unused for WS_TICKET_TTL_SECONDS (30) is refused (the server's clock, moved on)."""
    _, access = await _app_signed_in()
    late = (await _ticket(access))["ticket"]
    in_time = (await _ticket(access))["ticket"]

    with time_machine.travel(time.time() + 29, tick=True):
        assert await _opens(f"/ws/ping/?ticket={in_time}")
    with time_machine.travel(time.time() + 31, tick=True):
        assert not await _opens(f"/ws/ping/?ticket={late}")


async def test_without_origin_nothing_but_a_valid_ticket_opens_a_socket() -> None:
    """No Origin and no ticket, a made-up ticket, a malformed one, or two tickets: all refused at
    the handshake, before any consumer runs; so is a cookie without Origin."""
    user, _ = await _app_signed_in()
    session = await database_sync_to_async(session_for)(user)

    assert not await _opens("/ws/ping/")
    assert not await _opens("/ws/ping/?ticket=" + "A" * 43)
    assert not await _opens("/ws/ping/?ticket=short")
    assert not await _opens("/ws/ping/", session=session)


async def test_with_an_origin_today_s_rule_holds() -> None:
    """An allowed Origin with the session cookie works as before; a foreign Origin is refused even
    with a valid ticket (which stays unused); an allowed Origin may also use a ticket."""
    user, access = await _app_signed_in()
    session = await database_sync_to_async(session_for)(user)
    ticket = (await _ticket(access))["ticket"]

    assert await _opens("/ws/ping/", origin=ORIGIN, session=session)
    assert not await _opens(f"/ws/ping/?ticket={ticket}", origin=(b"origin", b"https://evil.example"))
    assert await _opens(f"/ws/ping/?ticket={ticket}", origin=ORIGIN)
    assert not await _opens("/ws/ping/?ticket=" + "B" * 43, origin=ORIGIN, session=session)


async def test_logging_out_the_app_closes_its_ticket_socket() -> None:
    """Given a socket opened with a ticket, when the app logs out through allauth headless, then
    the socket gets `force_close` (logout, 4401) and closes: it joined the token's session group."""
    _, access = await _app_signed_in()
    ticket = (await _ticket(access))["ticket"]
    comm = communicator(f"/ws/ping/?ticket={ticket}", origin=None)
    assert (await comm.connect())[0]
    await receive_until(comm, "snapshot")

    logout = await database_sync_to_async(lambda: Client().delete(SESSION, headers=bearer(access)))()
    assert logout.status_code == 401

    assert await receive_until(comm, "force_close") == {"type": "force_close", "reason": "logout", "code": 4401}
    assert (await comm.receive_output())["code"] == 4401


async def test_a_ticket_issued_before_logout_is_refused_after_it() -> None:
    _, access = await _app_signed_in()
    ticket = (await _ticket(access))["ticket"]
    await database_sync_to_async(lambda: Client().delete(SESSION, headers=bearer(access)))()

    assert not await _opens(f"/ws/ping/?ticket={ticket}")


async def test_a_browser_session_may_get_a_ticket_with_csrf_and_not_without() -> None:
    user, _ = await _app_signed_in()

    def issue(with_csrf: bool) -> Any:
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        headers = {}
        if with_csrf:
            client.get("/")
            headers["X-CSRFToken"] = client.cookies["csrftoken"].value
        return post_json(client, TICKET, **headers)

    refused = await database_sync_to_async(issue)(False)
    issued = await database_sync_to_async(issue)(True)

    assert refused.status_code == 403
    assert issued.status_code == 200
    assert await _opens(f"/ws/ping/?ticket={issued.json()['ticket']}")


async def test_ticket_issuing_is_rate_limited_with_retry_after() -> None:
    _, access = await _app_signed_in()

    def burst() -> list[Any]:
        with override_settings(WS_TICKET_PER_MINUTE=2):
            return [post_json(Client(), TICKET, **bearer(access)) for _ in range(3)]

    answers = await database_sync_to_async(burst)()

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].json() == {"detail": "Too many websocket tickets: try again shortly.", "errors": []}
    assert 1 <= int(answers[2]["Retry-After"]) <= 30


async def test_no_sign_in_no_ticket() -> None:
    response = await database_sync_to_async(lambda: post_json(Client(), TICKET))()
    assert response.status_code == 401


async def test_consuming_is_atomic_one_winner() -> None:
    """Two handshakes racing with one ticket: exactly one gets the grant (GETDEL)."""
    import asyncio

    user, _ = await _app_signed_in()
    session = await database_sync_to_async(session_for)(user)
    issued = await database_sync_to_async(services.ws_ticket_issue)(user=user, session_key=session.session_key)

    grants = await asyncio.gather(*(services.ws_ticket_consume(issued.ticket) for _ in range(5)))

    assert [grant is not None for grant in grants].count(True) == 1


def test_the_ticket_is_taken_out_of_the_query_string() -> None:
    from realtime.tickets import _split_ticket

    assert _split_ticket(b"ticket=abc&resume=lounge.1%3A4") == (["abc"], b"resume=lounge.1%3A4")
    assert _split_ticket(b"ticket=a&ticket=b") == (["a", "b"], b"")
    assert _split_ticket(b"") == ([], b"")


async def test_two_tickets_in_one_url_are_refused() -> None:
    _, access = await _app_signed_in()
    first = (await _ticket(access))["ticket"]
    second = (await _ticket(access))["ticket"]

    assert not await _opens(f"/ws/ping/?ticket={first}&ticket={second}")
