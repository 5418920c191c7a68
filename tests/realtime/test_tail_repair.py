"""A durable event lost on its way to a socket is repaired within one heartbeat, without waiting for
a next event (docs/realtime-protocol.md, "Delivery"). The loss is made real: the event's row is
committed, and its group message is never sent, as when channel-layer capacity drops it or the
publishing process dies between commit and send."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from domains.accounts.models import Role
from realtime import publish
from realtime.streams import user_stream
from tests.events import Probe
from tests.factories import MembershipFactory
from tests.helpers import communicator, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _signed_in() -> tuple[Any, Any]:
    membership = MembershipFactory.create(role=Role.LEARNER)
    return membership.user, session_for(membership.user)


def _publish_and_lose(monkeypatch: pytest.MonkeyPatch, stream: str, n: int) -> int:
    """Commit event `n` on `stream`, and drop its send to the group."""
    with monkeypatch.context() as patched:
        patched.setattr(publish, "_group_send", lambda group, message: None)
        row = publish.publish_on_commit(stream, Probe(type="note", n=n))
    return row.seq


async def test_a_lost_event_reaches_the_socket_at_its_next_ping(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a socket following its personal stream
    user, session = await _signed_in()
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    snapshot = await comm.receive_json_from()
    stream = user_stream(user.pk)
    # when an event on that stream is committed but never sent
    seq = await database_sync_to_async(_publish_and_lose)(monkeypatch, stream, 1)
    assert seq == snapshot["cursors"][stream] + 1
    assert await comm.receive_nothing(timeout=0.2)
    # then the next ping brings it, in order, with the replay's end
    await comm.send_json_to({"type": "ping", "ref": "hb"})
    assert await comm.receive_json_from() == {"type": "pong", "ref": "hb"}
    event = await comm.receive_json_from()
    assert (event["type"], event["stream"], event["seq"], event["event"], event["data"]) == (
        "event",
        stream,
        seq,
        "note",
        {"n": 1},
    )
    assert await comm.receive_json_from() == {"type": "resumed", "stream": stream, "seq": seq}
    # and a ping with nothing missed sends only its pong
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


@override_settings(REALTIME_TAIL_CHECK=False)
async def test_without_the_tail_check_a_lost_event_waits_for_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contrast: the setting is what repairs it."""
    user, session = await _signed_in()
    comm = communicator("/ws/me/", session=session)
    await comm.connect()
    await comm.receive_json_from()
    await database_sync_to_async(_publish_and_lose)(monkeypatch, user_stream(user.pk), 1)
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()
