"""The socket protocol once more, with a real websocket client against a live daphne, and real
Celery workers behind a real broker (tests/live.py). The in-process version of each behaviour is
in tests/realtime/test_consumers.py; these prove the same over the wire and across processes."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from websockets.exceptions import InvalidStatus

from domains.accounts.models import Role
from realtime.models import StreamEvent
from realtime.publish import publish_on_commit
from realtime.streams import user_stream
from tests.events import Probe
from tests.factories import MembershipFactory
from tests.live import LiveStack, recv_json, recv_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

RECEIVE_SECONDS = 10


async def closed_with(ws: Any, timeout: float = RECEIVE_SECONDS) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), timeout)
    return ws.close_code


@database_sync_to_async
def signed_in(live_stack: LiveStack) -> tuple[Any, dict[str, str]]:
    membership = MembershipFactory(role=Role.LEARNER)
    return membership.user, live_stack.login(membership.user)


publish = database_sync_to_async(publish_on_commit)


def test_healthz_reports_database_redis_and_both_worker_pools_ok(live_stack: LiveStack) -> None:
    """/healthz is 200 only when PostgreSQL, Redis and a worker for each pool (heartbeats) are up."""
    body = live_stack.wait_healthy(timeout=15)
    checks = body["checks"]
    assert body["ok"] is True
    assert checks["database"]["ok"]
    assert checks["database"]["pgvector"]
    assert checks["redis"]["ok"]
    assert checks["workers"]["worker"] == {"ok": True, "hosts": ["default@live"]}
    assert checks["workers"]["worker-ai"] == {"ok": True, "hosts": ["ai@live"]}


async def test_a_foreign_origin_is_refused_with_403_at_the_handshake(live_stack: LiveStack) -> None:
    """Cross-site websocket hijacking: a page elsewhere cannot open a socket with our cookie."""
    _, cookies = await signed_in(live_stack)
    with pytest.raises(InvalidStatus) as refused:
        async with live_stack.websocket("/ws/ping/", cookies=cookies, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with live_stack.websocket("/ws/ping/", cookies=cookies) as ws:  # our own origin is welcome
        assert (await recv_json(ws))["type"] == "snapshot"


async def test_ping_sends_a_versioned_snapshot_then_echoes(live_stack: LiveStack) -> None:
    """A signed-in socket gets a snapshot carrying the protocol version, then echoes."""
    user, cookies = await signed_in(live_stack)
    async with live_stack.websocket("/ws/ping/", cookies=cookies) as ws:
        snapshot = await recv_json(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["v"] == 1
        assert snapshot["cursors"] == {user_stream(user.pk): 0}
        assert snapshot["heartbeat"] > 0
        await ws.send(json.dumps({"type": "echo", "data": {"hello": "wörld"}, "ref": "r1"}))
        assert await recv_json(ws) == {"type": "echo", "data": {"hello": "wörld"}, "ref": "r1"}
        await ws.send(json.dumps({"type": "ping", "ref": "p"}))
        assert await recv_json(ws) == {"type": "pong", "ref": "p"}


async def test_no_session_is_closed_4401(live_stack: LiveStack) -> None:
    async with live_stack.websocket("/ws/ping/") as ws:
        assert await closed_with(ws) == 4401


async def test_logging_out_over_http_closes_that_sessions_sockets_only(live_stack: LiveStack) -> None:
    """POST /accounts/logout/ sends force_close and closes 4401 on every socket of that session;
    the same person's other session keeps its socket."""
    user, cookies = await signed_in(live_stack)
    other_cookies = await database_sync_to_async(live_stack.login)(user)
    async with (
        live_stack.websocket("/ws/ping/", cookies=cookies) as mine,
        live_stack.websocket("/ws/me/", cookies=cookies) as mine_too,
        live_stack.websocket("/ws/ping/", cookies=other_cookies) as other,
    ):
        for ws in (mine, mine_too, other):
            assert (await recv_json(ws))["type"] == "snapshot"

        token = await asyncio.to_thread(live_stack.csrf_token, cookies)
        response = await asyncio.to_thread(
            live_stack.http, "POST", "/accounts/logout/", cookies=cookies, data={"csrfmiddlewaretoken": token}
        )
        assert response.status == 302, response.text[:500]

        for ws in (mine, mine_too):
            assert await recv_json(ws) == {"type": "force_close", "reason": "logout", "code": 4401}
            assert await closed_with(ws) == 4401
        await other.send(json.dumps({"type": "echo", "data": "still here"}))
        assert await recv_json(other) == {"type": "echo", "data": "still here"}  # no ref sent, none echoed


async def test_resume_replays_exactly_the_events_missed_while_away(live_stack: LiveStack) -> None:
    user, cookies = await signed_in(live_stack)
    stream = user_stream(user.pk)
    async with live_stack.websocket("/ws/me/", cookies=cookies) as ws:
        assert (await recv_json(ws))["cursors"] == {stream: 0}
        await publish(stream, {"type": "notification", "n": 1})
        live = await recv_json(ws)
        assert (live["type"], live["stream"], live["seq"], live["data"]) == ("event", stream, 1, {"n": 1})

    for n in (2, 3, 4):  # while away
        await publish(stream, {"type": "notification", "n": n})

    async with live_stack.websocket(f"/ws/me/?resume={stream}:1", cookies=cookies) as ws:
        replayed = [await recv_json(ws) for _ in range(3)]
        assert [(f["type"], f["seq"], f["data"]["n"]) for f in replayed] == [
            ("event", 2, 2),
            ("event", 3, 3),
            ("event", 4, 4),
        ]
        assert await recv_json(ws) == {"type": "resumed", "stream": stream, "seq": 4}
        # Then live again, with the next seq: nothing duplicated, nothing skipped, no snapshot.
        await publish(stream, {"type": "notification", "n": 5})
        after = await recv_json(ws)
        assert (after["type"], after["seq"], after["data"]) == ("event", 5, {"n": 5})


async def test_a_cursor_behind_retention_gets_resync_with_a_full_snapshot(live_stack: LiveStack) -> None:
    user, cookies = await signed_in(live_stack)
    stream = user_stream(user.pk)
    for n in range(1, 6):
        await publish(stream, {"type": "notification", "n": n})
    # Retention removed what the client still needs (seq 2..4): its cursor is too old to replay.
    await database_sync_to_async(lambda: StreamEvent.objects.filter(stream_id=stream, seq__lte=4).delete())()

    async with live_stack.websocket(f"/ws/me/?resume={stream}:1", cookies=cookies) as ws:
        resync = await recv_json(ws)
        assert resync["type"] == "resync"
        assert resync["v"] == 1
        assert resync["cursors"] == {stream: 5}
        assert resync["data"]["user"]["id"] == user.pk
        # A client applying from the new cursor gets the next event live.
        await publish(stream, {"type": "notification", "n": 6})
        assert (await recv_until(ws, "event"))["seq"] == 6


# The test process runs eager (unit tests); send_task always goes to the broker, which is the point.
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_beat_queue_worker_runs_the_retention_sweep(live_stack: LiveStack) -> None:
    """A task sent through the real broker to the `beat` queue runs in the prefork worker:
    events older than retention (24 h) disappear, newer ones stay."""
    from workers.celery import app

    stream = "lounge.live-sweep"
    for n in range(1, 4):
        publish_on_commit(stream, Probe(type="note", n=n))
    StreamEvent.objects.filter(stream_id=stream, seq__lte=2).update(created_at=timezone.now() - timedelta(days=2))

    app.send_task("workers.tasks.realtime.stream_events_sweep_task", queue="beat")

    deadline = time.monotonic() + 20
    remaining = None
    while time.monotonic() < deadline:
        remaining = list(StreamEvent.objects.filter(stream_id=stream).values_list("seq", flat=True))
        if remaining == [3]:
            break
        time.sleep(0.1)
    assert remaining == [3], f"the sweep did not run within 20s\n{live_stack.logs_tail(3000)}"
