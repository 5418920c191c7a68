"""A test's own member of a stream's group, on every channel layer, in sync and async tests alike.

The pub/sub layer (channels_redis/pubsub.py) keeps its channels, groups and subscriptions per event
loop, and a receive that is cancelled (a timeout) unsubscribes its channel, losing what is sent
meanwhile. So the listener makes its channel, joins the group and receives in one never-cancelled
loop, all on the publisher's background loop (realtime/loop.py); the test waits on the queue that
loop fills, and may time out on it without losing anything.

    with GroupListener(reply.stream) as listener:
        ...
        message = listener.receive()

    async with GroupListener("lounge.9") as listener:
        message = await listener.areceive()
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from channels.layers import get_channel_layer

from realtime.loop import _background_loop, run_sync

T = TypeVar("T")


async def _on_background(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await `coroutine` run on the background loop without blocking the caller's loop."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, _background_loop()))


class GroupListener:
    def __init__(self, group: str) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self.channel = ""
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._reader: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ on the background loop
    async def _start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self._queue = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(self._queue), name=f"listen {self.group}")

    async def _read(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            queue.put_nowait(await self.layer.receive(self.channel))

    async def _get(self, timeout: float) -> dict[str, Any]:
        assert self._queue is not None, "not listening"
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _stop(self) -> None:
        if self._reader is not None:
            await self.layer.group_discard(self.group, self.channel)
            self._reader.cancel()
            await asyncio.wait([self._reader], timeout=2)
            self._reader = None

    # ------------------------------------------------------------------ sync tests
    def __enter__(self) -> GroupListener:
        run_sync(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def receive(self, timeout: float = 2) -> dict[str, Any]:
        """The next message of the group; TimeoutError if none comes within `timeout`."""
        return run_sync(self._get(timeout), timeout=timeout + 5)

    def assert_nothing(self, timeout: float = 0.2) -> None:
        """Nothing arrives within `timeout` (the listener keeps listening)."""
        try:
            message = self.receive(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing on {self.group}, got {message!r}")

    def close(self) -> None:
        run_sync(self._stop())

    # ------------------------------------------------------------------ async tests
    async def __aenter__(self) -> GroupListener:
        await _on_background(self._start())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def areceive(self, timeout: float = 2) -> dict[str, Any]:
        """The next message of the group; TimeoutError if none comes within `timeout`."""
        return await _on_background(self._get(timeout))

    async def aassert_nothing(self, timeout: float = 0.2) -> None:
        """Nothing arrives within `timeout` (the listener keeps listening)."""
        try:
            message = await self.areceive(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing on {self.group}, got {message!r}")

    async def aclose(self) -> None:
        await _on_background(self._stop())
