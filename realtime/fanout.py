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

One `ProcessFanout` per (event loop, channel layer). The reader runs only while the process has
local members, and the process's channel is re-added to its groups periodically so that
`group_expiry` never drops a long-lived room.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

import structlog
from channels.layers import BaseChannelLayer
from django.conf import settings

from realtime.publish import CONTROL_MESSAGE

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
        self._tasks: list[asyncio.Task[None]] = []  # the reader, then the refresher
        self._stopping: set[asyncio.Task[None]] = set()  # readers told to stop, not yet returned

    # ------------------------------------------------------------------ membership
    async def join(self, stream: str, consumer: StreamConsumer) -> None:
        """Follow `stream` for `consumer`; the process joins the group on its first local member."""
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self._tasks = [
                    asyncio.create_task(self._read(self.channel), name=f"fanout-read {self.channel}"),
                    asyncio.create_task(self._refresh(), name=f"fanout-refresh {self.channel}"),
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
            if stream in self.joined and self.channel is not None:
                self.joined.discard(stream)
                await self.layer.group_discard(stream, self.channel)
            if not self.members:
                await self._stop()

    async def _stop(self) -> None:
        """Stop reading without cancelling the reader: it gets a stop message on its own channel and
        returns. (A task cancelled inside a blocking Redis read may never finish, redis-py #2028; a
        reader that never finished would hold `_lock` here, and no socket could join again.)"""
        tasks, channel, self._tasks, self.channel = self._tasks, self.channel, [], None
        for task in tasks[1:]:
            task.cancel()  # the refresher only sleeps
        if channel is not None:
            await self.layer.send(channel, {"type": STOP_MESSAGE})
        for reader in tasks[:1]:
            self._stopping.add(reader)
            reader.add_done_callback(self._stopping.discard)

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
                # by the next one's gap check, as for any dropped group message).
                log.warning("realtime.fanout_receive_failed", channel=channel, exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") == STOP_MESSAGE:
                return
            try:
                await self.dispatch(message)
            except Exception:
                log.exception("realtime.fanout_dispatch_failed", stream=message.get("stream"))

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
