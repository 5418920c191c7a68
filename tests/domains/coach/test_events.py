"""The thread event TypedDicts (domains/coach/events.py) are what private coach threads publish:
every event has exactly the keys its TypedDict declares (nested payloads included), and every
declared type is published, so the types cannot drift from the wire again."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest
from django.utils import timezone

from domains.ai.models import ReplyStatus
from domains.ai.providers.base import Passage
from domains.coach import events, services
from domains.coach.models import ThreadMessage, ThreadRole
from domains.coach.thread_reply import thread_streams_sweep
from domains.notes.retrieval import citations_for
from realtime.livetext import COACH_DELTA, DeltaCoalescer
from tests.domains.notes.helpers import World
from tests.events import CapturedEvents, contract_mismatches, event_types

pytestmark = pytest.mark.django_db


def test_every_thread_event_is_exactly_its_typeddict(world: World, capture_events: CapturedEvents) -> None:
    """Given a thread, when it is renamed, asked, answered again and its reply swept, then each
    event matches its TypedDict in `ThreadEvent` key for key, and every declared type was published."""
    # given a thread
    thread = services.thread_create(user=world.learner, organisation=world.org, title="Interviews")
    # when the owner renames it and asks; the reply, which cited a note, loses its worker
    services.thread_rename(thread=thread, user=world.learner, title="Salary")
    _, reply, _ = services.thread_message_post(thread=thread, user=world.learner, body="How?", client_msg_id="m1")
    assert reply is not None
    ThreadMessage.objects.filter(pk=reply.pk).update(
        citations=citations_for([Passage(text="Anchor high.", title="Pay", source="note:3#0-12")]),
        updated_at=timezone.now() - timedelta(hours=1),
    )
    assert thread_streams_sweep(older_than_seconds=60) == 1
    # and regenerates the answer
    services.thread_regenerate(thread=thread, user=world.learner, request_id="r1")
    # then every event matches its TypedDict, and every declared type was published
    published = capture_events.select(thread.stream, durable=True)
    assert len(published) == len(capture_events) == 5
    assert contract_mismatches(events.ThreadEvent, published) == []
    assert {p.type for p in published} == set(event_types(events.ThreadEvent))
    completed = [p.payload["message"] for p in published if p.type == "message.completed"]
    assert [len(m["citations"]) for m in completed] == [1]


def test_the_coach_delta_on_a_thread_is_exactly_its_typeddict(capture_events: CapturedEvents) -> None:
    """The delta the private coach sends is the same `CoachDelta` as the lounge coach's, ephemeral."""
    DeltaCoalescer("coach.4", 2, interval=1.0, clock=lambda: 0.0, event_type=COACH_DELTA).add("Hi")
    assert capture_events.events() == [{"type": "coach.delta", "id": 2, "offset": 0, "text": "Hi"}]
    assert contract_mismatches(events.ThreadEphemeralEvent, capture_events.published) == []


def test_the_declared_values_are_the_models_choices() -> None:
    assert set(get_args(events.ThreadRoleName)) == set(ThreadRole.values)
    assert set(get_args(events.ReplyStatusName)) == set(ReplyStatus.values)
