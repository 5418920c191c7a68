"""Redis clients for the realtime layer: one async client per event loop, pools sized explicitly."""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis
from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def get_async_redis() -> aioredis.Redis:
    """An asyncio client bound to the running loop (clients cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # Blocking: a burst (a thousand sockets closing at once) waits for a connection instead of
        # failing at once with MaxConnectionsError, redis-py 8's default (docs/stack-notes.md §1).
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=settings.REDIS_MAX_CONNECTIONS, timeout=10
        )
        client = aioredis.Redis(connection_pool=pool)
        _clients[loop] = client
    return client


def get_sync_redis() -> Redis:
    """The cache's pooled client, for sync code (services, tasks, views)."""
    return get_redis_connection("default")
