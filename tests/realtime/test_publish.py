"""Durable events: seq allocation, publish after commit, replay and retention."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from realtime.models import StreamEvent
from realtime.publish import publish_on_commit
from realtime.replay import replay_after, stream_events_sweep
from tests.events import Probe
from tests.listen import GroupListener

pytestmark = pytest.mark.django_db(transaction=True)


def test_seq_is_allocated_per_stream_without_gaps() -> None:
    """Each stream counts from 1 on its own."""
    for _ in range(3):
        publish_on_commit("lounge.1", Probe(type="note", n=1))
    publish_on_commit("lounge.2", Probe(type="note"))
    assert list(StreamEvent.objects.filter(stream_id="lounge.1").values_list("seq", flat=True)) == [1, 2, 3]
    assert list(StreamEvent.objects.filter(stream_id="lounge.2").values_list("seq", flat=True)) == [1]


async def test_event_is_sent_only_after_commit() -> None:
    """Subscribers see the event once the transaction commits, with its seq and payload."""
    async with GroupListener("lounge.9") as listener:

        def publish_in_transaction() -> None:
            with transaction.atomic():
                publish_on_commit("lounge.9", Probe(type="message.created", id=5))
                listener.assert_nothing()

        await database_sync_to_async(publish_in_transaction)()
        message = await listener.areceive()
    assert (message["type"], message["seq"], message["event"]) == ("stream.event", 1, "message.created")
    frame = json.loads(message["text"])  # encoded once, sent as is to every socket of the group
    assert (frame["type"], frame["stream"], frame["seq"], frame["data"]) == ("event", "lounge.9", 1, {"id": 5})


async def test_rolled_back_event_is_neither_stored_nor_sent() -> None:
    """A rollback leaves no row, no seq used, and nothing on the wire."""
    async with GroupListener("lounge.8") as listener:

        def publish_then_fail() -> None:
            with transaction.atomic():
                publish_on_commit("lounge.8", Probe(type="message.created"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await database_sync_to_async(publish_then_fail)()
        assert not await StreamEvent.objects.filter(stream_id="lounge.8").aexists()
        await listener.aassert_nothing()
    row = await database_sync_to_async(publish_on_commit)("lounge.8", Probe(type="message.created"))
    assert row.seq == 1


def test_replay_returns_exactly_the_missed_events_in_order() -> None:
    for index in range(6):
        publish_on_commit("coach.3", Probe(type="tick", i=index))
    replay = replay_after("coach.3", 2)
    assert not replay.resync
    assert [frame["seq"] for frame in replay.frames] == [3, 4, 5, 6]
    assert [cast(dict[str, Any], frame["data"])["i"] for frame in replay.frames] == [2, 3, 4, 5]
    assert replay_after("coach.3", 6).frames == []


def test_replay_asks_for_resync_when_the_cursor_is_ahead_of_the_stream() -> None:
    publish_on_commit("coach.4", Probe(type="tick"))
    assert replay_after("coach.4", 7).resync
    assert replay_after("nothing.here", 3).resync
    assert not replay_after("nothing.here", 0).resync


@override_settings(REALTIME_RETENTION_EVENTS=3)
def test_sweep_keeps_the_newest_events_and_old_cursors_resync() -> None:
    """Retention keeps the last N; a cursor behind them gets resync, one inside replays."""
    for _ in range(5):
        publish_on_commit("lounge.5", Probe(type="tick"))
    assert stream_events_sweep() == 2
    assert list(StreamEvent.objects.filter(stream_id="lounge.5").values_list("seq", flat=True)) == [3, 4, 5]
    assert replay_after("lounge.5", 1).resync
    assert [f["seq"] for f in replay_after("lounge.5", 2).frames] == [3, 4, 5]
    assert stream_events_sweep() == 0


def test_sweep_removes_events_older_than_the_age_limit() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        publish_on_commit("lounge.6", Probe(type="old"))
    publish_on_commit("lounge.6", Probe(type="new"))
    assert stream_events_sweep() == 1
    assert list(StreamEvent.objects.filter(stream_id="lounge.6").values_list("type", flat=True)) == ["new"]
    assert replay_after("lounge.6", 0).resync
