"""The load client: many websocket connections in one asyncio loop, paced open-loop.

Every connection is opened at its *intended* time (t0 + i / rate); its connect latency runs from
that time to its first frame (the snapshot), so a slow server shows up as latency, not as a slower
offered load. Frames go to a callback with their receive time (`time.time()`, comparable across
processes on this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ORIGIN = "http://localhost"


@dataclass
class Conn:
    idx: int
    path: str
    cookie: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    ws: ClientConnection | None = None
    intended: float = 0.0
    opened: float | None = None
    started: float | None = None
    first_frame: float | None = None
    error: str = ""
    closed: bool = False
    reader: asyncio.Task[None] | None = None

    @property
    def connect_latency(self) -> float | None:
        """From the intended (paced) start to the first frame: includes any wait for a pending slot."""
        return None if self.first_frame is None else self.first_frame - self.intended

    @property
    def handshake_latency(self) -> float | None:
        """From the moment the TCP connect began to the first frame."""
        return None if self.first_frame is None or self.started is None else self.first_frame - self.started

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)


OnFrame = Callable[[Conn, str, float], None]


async def _open(base: str, conn: Conn, on_frame: OnFrame, timeout: float, gate: asyncio.Semaphore | None) -> None:
    delay = conn.intended - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    if gate is not None:
        await gate.acquire()
    try:
        await _open_now(base, conn, on_frame, timeout)
        if conn.ws is not None:
            # hold the slot until the first frame (the snapshot): that is when the server is done with it
            deadline = time.time() + timeout
            while conn.first_frame is None and not conn.error and time.time() < deadline:
                await asyncio.sleep(0.005)
    finally:
        if gate is not None:
            gate.release()


async def _open_now(base: str, conn: Conn, on_frame: OnFrame, timeout: float) -> None:
    conn.started = time.time()
    headers = {"Cookie": conn.cookie} if conn.cookie else {}
    try:
        conn.ws = await connect(
            base + conn.path,
            origin=ORIGIN,  # type: ignore[arg-type]
            additional_headers=headers,
            open_timeout=timeout,
            close_timeout=2,
            ping_interval=None,  # the server pings (daphne every 20 s); the client answers
            compression=None,
            max_queue=None,
            proxy=None,
        )
    except Exception as error:  # noqa: BLE001 - counted, not fatal
        conn.error = f"{type(error).__name__}: {error}"[:200]
        return
    conn.opened = time.time()
    conn.reader = asyncio.ensure_future(_read(conn, on_frame))


async def _read(conn: Conn, on_frame: OnFrame) -> None:
    assert conn.ws is not None
    try:
        async for raw in conn.ws:
            now = time.time()
            if conn.first_frame is None:
                conn.first_frame = now
            on_frame(conn, raw if isinstance(raw, str) else raw.decode(), now)
    except Exception as error:  # noqa: BLE001
        if not conn.closed:
            conn.error = conn.error or f"{type(error).__name__}: {error}"[:200]
    finally:
        if not conn.closed and conn.ws is not None and conn.ws.close_code not in (None, 1000):
            conn.error = conn.error or f"closed {conn.ws.close_code}"


async def open_paced(
    base: str,
    conns: list[Conn],
    rate: float,
    on_frame: OnFrame,
    *,
    timeout: float = 60,
    settle: float = 30,
    max_pending: int | None = 32,
) -> float:
    """Open `conns` at `rate` per second from now, at most `max_pending` handshakes (up to the snapshot)
    in flight; wait until each has its first frame (or failed). Returns the wall time the ramp took.

    The cap keeps a slower server from queueing handshakes past daphne's 5 s connect timeout: when it
    binds, the wait shows in `connect_latency` (from the intended time), not as failures."""
    start = time.time() + 0.05
    for position, conn in enumerate(conns):
        conn.intended = start + position / rate
    gate = asyncio.Semaphore(max_pending) if max_pending else None
    await asyncio.gather(*(_open(base, c, on_frame, timeout, gate) for c in conns))
    deadline = time.time() + settle
    while time.time() < deadline and any(c.ws is not None and c.first_frame is None and not c.error for c in conns):
        await asyncio.sleep(0.05)
    return time.time() - start


async def close_all(conns: list[Conn], *, concurrency: int = 50, timeout: float = 30) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def close(conn: Conn) -> None:
        conn.closed = True
        if conn.ws is None:
            return
        async with semaphore:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 3)
        if conn.reader is not None:
            conn.reader.cancel()

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(close(c) for c in conns)), timeout)
    for conn in conns:
        if conn.ws is not None and conn.ws.transport is not None:
            conn.ws.transport.abort()


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()
