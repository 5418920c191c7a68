"""A durable event lost on its way to a process reaches its sockets within two tail-check intervals,
without waiting for a next event and without a ping (docs/realtime-protocol.md, "Delivery"). The loss
is made real: the event's row is committed and its group message never sent, as when channel-layer
capacity drops it, or when the publishing process is killed between commit and send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import override_settings

from domains.accounts.models import Role
from realtime import publish
from realtime.models import StreamEvent
from realtime.streams import user_stream
from tests.events import Probe
from tests.factories import MembershipFactory
from tests.helpers import communicator, session_for
from tests.live import ROOT, database_url_from_settings

pytestmark = pytest.mark.django_db(transaction=True)

# Short intervals for the test; the mechanism is the one production runs every 5 s.
FAST = 0.05


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


async def _connected(path: str = "/ws/me/") -> tuple[Any, Any, dict[str, Any]]:
    user, session = await _signed_in()
    comm = communicator(path, session=session)
    await comm.connect()
    snapshot = await comm.receive_json_from()
    return user, comm, snapshot


def _assert_repaired(frames: list[dict[str, Any]], stream: str, seq: int) -> None:
    event, resumed = frames
    assert (event["type"], event["stream"], event["seq"], event["event"], event["data"]) == (
        "event",
        stream,
        seq,
        "note",
        {"n": 1},
    )
    assert resumed == {"type": "resumed", "stream": stream, "seq": seq}


@override_settings(REALTIME_TAIL_CHECK_SECONDS=FAST)
async def test_a_lost_event_reaches_a_socket_that_never_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a socket following its personal stream, which sends nothing at all
    user, comm, snapshot = await _connected()
    stream = user_stream(user.pk)
    # when an event on that stream is committed but its group message is dropped
    seq = await database_sync_to_async(_publish_and_lose)(monkeypatch, stream, 1)
    assert seq == snapshot["cursors"][stream] + 1
    # then the process's tail check replays it, in order, with the replay's end
    _assert_repaired([await comm.receive_json_from(timeout=5) for _ in range(2)], stream, seq)
    # and only once: the next checks find nothing missing, and the next event is the next seq
    await database_sync_to_async(publish.publish_on_commit)(stream, Probe(type="note", n=2))
    following = await comm.receive_json_from(timeout=5)
    assert (following["seq"], following["data"]) == (seq + 1, {"n": 2})
    await comm.disconnect()


@override_settings(REALTIME_TAIL_CHECK_SECONDS=FAST)
async def test_an_event_whose_publisher_was_killed_after_commit_reaches_followers() -> None:
    # given a socket following its personal stream
    user, comm, snapshot = await _connected()
    stream = user_stream(user.pk)
    # when another process commits an event on it and is killed before it sends
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="project.settings.test",
        DATABASE_URL=database_url_from_settings(),
        REDIS_URL=settings.REDIS_URL,
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE_OWNER_URL", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    command = [sys.executable, "-m", "tests.realtime.publish_and_die", stream]
    publisher = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=60)
    assert publisher.returncode == -signal.SIGKILL, publisher.stderr.decode()[-2000:]
    seq = snapshot["cursors"][stream] + 1
    assert await database_sync_to_async(StreamEvent.objects.filter(stream_id=stream, seq=seq).exists)()
    # then the event reaches the socket all the same
    _assert_repaired([await comm.receive_json_from(timeout=5) for _ in range(2)], stream, seq)
    await comm.disconnect()


@override_settings(REALTIME_TAIL_CHECK_SECONDS=0)
async def test_without_the_tail_check_a_lost_event_waits_for_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contrast: the check is what repairs it."""
    user, comm, _ = await _connected()
    await database_sync_to_async(_publish_and_lose)(monkeypatch, user_stream(user.pk), 1)
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    assert await comm.receive_nothing(timeout=0.5)
    await comm.disconnect()


@override_settings(REALTIME_FANOUT="channel", REALTIME_TAIL_CHECK_SECONDS=FAST)
async def test_with_one_channel_per_socket_the_ping_repairs_a_lost_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the process fan-out (the bench's comparison) the socket's own ping does the check."""
    user, comm, _ = await _connected()
    stream = user_stream(user.pk)
    seq = await database_sync_to_async(_publish_and_lose)(monkeypatch, stream, 1)
    assert await comm.receive_nothing(timeout=0.3)
    await comm.send_json_to({"type": "ping", "ref": "hb"})
    assert await comm.receive_json_from() == {"type": "pong", "ref": "hb"}
    _assert_repaired([await comm.receive_json_from(timeout=5) for _ in range(2)], stream, seq)
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()
