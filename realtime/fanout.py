"""Process-level fan-out: one channel-layer message per process, not one per socket.

With one channel per socket in a stream's group, `group_send` writes a Redis message per socket,
and Channels dispatches each through its own consumer (receive loop, queue, handler). That cost is
about 0.5 ms per socket in daphne: a mentor's message to 1,000 sockets reaches the last one half a
second later (bench S3; docs/decisions/0006-process-fanout.md).

Here each process joins a stream's group once, with one channel of its own, while any local socket
follows that stream. A reader task receives each group message once and hands it to the local
sockets directly (`StreamConsumer.fanout_event`): cursor check, visibility, one `send` of the text
encoded once by the publisher. A socket that is busy (connecting, resuming, repairing a gap) takes
the message through its own ordered slow path instead, so order and exactly-once hold as before.

Under load, the reader keeps receiving while the sockets are written to: received messages wait in a
backlog, where pieces of one streamed text merge and typing or presence may be dropped
(realtime/pressure.py), so a process that falls behind sends fewer, larger deltas instead of
overflowing its channel. Every REALTIME_TAIL_CHECK_SECONDS one query compares the streams' heads with
what the process received, and a durable event that never arrived is replayed to its sockets from
the database (`_check_tails`): the bound on a lost event, without waiting for a next one.

One `ProcessFanout` per (event loop, channel layer). The reader runs only while the process has
local members, and the process's channel is re-added to its groups periodically so that
`group_expiry` never drops a long-lived room.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer
from django.conf import settings

from realtime.pressure import droppable, merge_into, mergeable, own_copy, settled
from realtime.publish import CONTROL_MESSAGE
from realtime.replay import stream_cursors

if TYPE_CHECKING:
    from realtime.consumers.base import StreamConsumer

log = structlog.get_logger(__name__)

STOP_MESSAGE = "fanout.stop"


class ProcessFanout:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.members: dict[str, set[StreamConsumer]] = {}
        self.joined: set[str] = set()  # groups this process's channel is in now
        self.channel: str | None = None
        self._lock = asyncio.Lock()  # serialises membership changes and their Redis calls
        self._tasks: list[asyncio.Task[None]] = []  # the reader, the dispatcher, then the timers
        self._stopping: set[asyncio.Task[None]] = set()  # reader and dispatcher told to stop, not yet returned
        # Received, not yet handed to the sockets: the reader appends (merging and dropping under
        # load, realtime/pressure.py), the dispatcher pops, so a slow dispatch never blocks receiving.
        self.backlog: deque[dict[str, Any]] = deque()
        self._tails: dict[str, dict[str, Any]] = {}  # per stream, its newest message still in the backlog
        self._ready = asyncio.Event()
        self.received: dict[str, int] = {}  # per stream, the highest seq this process received
        self.merged = self.dropped = 0  # counters, for the logs and the bench
        self._reported = (0, 0)

    # ------------------------------------------------------------------ membership
    async def join(self, stream: str, consumer: StreamConsumer) -> None:
        """Follow `stream` for `consumer`; the process joins the group on its first local member."""
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self._tasks = [
                    asyncio.create_task(self._read(self.channel), name=f"fanout-read {self.channel}"),
                    asyncio.create_task(self._dispatch_backlog(), name=f"fanout-dispatch {self.channel}"),
                    asyncio.create_task(self._refresh(), name=f"fanout-refresh {self.channel}"),
                    asyncio.create_task(self._check_tails(), name=f"fanout-tails {self.channel}"),
                ]
            self.members.setdefault(stream, set()).add(consumer)
            if stream not in self.joined:
                await self.layer.group_add(stream, self.channel)
                self.joined.add(stream)

    async def leave(self, stream: str, consumer: StreamConsumer) -> None:
        """Stop following; the process leaves the group with its last local member, and stops
        reading once it has no members at all."""
        async with self._lock:
            members = self.members.get(stream)
            if members is None:
                return
            members.discard(consumer)
            if members:
                return
            del self.members[stream]
            self.received.pop(stream, None)
            if stream in self.joined and self.channel is not None:
                self.joined.discard(stream)
                await self.layer.group_discard(stream, self.channel)
            if not self.members:
                await self._stop()

    async def _stop(self) -> None:
        """Stop reading without cancelling the reader: it gets a stop message on its own channel and
        returns, and the dispatcher returns when it reaches that message. (A task cancelled inside a
        blocking Redis read may never finish, redis-py #2028; a reader that never finished would
        hold `_lock` here, and no socket could join again.)"""
        tasks, channel, self._tasks, self.channel = self._tasks, self.channel, [], None
        for task in tasks[2:]:
            task.cancel()  # the timers only sleep, or wait for one query
        if channel is not None:
            await self.layer.send(channel, {"type": STOP_MESSAGE})
        for task in tasks[:2]:
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def close(self, timeout: float = 5) -> None:
        """Stop at once, whatever local members remain, and wait for the reader to return (tests, and
        a graceful shutdown)."""
        async with self._lock:
            self.members.clear()
            for stream in list(self.joined):
                if self.channel is not None:
                    await self.layer.group_discard(stream, self.channel)
            self.joined.clear()
            await self._stop()
        if self._stopping:
            await asyncio.wait(list(self._stopping), timeout=timeout)

    # ------------------------------------------------------------------ delivery
    async def _read(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception:
                # Redis away or a timeout: keep reading (a durable event lost meanwhile is repaired
                # by the tail check, below, or by the next one's gap check).
                log.warning("realtime.fanout_receive_failed", channel=channel, exc_info=True)
                await asyncio.sleep(1)
                continue
            self.enqueue(message)
            if message.get("type") == STOP_MESSAGE:
                return

    def enqueue(self, message: dict[str, Any]) -> None:
        """Put a received message in the backlog: merged into the piece of its text still waiting
        there, dropped if it may be and the backlog is long, else appended (realtime/pressure.py)."""
        stream = message.get("stream")
        if isinstance(stream, str):
            seq = message.get("seq")
            if isinstance(seq, int) and seq > self.received.get(stream, 0):
                self.received[stream] = seq
            tail = self._tails.get(stream)
            if tail is not None and merge_into(tail, message):
                self.merged += 1
                return
            if droppable(message) and len(self.backlog) >= settings.REALTIME_PRESSURE_QUEUE:
                self.dropped += 1
                return
            self._tails[stream] = own_copy(message) if mergeable(message) else message
            message = self._tails[stream]
        self.backlog.append(message)
        self._ready.set()

    async def _dispatch_backlog(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self.backlog:
                message = self.backlog.popleft()
                stream = message.get("stream")
                if isinstance(stream, str) and self._tails.get(stream) is message:
                    del self._tails[stream]
                if message.get("type") == STOP_MESSAGE:
                    self._tails.clear()
                    return
                try:
                    await self.dispatch(settled(message))
                except Exception:
                    log.exception("realtime.fanout_dispatch_failed", stream=stream)
                # Let the reader run between messages: what arrives while this process is behind
                # merges into the backlog instead of queueing behind it.
                await asyncio.sleep(0)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Hand one group message to every local member of its stream, in turn."""
        stream = message.get("stream")
        members = self.members.get(stream) if isinstance(stream, str) else None
        if not members:
            return
        control = message.get("type") == CONTROL_MESSAGE
        for consumer in tuple(members):  # a member may leave while we await a send
            try:
                if control:
                    consumer.fanout_control(message)
                else:
                    await consumer.fanout_event(message)
            except Exception:
                log.warning("realtime.fanout_member_failed", stream=stream, exc_info=True)

    async def _refresh(self) -> None:
        """Re-add the process's channel to its groups before `group_expiry` could drop it."""
        while True:
            await asyncio.sleep(settings.REALTIME_FANOUT_REFRESH_SECONDS)
            async with self._lock:
                channel = self.channel
                if channel is None:
                    return
                for stream in list(self.joined):
                    await self.layer.group_add(stream, channel)

    def _report_pressure(self) -> None:
        """Log what the backlog merged and dropped since the last report, if anything (the bench
        sums these lines)."""
        merged, dropped = self.merged - self._reported[0], self.dropped - self._reported[1]
        if merged or dropped:
            log.info("realtime.fanout_pressure", merged=merged, dropped=dropped, backlog=len(self.backlog))
            self._reported = (self.merged, self.dropped)

    # ------------------------------------------------------------------ the tail check
    async def _check_tails(self) -> None:
        """The bound on a lost durable event, for every socket of the process, pinging or not.

        Every REALTIME_TAIL_CHECK_SECONDS, one query reads the heads of the streams the process
        follows. A head seen at the previous check that this process has still not received was lost
        on its way here (a group message dropped, or its publisher died between commit and send):
        each member behind it replays from the database. An event merely in flight, or waiting in
        the backlog, was received and is left to the ordered delivery. Bound: two intervals."""
        previous: dict[str, int] = {}
        while settings.REALTIME_TAIL_CHECK_SECONDS > 0:
            await asyncio.sleep(settings.REALTIME_TAIL_CHECK_SECONDS)
            self._report_pressure()
            streams = list(self.members)
            if not streams:
                previous = {}
                continue
            try:
                heads = await database_sync_to_async(stream_cursors)(streams)
            except Exception:
                log.warning("realtime.fanout_tail_check_failed", exc_info=True)
                continue
            for stream, head in previous.items():
                if self.received.get(stream, 0) >= head:
                    continue
                self.received[stream] = head  # known now; each socket behind it is repaired below
                members = tuple(self.members.get(stream, ()))
                behind = [member for member in members if member.repair_behind(stream, head)]
                if behind:
                    log.info("realtime.tail_repaired", stream=stream, head=head, sockets=len(behind))
            previous = heads


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, ProcessFanout]] = weakref.WeakKeyDictionary()


async def close_all() -> None:
    """Stop every fan-out of the running loop (the test suite calls this before a loop closes)."""
    for fanout in list(_fanouts.get(asyncio.get_running_loop(), {}).values()):
        await fanout.close()


def process_fanout(layer: BaseChannelLayer) -> ProcessFanout:
    """The fan-out of the running loop for `layer` (daphne has one loop; tests have one per test)."""
    per_loop = _fanouts.setdefault(asyncio.get_running_loop(), {})
    fanout = per_loop.get(id(layer))
    if fanout is None or fanout.layer is not layer:
        fanout = per_loop[id(layer)] = ProcessFanout(layer)
    return fanout
