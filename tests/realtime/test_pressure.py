"""Under load, ephemeral events coalesce instead of queueing (realtime/pressure.py): pieces of one
streamed text merge while they wait, behind a process's backlog or a busy socket's queue; typing and
presence are dropped behind a long queue; durable events are never merged or dropped."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import override_settings

from domains.accounts.models import Role
from realtime.fanout import ProcessFanout, process_fanout
from realtime.livetext import DeltaCoalescer
from realtime.models import frame_event
from realtime.pressure import UnderLoad, settled
from realtime.publish import envelope, publish_ephemeral, publish_on_commit
from realtime.streams import user_stream
from tests.events import Probe
from tests.factories import MembershipFactory
from tests.helpers import communicator, session_for

STREAM = "lounge.1"


def _delta(offset: int, text: str, *, message_id: int = 5, stream: str = STREAM) -> dict[str, Any]:
    data = {"id": message_id, "offset": offset, "text": text}
    return envelope(frame_event(stream, None, "coach.delta", data, "now"), under_load=UnderLoad.MERGE)


def _durable(seq: int, stream: str = STREAM) -> dict[str, Any]:
    return envelope(frame_event(stream, seq, "message.created", {"n": seq}, "now"))


def _typing(stream: str = STREAM) -> dict[str, Any]:
    return envelope(frame_event(stream, None, "typing", {"user": {"id": 1}}, "now"), under_load=UnderLoad.DROP)


def _wire(message: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(settled(message)["text"]))


def _backlog_of(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    fanout = ProcessFanout(layer=None)  # enqueue never touches the layer
    for message in messages:
        fanout.enqueue(message)
    return [_wire(message) for message in fanout.backlog]


def test_pieces_of_one_text_waiting_in_a_process_backlog_go_out_as_one_delta() -> None:
    pieces = ["Hé", "llo ", "wörld", "!"]
    offsets = [0, 2, 6, 11]
    (frame,) = _backlog_of(*(_delta(offset, text) for offset, text in zip(offsets, pieces, strict=True)))
    assert (frame["event"], frame["data"]) == ("coach.delta", {"id": 5, "offset": 0, "text": "Héllo wörld!"})


def test_a_durable_event_between_two_pieces_keeps_them_apart_and_in_order() -> None:
    frames = _backlog_of(_delta(0, "Hi"), _durable(7), _delta(2, " there"))
    assert [(f.get("seq"), f["data"]) for f in frames] == [
        (None, {"id": 5, "offset": 0, "text": "Hi"}),
        (7, {"n": 7}),
        (None, {"id": 5, "offset": 2, "text": " there"}),
    ]


def test_pieces_of_different_texts_or_with_a_gap_between_them_never_merge() -> None:
    frames = _backlog_of(_delta(0, "ab"), _delta(2, "cd", message_id=6), _delta(5, "e", message_id=6))
    assert [f["data"]["text"] for f in frames] == ["ab", "cd", "e"]


def test_another_streams_messages_between_pieces_do_not_stop_them_merging() -> None:
    frames = _backlog_of(_delta(0, "ab"), _durable(3, stream="user.9"), _delta(2, "cd"))
    assert [(f["stream"], f["data"]) for f in frames] == [
        (STREAM, {"id": 5, "offset": 0, "text": "abcd"}),
        ("user.9", {"n": 3}),
    ]


@override_settings(REALTIME_PRESSURE_QUEUE=2)
def test_typing_is_dropped_behind_a_long_backlog_and_durable_events_never_are() -> None:
    frames = _backlog_of(_typing(), _durable(1), _typing(), _durable(2), _durable(3))
    assert [(f["event"], f.get("seq")) for f in frames] == [
        ("typing", None),
        ("message.created", 1),
        ("message.created", 2),
        ("message.created", 3),
    ]


def test_a_merged_group_message_is_not_changed_for_the_other_consumers() -> None:
    """The reader's backlog merges into its own copy: the message as received stays as it was."""
    first = _delta(0, "ab")
    fanout = ProcessFanout(layer=None)
    fanout.enqueue(first)
    fanout.enqueue(_delta(2, "cd"))
    assert json.loads(first["text"])["data"]["text"] == "ab"
    assert first["merge"]["end"] == 2


# ------------------------------------------------------------------ a busy socket, end to end


@database_sync_to_async
def _signed_in() -> tuple[Any, Any]:
    membership = MembershipFactory.create(role=Role.LEARNER)
    return membership.user, session_for(membership.user)


async def _busy_socket() -> tuple[Any, str, Any, asyncio.Lock]:
    """A socket on its personal stream, and its delivery lock held as a slow replay would hold it."""
    user, session = await _signed_in()
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    stream = user_stream(user.pk)
    fanout = process_fanout(get_channel_layer())
    (consumer,) = fanout.members[stream]
    lock: asyncio.Lock = consumer._delivery
    await lock.acquire()
    return comm, stream, fanout, lock


async def _until_received(fanout: ProcessFanout, stream: str, seq: int) -> None:
    """Wait until the process received durable event `seq` and handed its whole backlog out."""
    async with asyncio.timeout(10):
        while fanout.received.get(stream, 0) < seq or fanout.backlog:
            await asyncio.sleep(0.01)


@pytest.mark.django_db(transaction=True)
async def test_a_busy_socket_gets_the_deltas_it_fell_behind_on_merged_into_the_same_text() -> None:
    comm, stream, fanout, lock = await _busy_socket()
    pieces = ["Start ", "with ", "the ", "situation, ", "then ", "the ", "task."]

    def stream_reply() -> int:
        deltas = DeltaCoalescer(stream, 42, interval=0, clock=lambda: 0.0, event_type="coach.delta")
        for piece in pieces:
            deltas.add(piece)  # interval 0: one group message per piece
        return publish_on_commit(stream, Probe(type="note", n=1)).seq

    seq = await database_sync_to_async(stream_reply)()
    await _until_received(fanout, stream, seq)
    lock.release()
    delta = await comm.receive_json_from(timeout=5)
    after = await comm.receive_json_from(timeout=5)
    # one delta with the whole text from offset 0, then the event that followed it
    assert (delta["event"], delta["data"]) == ("coach.delta", {"id": 42, "offset": 0, "text": "".join(pieces)})
    assert (after["event"], after["seq"]) == ("note", seq)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@override_settings(REALTIME_PRESSURE_QUEUE=2)
async def test_a_busy_socket_drops_typing_behind_a_long_queue_but_keeps_every_durable_event() -> None:
    comm, stream, fanout, lock = await _busy_socket()

    def traffic() -> int:
        for n in range(4):
            publish_ephemeral(stream, Probe(type="typing", n=n), under_load=UnderLoad.DROP)
        for n in range(3):
            seq = publish_on_commit(stream, Probe(type="note", n=n)).seq
        return seq

    last = await database_sync_to_async(traffic)()
    await _until_received(fanout, stream, last)
    lock.release()
    frames = [await comm.receive_json_from(timeout=5) for _ in range(5)]
    assert [(f["event"], f.get("seq")) for f in frames] == [
        ("typing", None),
        ("typing", None),
        ("note", last - 2),
        ("note", last - 1),
        ("note", last),
    ]
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()
