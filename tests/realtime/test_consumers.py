"""The socket base, through WebsocketCommunicator against project.asgi.application."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from domains.accounts.models import Role
from domains.accounts.services import membership_grant, organisation_switch, user_deactivate
from domains.lounges.notices import LOUNGE_MENTION
from domains.notifications.services import notify
from realtime.publish import publish_on_commit
from realtime.streams import user_stream
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.helpers import communicator, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _signed_in(**session_data: object) -> tuple[object, object]:
    membership = MembershipFactory.create(role=Role.LEARNER)
    return membership.user, session_for(membership.user, **session_data)


async def test_a_foreign_origin_is_refused_at_the_handshake() -> None:
    _, session = await _signed_in()
    comm = communicator("/ws/ping/", session=session, origin=(b"origin", b"https://evil.example"))
    connected, _ = await comm.connect()
    assert not connected  # daphne turns this refusal into HTTP 403 (see the live-stack test)


async def test_no_session_is_accepted_then_closed_4401() -> None:
    comm = communicator("/ws/ping/")
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_output())["code"] == 4401


async def test_ping_echoes_for_a_signed_in_user() -> None:
    _, session = await _signed_in()
    comm = communicator("/ws/ping/", session=session)
    assert (await comm.connect())[0]
    snapshot = await comm.receive_json_from()
    assert snapshot["type"] == "snapshot"
    assert snapshot["v"] == 1
    await comm.send_json_to({"type": "echo", "data": {"hello": "wörld"}, "ref": "r1"})
    assert await comm.receive_json_from() == {"type": "echo", "data": {"hello": "wörld"}, "ref": "r1"}
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from())["type"] == "pong"
    await comm.disconnect()


async def test_bad_frames_get_clear_errors_and_the_socket_stays_open() -> None:
    _, session = await _signed_in()
    comm = communicator("/ws/ping/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_to(text_data="not json")
    assert (await comm.receive_json_from())["code"] == "bad_json"
    await comm.send_json_to([1, 2])
    assert (await comm.receive_json_from())["code"] == "bad_message"
    await comm.send_json_to({"type": "launch_missiles", "ref": "x"})
    error = await comm.receive_json_from()
    assert (error["code"], error["ref"]) == ("unknown_type", "x")
    await comm.send_json_to({"type": "echo", "data": 1, "surprise": True})
    error = await comm.receive_json_from()
    assert error["code"] == "invalid"
    assert "surprise" in error["fields"]
    await comm.send_json_to({"type": "echo", "data": "still here"})
    assert (await comm.receive_json_from())["data"] == "still here"
    await comm.disconnect()


@override_settings(REALTIME_MAX_FRAME_BYTES=64)
async def test_an_oversize_frame_gets_too_big_then_closes_4413_counting_utf8_bytes() -> None:
    """22 three-byte characters are 66 bytes: over a 64-byte cap though only 22 characters long."""
    _, session = await _signed_in()
    comm = communicator("/ws/ping/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    await comm.send_to(text_data=json.dumps({"type": "echo"})[:-1] + ',"data":"' + "€" * 22 + '"}')
    assert (await comm.receive_json_from())["code"] == "too_big"
    assert (await comm.receive_output())["code"] == 4413


@override_settings(REALTIME_RATE_CAPACITY=3, REALTIME_RATE_REFILL_PER_SECOND=0.001, REALTIME_RATE_STRIKES=2)
async def test_rate_limit_sends_an_error_then_closes_4429_when_it_persists() -> None:
    _, session = await _signed_in()
    comm = communicator("/ws/ping/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    for _ in range(3):
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from())["type"] == "pong"
    await comm.send_json_to({"type": "ping"})
    error = await comm.receive_json_from()
    assert error["code"] == "rate_limited"
    assert error["retry_after"] > 0
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_output())["code"] == 4429


async def test_personal_stream_snapshot_carries_identity_roles_cursor_and_unread_count() -> None:
    user, session = await _signed_in()
    await database_sync_to_async(notify)(user=user, kind=LOUNGE_MENTION, title="hi")
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    snapshot = await comm.receive_json_from()
    assert snapshot["stream"] == f"user.{user.pk}"
    assert snapshot["cursors"] == {f"user.{user.pk}": 1}
    assert snapshot["data"]["user"]["id"] == user.pk
    assert snapshot["data"]["unread"] == 1
    assert snapshot["rights"] == {"roles": ["learner"]}
    await comm.disconnect()


async def test_live_events_arrive_in_order_and_resume_replays_exactly_the_missed_ones() -> None:
    user, session = await _signed_in()
    stream = user_stream(user.pk)
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(publish_on_commit)(stream, {"type": "notification", "n": 1})
    live = await receive_until(comm, "event")
    assert (live["seq"], live["data"]) == (1, {"n": 1})
    await comm.disconnect()

    for n in range(2, 5):  # while away
        await database_sync_to_async(publish_on_commit)(stream, {"type": "notification", "n": n})

    comm = communicator(f"/ws/me/?resume={stream}:1", session=session)
    await comm.connect()
    replayed = [await comm.receive_json_from() for _ in range(3)]
    assert [(f["seq"], f["data"]["n"]) for f in replayed] == [(2, 2), (3, 3), (4, 4)]
    assert await comm.receive_json_from() == {"type": "resumed", "stream": stream, "seq": 4}
    await comm.send_json_to({"type": "resume", "cursors": {stream: 4}})
    assert await comm.receive_json_from() == {"type": "resumed", "stream": stream, "seq": 4}
    assert await comm.receive_nothing()
    await comm.disconnect()


@override_settings(REALTIME_RETENTION_EVENTS=2)
async def test_a_cursor_past_retention_gets_resync_with_a_full_snapshot() -> None:
    from realtime.replay import stream_events_sweep

    user, session = await _signed_in()
    stream = user_stream(user.pk)
    for n in range(5):
        await database_sync_to_async(publish_on_commit)(stream, {"type": "notification", "n": n})
    await database_sync_to_async(stream_events_sweep)()
    comm = communicator(f"/ws/me/?resume={stream}:1", session=session)
    await comm.connect()
    resync = await comm.receive_json_from()
    assert resync["type"] == "resync"
    assert resync["v"] == 1
    assert resync["cursors"] == {stream: 5}
    await comm.disconnect()


async def test_logout_force_closes_that_sessions_sockets_only() -> None:
    from django.contrib.auth.signals import user_logged_out
    from django.test import RequestFactory

    user, session = await _signed_in()
    other_session = await database_sync_to_async(session_for)(user)
    mine = communicator("/ws/ping/", session=session)
    other = communicator("/ws/ping/", session=other_session)
    for comm in (mine, other):
        await comm.connect()
        await comm.receive_json_from()

    def log_out() -> None:
        request = RequestFactory().post("/accounts/logout/")
        request.session = session
        user_logged_out.send(sender=type(user), request=request, user=user)

    await database_sync_to_async(log_out)()
    frame = await mine.receive_json_from()
    assert frame == {"type": "force_close", "reason": "logout", "code": 4401}
    assert (await mine.receive_output())["code"] == 4401
    assert await other.receive_nothing()
    await other.disconnect()


async def test_deactivation_closes_every_socket_of_the_user() -> None:
    user, session = await _signed_in()
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(user_deactivate)(user=user, actor=None)
    assert (await comm.receive_json_from())["reason"] == "deactivated"
    assert (await comm.receive_output())["code"] == 4401


async def test_role_change_reaches_open_sockets_as_rights_changed() -> None:
    user, session = await _signed_in()
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    snapshot = await comm.receive_json_from()
    organisation = await database_sync_to_async(lambda: user.memberships.get().organisation)()
    await database_sync_to_async(membership_grant)(organisation=organisation, user=user, role=Role.MENTOR, actor=None)
    frame = await comm.receive_json_from()
    assert frame["type"] == "rights_changed"
    assert frame["rights"] == {"roles": ["learner", "mentor"]}
    assert snapshot["rights"] == {"roles": ["learner"]}
    await comm.disconnect()


async def test_organisation_switch_closes_the_sessions_sockets_4409() -> None:
    user, session = await _signed_in()
    second = await database_sync_to_async(OrganisationFactory.create)()
    await database_sync_to_async(MembershipFactory.create)(user=user, organisation=second, role=Role.LEARNER)
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(organisation_switch)(user=user, session=session, organisation_id=second.pk)
    assert (await comm.receive_json_from())["reason"] == "organisation_changed"
    assert (await comm.receive_output())["code"] == 4409


async def test_a_foreign_organisation_cannot_be_switched_to() -> None:
    from django.http import Http404

    user, session = await _signed_in()
    foreign = await database_sync_to_async(OrganisationFactory.create)()
    with pytest.raises(Http404):
        await database_sync_to_async(organisation_switch)(user=user, session=session, organisation_id=foreign.pk)


def test_user_factory_makes_distinct_people() -> None:
    assert UserFactory.create().email != UserFactory.create().email
