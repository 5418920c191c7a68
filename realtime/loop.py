"""One background event loop per process for sending to the channel layer from sync code.

`async_to_sync(layer.group_send)` from a thread with no loop (a Celery worker, a view) builds a
fresh event loop per call, and channels-redis then builds a fresh connection pool per loop. A coach
reply sends a delta every ~50 ms, so we keep one loop (and so one pool) per process instead.
Fork-safe: a child process starts its own loop on first use.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or not _loop.is_running():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="coachwire-publisher-loop", daemon=True).start()
            started.wait(5)
            _loop, _pid = loop, os.getpid()
        return _loop


def run_sync(coroutine: Coroutine[Any, Any, T], *, timeout: float = 10) -> T:
    """Run `coroutine` on the process's background loop and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, _background_loop()).result(timeout)
