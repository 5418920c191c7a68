"""The ephemeral events the lounge consumer publishes itself (presence and typing) are exactly the
TypedDicts domains/lounges/events.py declares for them."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from domains.accounts.models import Membership, Role
from domains.lounges import events
from domains.lounges.models import LoungeMembership
from tests.events import CapturedEvents, contract_mismatches
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory
from tests.helpers import communicator, receive_event, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _member() -> tuple[Any, Any, Any]:
    lounge = LoungeFactory.create()
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user)
    return lounge, user, session_for(user)


async def test_presence_and_typing_are_exactly_their_typeddicts(capture_events: CapturedEvents) -> None:
    """A member who connects, types and leaves publishes presence.joined, typing and presence.left,
    ephemeral, each with exactly its TypedDict's keys."""
    # given a member of a lounge
    lounge, user, session = await _member()
    # when they connect, type, and disconnect
    comm = communicator(f"/ws/lounges/{lounge.slug}/", session=session)
    assert (await comm.connect())[0]
    await receive_event(comm, "presence.joined")
    await comm.send_json_to({"type": "typing"})
    await receive_event(comm, "typing")
    await comm.disconnect()
    # then exactly these ephemeral events went out on the lounge stream
    who = {"id": user.pk, "name": user.public_name}
    assert capture_events.events(lounge.stream, durable=False) == [
        {"type": "presence.joined", "user": who},
        {"type": "typing", "user": who},
        {"type": "presence.left", "user": {"id": user.pk}},
    ]
    assert contract_mismatches(events.LoungeEphemeralEvent, capture_events.select(lounge.stream)) == []
