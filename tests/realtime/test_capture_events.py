"""The `capture_events` fixture records the kernel's real publish calls, durable and ephemeral, in
order; a durable event is recorded when its row is written, so a rolled-back one stays recorded."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import pytest
from django.db import transaction

from realtime.models import StreamEvent
from realtime.publish import publish_ephemeral, publish_on_commit
from tests.events import CapturedEvents, Published

pytestmark = pytest.mark.django_db


class Note(TypedDict):
    type: Literal["note"]
    n: NotRequired[int]
    at: NotRequired[tuple[str, str]]


class Typing(TypedDict):
    type: Literal["typing"]
    user: dict[str, int]


class Created(TypedDict):
    type: Literal["message.created"]


def test_durable_and_ephemeral_events_are_recorded_in_order(capture_events: CapturedEvents) -> None:
    """Each publish is recorded with its stream, type, payload (as JSON carries it) and seq."""
    publish_on_commit("lounge.1", Note(type="note", n=1))
    publish_ephemeral("lounge.1", Typing(type="typing", user={"id": 2}))
    publish_on_commit("coach.3", Note(type="note", at=("a", "b")))
    assert capture_events.published == [
        Published(stream="lounge.1", type="note", payload={"n": 1}, seq=1),
        Published(stream="lounge.1", type="typing", payload={"user": {"id": 2}}, seq=None),
        Published(stream="coach.3", type="note", payload={"at": ["a", "b"]}, seq=1),
    ]
    assert capture_events.events("lounge.1", durable=True) == [{"type": "note", "n": 1}]
    assert capture_events.types(durable=False) == ["typing"]


def test_a_rolled_back_durable_event_is_recorded_though_no_row_remains(capture_events: CapturedEvents) -> None:
    """The record shows what services published, not what committed: the row is gone after the
    rollback, the recorded event is not."""

    def publish_then_fail() -> None:
        with transaction.atomic():
            publish_on_commit("lounge.8", Created(type="message.created"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        publish_then_fail()
    assert not StreamEvent.objects.filter(stream_id="lounge.8").exists()
    assert capture_events.events() == [{"type": "message.created"}]
