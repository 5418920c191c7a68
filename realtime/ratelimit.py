"""A Redis token bucket: socket messages per connection, AI starts per user, anything keyed.

The whole check runs as one Lua script, so concurrent processes share one bucket atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from realtime.redis import get_async_redis, get_sync_redis

_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
if now > ts then tokens = math.min(capacity, tokens + (now - ts) * rate) end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(retry)}
"""


@dataclass(frozen=True)
class Bucket:
    capacity: float
    refill_per_second: float

    @classmethod
    def per_minute(cls, limit: float) -> Bucket:
        """`limit` takes a minute, refilled evenly (a burst of `limit` at most)."""
        return cls(capacity=float(limit), refill_per_second=limit / 60)

    @classmethod
    def per_hour(cls, limit: float) -> Bucket:
        return cls(capacity=float(limit), refill_per_second=limit / 3600)

    @classmethod
    def per_day(cls, limit: float) -> Bucket:
        return cls(capacity=float(limit), refill_per_second=limit / 86400)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float


def _key(name: str) -> str:
    return f"cw:rl:{name}"


def _decision(raw: list[Any]) -> Decision:
    return Decision(allowed=int(raw[0]) == 1, retry_after=round(float(raw[1]), 3))


def take(name: str, bucket: Bucket, *, cost: float = 1, now: float | None = None) -> Decision:
    client = get_sync_redis()
    args = [bucket.capacity, bucket.refill_per_second, time.time() if now is None else now, cost]
    return _decision(client.eval(_SCRIPT, 1, _key(name), *args))


async def atake(name: str, bucket: Bucket, *, cost: float = 1, now: float | None = None) -> Decision:
    client = get_async_redis()
    args = [bucket.capacity, bucket.refill_per_second, time.time() if now is None else now, cost]
    return _decision(await client.eval(_SCRIPT, 1, _key(name), *args))
