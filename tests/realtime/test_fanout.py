"""Process-level fan-out (realtime/fanout.py) against the stock one-channel-per-socket pattern.

Both modes must deliver every durable event exactly once and in order; "process" must do it with
one group member per process, however many sockets follow the stream.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings

from domains.accounts.models import Membership, Role
from domains.lounges.models import LoungeMembership, LoungeRole
from realtime.models import StreamEvent
from realtime.publish import _ALLOCATE_SEQ
from realtime.redis import get_async_redis
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory
from tests.helpers import communicator, receive_event, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)

MODES = ["process", "channel"]


@database_sync_to_async
def _lounge_with_members(count: int) -> tuple[Any, list[Any]]:
    lounge = LoungeFactory.create()
    sessions = []
    for _ in range(count):
        user = UserFactory.create()
        Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
        LoungeMembership.objects.create(lounge=lounge, user=user, role=LoungeRole.MEMBER)
        sessions.append(session_for(user))
    return lounge, sessions


async def _join(lounge: Any, session: Any) -> tuple[Any, dict[str, Any]]:
    comm = communicator(f"/ws/lounges/{lounge.slug}/", session=session)
    assert (await comm.connect())[0]
    snapshot = await comm.receive_json_from()
    assert snapshot["type"] == "snapshot"
    return comm, snapshot


async def _group_size(stream: str) -> int:
    """The channels in `stream`'s group, as the layer the sockets use holds them."""
    layer = get_channel_layer()
    if isinstance(layer, RedisPubSubChannelLayer):
        # The pub/sub layer keeps groups only in memory, per event loop, and has no API to list them:
        # read the set of this loop's layer (the test's loop, which runs the consumers).
        loop_layer = layer._get_layer()
        return len(loop_layer.groups.get(loop_layer._get_group_channel_name(stream), ()))
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    return int(await get_async_redis().zcard(f"{prefix}:group:{stream}"))


async def _posted(comm: Any, count: int) -> list[int]:
    """The seqs of the next `count` message.created events on `comm`, as they arrive."""
    return [(await receive_event(comm, "message.created"))["seq"] for _ in range(count)]


@database_sync_to_async
def _lost_event(stream: str) -> int:
    """A durable event whose group message never went out (a dropped send): only resume finds it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ALLOCATE_SEQ, [stream])
        seq = int(cursor.fetchone()[0])
        StreamEvent.objects.create(stream_id=stream, seq=seq, type="lounge.updated", payload={"topic": "lost"})
    return seq


@pytest.mark.parametrize("mode", MODES)
async def test_every_socket_gets_every_event_once_and_in_order(mode: str) -> None:
    with override_settings(REALTIME_FANOUT=mode):
        lounge, sessions = await _lounge_with_members(3)
        sockets = [(await _join(lounge, session))[0] for session in sessions]
        # One member for the process, or one per socket (Channels' stock pattern).
        assert await _group_size(lounge.stream) == (1 if mode == "process" else 3)
        for index in range(5):
            await sockets[0].send_json_to({"type": "message.post", "client_msg_id": f"m{index}", "body": f"hi {index}"})
        seqs = [await _posted(comm, 5) for comm in sockets]
        assert seqs[0] == list(range(seqs[0][0], seqs[0][0] + 5))
        assert seqs[1] == seqs[0]
        assert seqs[2] == seqs[0]
        for comm in sockets:
            await comm.disconnect()
        assert await _group_size(lounge.stream) == 0


@pytest.mark.parametrize("mode", MODES)
async def test_a_lost_event_is_replayed_before_the_next_one(mode: str) -> None:
    with override_settings(REALTIME_FANOUT=mode):
        lounge, sessions = await _lounge_with_members(2)
        writer, _ = await _join(lounge, sessions[0])
        reader, snapshot = await _join(lounge, sessions[1])
        start = snapshot["cursors"][lounge.stream]
        lost = await _lost_event(lounge.stream)
        assert lost == start + 1
        await writer.send_json_to({"type": "message.post", "client_msg_id": "after", "body": "after the gap"})
        # The reader sees the gap (start+2 after start), replays start+1 from the database, then
        # gets start+2 once: the same order and count as if nothing had been lost.
        frames: list[tuple[int, str]] = []
        while len(frames) < 2:
            frame = await reader.receive_json_from(timeout=5)
            if frame.get("type") == "event" and frame.get("seq") is not None:
                frames.append((frame["seq"], frame["event"]))
        assert frames == [(start + 1, "lounge.updated"), (start + 2, "message.created")]
        assert (await receive_until(reader, "resumed"))["seq"] == start + 2
        await writer.disconnect()
        await reader.disconnect()


async def test_one_process_channel_serves_several_streams_and_leaves_each_with_its_last_socket() -> None:
    first, first_sessions = await _lounge_with_members(2)
    second, second_sessions = await _lounge_with_members(1)
    a, _ = await _join(first, first_sessions[0])
    b, _ = await _join(first, first_sessions[1])
    c, _ = await _join(second, second_sessions[0])
    assert await _group_size(first.stream) == 1
    assert await _group_size(second.stream) == 1
    await a.disconnect()
    assert await _group_size(first.stream) == 1  # b still follows it
    await c.send_json_to({"type": "message.post", "client_msg_id": "x", "body": "only in the second lounge"})
    await receive_event(c, "message.created")
    await b.send_json_to({"type": "message.post", "client_msg_id": "y", "body": "still here"})
    created = await receive_event(b, "message.created")
    assert created["data"]["message"]["body"] == "still here"  # b never saw the second lounge's message
    await b.disconnect()
    assert await _group_size(first.stream) == 0
    assert await _group_size(second.stream) == 1
    await c.disconnect()
    assert await _group_size(second.stream) == 0
