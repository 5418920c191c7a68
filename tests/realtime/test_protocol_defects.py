"""Issue 10, §4: the websocket defects, in-process (WebsocketCommunicator against project.asgi and the
socket base's own pieces). The same behaviours over a real client and daphne are in
test_protocol_defects_live.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
import time_machine
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from domains.accounts.models import Membership, Role
from domains.coach.models import CoachThread
from domains.lounges.models import LoungeMembership, LoungeRole, Message
from realtime.consumers.base import CloseCode, StreamConsumer, dispatch_until_stopped, nested_deeper_than
from realtime.consumers.ping import PingConsumer
from realtime.origin import Origin, allowed_origins, origin_allowed, parse_origin
from realtime.streams import user_stream
from tests.factories import MembershipFactory, UserFactory
from tests.factories.lounges import LoungeFactory
from tests.helpers import communicator, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _signed_in() -> tuple[Any, Any]:
    membership = MembershipFactory.create(role=Role.LEARNER)
    return membership.user, session_for(membership.user)


@database_sync_to_async
def _lounge_member() -> tuple[Any, Any, Any]:
    lounge: Any = LoungeFactory.create()
    user: Any = UserFactory.create()
    Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=LoungeRole.MEMBER)
    return lounge, user, session_for(user)


async def _until_close(comm: WebsocketCommunicator) -> tuple[list[dict[str, Any]], int]:
    """The frames sent before the close, and its code."""
    frames: list[dict[str, Any]] = []
    while True:
        output = await comm.receive_output()
        if output["type"] == "websocket.close":
            return frames, output["code"]
        frames.append(json.loads(output["text"]))


async def _open(path: str, session: Any) -> WebsocketCommunicator:
    comm = communicator(path, session=session)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] in ("snapshot", "resumed")
    return comm


# ---------------------------------------------------------------------------------- 1. oversize
@override_settings(REALTIME_MAX_FRAME_BYTES=64)
async def test_an_oversize_frame_is_answered_too_big_and_closed_with_a_code_daphne_can_send() -> None:
    """Daphne refuses application close codes outside 1000 and 3000-4999: the old 1009 raised in the
    consumer and reached clients as 1011. Now an `error too_big`, then 4413."""
    _, session = await _signed_in()
    comm = await _open("/ws/ping/", session)
    await comm.send_to(text_data=json.dumps({"type": "echo", "data": "x" * 64}))
    error = await comm.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "too_big")
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4413}
    assert CloseCode.TOO_BIG == 4413
    assert all(code == 1000 or 3000 <= code <= 4999 for name, code in vars(CloseCode).items() if name.isupper())


# ---------------------------------------------------------------------------------- 2. nesting
async def test_json_nested_8000_deep_answers_invalid_and_the_socket_stays_open() -> None:
    """8,000 levels fit in 16 KiB and used to raise RecursionError (close 1011)."""
    _, session = await _signed_in()
    comm = await _open("/ws/ping/", session)
    await comm.send_to(text_data='{"type": "echo", "data": ' + "[" * 8000 + "]" * 8000 + "}")
    error = await comm.receive_json_from()
    assert (error["code"], list(error["fields"])) == ("invalid", ["frame"])
    await comm.send_json_to({"type": "ping", "ref": "alive"})
    assert await comm.receive_json_from() == {"type": "pong", "ref": "alive"}
    await comm.disconnect()


@override_settings(REALTIME_MAX_JSON_DEPTH=4)
async def test_nesting_up_to_the_limit_passes_and_brackets_inside_strings_do_not_count() -> None:
    _, session = await _signed_in()
    comm = await _open("/ws/ping/", session)
    data = {"a": [[r"[[[[[{{{{ \" [[[["]]}  # with the frame's own object, 4 levels; the string's are text
    await comm.send_json_to({"type": "echo", "data": data})
    assert (await comm.receive_json_from())["data"] == data
    await comm.send_json_to({"type": "echo", "data": [[[[]]]]})  # 5 levels, with the frame's own
    assert (await comm.receive_json_from())["code"] == "invalid"
    await comm.disconnect()


def test_the_depth_scan_follows_json_strings_and_escapes() -> None:
    assert not nested_deeper_than('{"a": "[[[[[[", "b": "\\\\", "c": [1]}', 2)
    assert nested_deeper_than('{"a": "\\"", "b": [[1]]}', 2)
    assert not nested_deeper_than("[" * 3 + "]" * 3, 3)
    assert nested_deeper_than("[" * 4, 3)  # unbalanced (not JSON anyway) counts as opened


# ---------------------------------------------------------------------------------- 3. NUL
@pytest.mark.parametrize("field", ["body", "client_msg_id"])
async def test_a_nul_in_a_lounge_post_answers_invalid_naming_the_field(field: str) -> None:
    """It used to reach PostgreSQL (which cannot store NUL) and answer `server_error`."""
    lounge, _, session = await _lounge_member()
    comm = await _open(f"/ws/lounges/{lounge.slug}/", session)
    frame = {"type": "message.post", "client_msg_id": "c-1", "body": "hi", "ref": "n", field: "a\x00b"}
    await comm.send_json_to(frame)
    error = await receive_until(comm, "error")
    assert (error["code"], error["ref"], list(error["fields"])) == ("invalid", "n", [field])
    assert await database_sync_to_async(Message.objects.filter(lounge=lounge).count)() == 0
    await comm.disconnect()


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "echo", "data": {"nested": ["ok", "a\x00b"]}}, "data"),
        ({"type": "echo", "data": {"k\x00": 1}}, "data"),  # a key
        ({"type": "echo", "data": "\ud800"}, "data"),  # a lone surrogate: UTF-8 cannot encode it
        ({"type": "ping", "ref": "r\x00"}, "ref"),
        ({"type": "resume", "cursors": {"user.1\x00": 1}}, "cursors"),
    ],
)
async def test_every_string_of_every_message_type_must_be_storable(frame: dict[str, Any], field: str) -> None:
    """The rule is in `ClientMessage`, so it covers every field of every type, nested ones included."""
    _, session = await _signed_in()
    comm = await _open("/ws/ping/", session)
    await comm.send_json_to(frame)
    error = await comm.receive_json_from()
    assert (error["code"], list(error["fields"])) == ("invalid", [field])
    await comm.disconnect()


async def test_a_nul_in_a_coach_thread_title_answers_invalid() -> None:
    user, session = await _signed_in()
    organisation = await database_sync_to_async(lambda: user.memberships.get().organisation)()
    thread = await database_sync_to_async(CoachThread.objects.create)(
        organisation=organisation, owner=user, title="Mine"
    )
    comm = await _open(f"/ws/coach/{thread.pk}/", session)
    await comm.send_json_to({"type": "thread.rename", "title": "a\x00b", "ref": "t"})
    error = await receive_until(comm, "error")
    assert (error["code"], error["ref"], list(error["fields"])) == ("invalid", "t", ["title"])
    await comm.disconnect()


# ---------------------------------------------------------------------------------- 4. after close
@override_settings(REALTIME_RATE_CAPACITY=1, REALTIME_RATE_REFILL_PER_SECOND=1, REALTIME_RATE_STRIKES=1)
async def test_a_frame_queued_behind_the_4429_close_changes_nothing() -> None:
    """After 4429 the bucket refills, and a frame still queued used to be allowed and post (no ack
    reached the closed socket). Now nothing after a server-initiated close acts."""
    lounge, _, session = await _lounge_member()
    comm = await _open(f"/ws/lounges/{lounge.slug}/", session)
    with time_machine.travel(time.time(), tick=False) as clock:
        await comm.send_json_to({"type": "message.post", "client_msg_id": "a", "body": "first"})
        assert (await receive_until(comm, "ack"))["client_msg_id"] == "a"
        await comm.send_json_to({"type": "message.post", "client_msg_id": "b", "body": "refused"})
        assert (await _until_close(comm))[1] == 4429
        clock.shift(60)  # the bucket is full again
        await comm.send_json_to({"type": "message.post", "client_msg_id": "c", "body": "queued"})
        assert await comm.receive_nothing(timeout=0.5)
    stored = await database_sync_to_async(lambda: list(Message.objects.values_list("client_msg_id", flat=True)))()
    assert stored == ["a"]


async def test_an_action_waiting_behind_a_close_does_not_run() -> None:
    """`run_action` is the last guard: a handler that got the delivery lock after the socket was
    closed (kicked, force-closed) calls no service."""
    consumer = StreamConsumer()
    consumer.closing = True
    ran: list[bool] = []
    message = PingConsumer.messages["echo"].model_validate({"type": "echo"})

    def action() -> dict[str, str]:
        ran.append(True)
        return {"type": "ack"}

    await consumer.run_action(message, action)
    assert ran == []


# ---------------------------------------------------------------------------------- 5. ref
async def test_replies_to_a_resume_echo_its_ref() -> None:
    user, session = await _signed_in()
    stream = user_stream(user.pk)
    comm = await _open("/ws/me/", session)
    await comm.send_json_to({"type": "resume", "cursors": {stream: 0}, "ref": "ok"})
    assert await comm.receive_json_from() == {"type": "resumed", "stream": stream, "seq": 0, "ref": "ok"}
    await comm.send_json_to({"type": "resume", "cursors": {stream: 50}, "ref": "ahead"})
    resync = await comm.receive_json_from()
    assert (resync["type"], resync["ref"]) == ("resync", "ahead")
    await comm.send_json_to({"type": "resume", "cursors": {stream: 0}})  # no ref, none echoed
    assert "ref" not in await comm.receive_json_from()
    await comm.disconnect()


@pytest.mark.parametrize(
    ("frame", "reply"),
    [
        ({"type": 5, "ref": "r-int"}, "bad_message"),
        ({"type": "nope", "ref": "r-int"}, "unknown_type"),
        ({"type": "echo", "surprise": 1, "ref": "r-int"}, "invalid"),
        ({"type": "ping", "ref": "r-int"}, "pong"),
        ({"type": "echo", "data": 1, "ref": "r-int"}, "echo"),
    ],
)
async def test_every_reply_and_error_echoes_a_string_ref(frame: dict[str, Any], reply: str) -> None:
    _, session = await _signed_in()
    comm = await _open("/ws/ping/", session)
    await comm.send_json_to(frame)
    answer = await comm.receive_json_from()
    assert (answer.get("code", answer["type"]), answer["ref"]) == (reply, "r-int")
    await comm.send_json_to({**frame, "ref": 7})  # not a string: not echoed
    assert "ref" not in await comm.receive_json_from()
    await comm.disconnect()


# ---------------------------------------------------------------------------------- 6. binary
async def test_a_binary_frame_is_refused_and_closed_4415_without_being_processed() -> None:
    _, session = await _signed_in()
    comm = await _open("/ws/ping/", session)
    await comm.send_to(bytes_data=json.dumps({"type": "echo", "data": "binary"}).encode())
    error = await comm.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "binary_frame")
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4415}


# ---------------------------------------------------------------------------------- 7. Origin
@pytest.mark.parametrize(
    "origin",
    [
        b"http://localhost:1",
        b"https://localhost:8000",
        b"http://localhost",
        b"http://localhost:8000.evil.example",
        b"http://evil.example:8000",
        b"http://localhost:8000/path",
        b"http://user@localhost:8000",
        b"null",
        b"",
    ],
)
async def test_an_origin_must_match_scheme_host_and_port(origin: bytes) -> None:
    _, session = await _signed_in()
    comm = communicator("/ws/me/", session=session, origin=(b"origin", origin))
    connected, _ = await comm.connect()
    assert not connected  # daphne answers this refusal with HTTP 403 (the live test)


async def test_a_missing_or_repeated_origin_is_refused_and_the_sites_own_is_welcome() -> None:
    _, session = await _signed_in()
    assert not (await communicator("/ws/me/", session=session, origin=None).connect())[0]
    twice = communicator("/ws/me/", session=session)
    twice.scope["headers"].append((b"origin", b"http://evil.example"))
    assert not (await twice.connect())[0]
    for origin in (b"http://localhost:8000", b"http://127.0.0.1:8000", b"HTTP://LOCALHOST:8000"):
        comm = communicator("/ws/me/", session=session, origin=(b"origin", origin))
        assert (await comm.connect())[0]
        await comm.disconnect()


def test_the_default_origins_in_development_are_http_on_the_served_port() -> None:
    with override_settings(
        ALLOWED_HOSTS=["localhost", "127.0.0.1", "[::1]", "*"],
        CSRF_TRUSTED_ORIGINS=[],
        SESSION_COOKIE_SECURE=False,
        REALTIME_ORIGIN_PORT=8123,
        REALTIME_ALLOWED_ORIGINS=[],
    ):
        assert allowed_origins() == [
            Origin("http", "localhost", 8123),
            Origin("http", "127.0.0.1", 8123),
            Origin("http", "::1", 8123),
        ]
        assert origin_allowed(b"http://[::1]:8123")
        assert not origin_allowed(b"http://[::1]:8000")


def test_the_default_origins_in_production_are_https_hosts_and_csrf_trusted_origins() -> None:
    with override_settings(
        ALLOWED_HOSTS=["app.example.com", ".example.org"],
        CSRF_TRUSTED_ORIGINS=["https://admin.example.com:8443", "https://*.example.net"],
        SESSION_COOKIE_SECURE=True,
        REALTIME_ALLOWED_ORIGINS=[],
    ):
        assert origin_allowed(b"https://app.example.com")
        assert origin_allowed(b"https://app.example.com:443")
        assert not origin_allowed(b"http://app.example.com")
        assert not origin_allowed(b"https://app.example.com:8443")
        assert origin_allowed(b"https://eu.example.org")
        assert origin_allowed(b"https://admin.example.com:8443")
        assert not origin_allowed(b"https://admin.example.com")
        assert origin_allowed(b"https://a.example.net")
        assert not origin_allowed(b"https://evil-example.net")


def test_explicit_origins_replace_the_defaults_and_a_bad_entry_fails_loudly() -> None:
    with override_settings(REALTIME_ALLOWED_ORIGINS=["https://chat.example.com"]):
        assert origin_allowed(b"https://chat.example.com")
        assert not origin_allowed(b"http://localhost:8000")
    with override_settings(REALTIME_ALLOWED_ORIGINS=["chat.example.com"]), pytest.raises(ImproperlyConfigured):
        allowed_origins()
    assert parse_origin("http://localhost:99999") is None


# ---------------------------------------------------------------------------------- 8. shut down
async def test_the_dispatch_loop_ends_even_when_a_receive_swallows_its_cancellation() -> None:
    """A channels-redis `receive()` sometimes swallows the cancel of the consumer's teardown and goes
    back to waiting; Channels' own loop then waits forever (daphne kills the instance after 10 s)."""

    async def stubborn() -> dict[str, Any]:
        with contextlib.suppress(asyncio.CancelledError):  # swallowed, as the library sometimes does
            await asyncio.Event().wait()
        await asyncio.Event().wait()  # and waits again, until cancelled once more
        return {}

    async def disconnected() -> dict[str, Any]:
        return {"type": "websocket.disconnect", "code": 1000}

    async def dispatch(message: dict[str, Any]) -> None:
        raise StopConsumer

    async with asyncio.timeout(5):
        with pytest.raises(StopConsumer):
            await dispatch_until_stopped([disconnected, stubborn], dispatch, teardown_seconds=2)


class _StuckPresence(PingConsumer):
    async def disconnected(self) -> None:
        await asyncio.Event().wait()  # a presence update that never returns (Redis away, say)


@override_settings(REALTIME_DISCONNECT_SECONDS=0.3)
async def test_a_stuck_disconnect_hook_is_bounded() -> None:
    """The instance still returns, well inside daphne's 10 s application close timeout."""
    _, session = await _signed_in()
    from django.conf import settings

    comm = WebsocketCommunicator(
        AuthMiddlewareStack(_StuckPresence.as_asgi()),
        "/ws/stuck/",
        headers=[(b"cookie", f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode())],
    )
    assert (await comm.connect())[0]
    await comm.receive_json_from()
    await comm.send_input({"type": "websocket.disconnect", "code": 1000})
    done, _ = await asyncio.wait([comm.future], timeout=3)  # (comm.disconnect would hide a timeout)
    comm.future.cancel()
    assert done, "the application instance did not return after its client left"
