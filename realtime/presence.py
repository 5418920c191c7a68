"""Who is in a stream now, in Redis: a count of open sockets per user, and an expiry per user.

Ephemeral by design (ARCHITECTURE §4.2): joins and leaves are broadcast as ephemeral events, and a
snapshot reads the current set. A process that dies without cleaning up leaves entries that expire
after `ttl` seconds unless a heartbeat refreshes them.
"""

from __future__ import annotations

import time
from typing import Any

from realtime.redis import get_async_redis


def _keys(stream: str) -> tuple[str, str]:
    return f"cw:presence:{stream}:count", f"cw:presence:{stream}:seen"


async def presence_enter(stream: str, user_id: int, *, ttl: float) -> bool:
    """Count one more socket of `user_id`; True when it is their first (they just arrived)."""
    count_key, seen_key = _keys(stream)
    client = get_async_redis()
    async with client.pipeline(transaction=True) as pipe:
        pipe.hincrby(count_key, str(user_id), 1)
        pipe.zadd(seen_key, {str(user_id): time.time() + ttl})
        count, _ = await pipe.execute()
    return int(count) == 1


async def presence_touch(stream: str, user_id: int, *, ttl: float) -> None:
    _, seen_key = _keys(stream)
    await get_async_redis().zadd(seen_key, {str(user_id): time.time() + ttl})


async def presence_leave(stream: str, user_id: int) -> bool:
    """Count one socket fewer; True when it was their last (they left)."""
    count_key, seen_key = _keys(stream)
    client = get_async_redis()
    count = int(await client.hincrby(count_key, str(user_id), -1))
    if count <= 0:
        async with client.pipeline(transaction=True) as pipe:
            pipe.hdel(count_key, str(user_id))
            pipe.zrem(seen_key, str(user_id))
            await pipe.execute()
        return True
    return False


def presence_user_ids(stream: str) -> list[int]:
    """The users present now (sync, for snapshots built in the database thread)."""
    from realtime.redis import get_sync_redis

    _, seen_key = _keys(stream)
    members: list[Any] = get_sync_redis().zrangebyscore(seen_key, time.time(), "+inf")
    return [int(member) for member in members]
