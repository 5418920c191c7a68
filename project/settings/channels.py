"""Channels: the Redis channel layer and the realtime protocol's tunables."""

from typing import Any

from project.settings.environment import REDIS_MAX_CONNECTIONS, REDIS_URL, env

# The layer (docs/decisions/0011-pubsub-layer.md): "redis-pubsub" (the default,
# RedisPubSubChannelLayer: each process subscribes once per group it follows, and messages are pushed
# to it over one connection, with no capacity to overflow), "redis" (RedisChannelLayer: per-process
# Redis lists, kept as the bench's comparison) or "inmemory" (one process only; bench baseline B3).
CHANNEL_LAYER_BACKEND = env("CHANNEL_LAYER_BACKEND", default="redis-pubsub")
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if CHANNEL_LAYER_BACKEND == "redis-pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # socket_timeout bounds a publish to a Redis that stopped answering; the subscriber polls
            # with its own 0.1 s timeout, so it never waits on this one.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": "cw-asgi"},
        }
    }
elif CHANNEL_LAYER_BACKEND == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # socket_timeout above channels-redis's own 5 s blocking read: redis-py 8's 5 s
                # default races it and kills the receive loop ("Timeout reading from …"), found by bench/.
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS, "socket_timeout": 30}],
                "prefix": "cw-asgi",
                # Per-process queue capacity. Over it, group_send drops silently (docs/stack-notes.md
                # §2); a dropped durable event is repaired by the tail check, a delta is lost.
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
elif CHANNEL_LAYER_BACKEND == "inmemory":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    raise ValueError(f"CHANNEL_LAYER_BACKEND must be redis-pubsub, redis or inmemory, not {CHANNEL_LAYER_BACKEND!r}")

# The protocol version sent in every snapshot; a client built for another version reloads.
REALTIME_PROTOCOL_VERSION = 1
# Frames larger than this (UTF-8 bytes) get `error too_big` and close the socket with 4413.
REALTIME_MAX_FRAME_BYTES = env.int("REALTIME_MAX_FRAME_BYTES", default=16 * 1024)
# JSON nested deeper than this (arrays and objects) is refused as `invalid`, before it is parsed.
REALTIME_MAX_JSON_DEPTH = env.int("REALTIME_MAX_JSON_DEPTH", default=32)
# The longest a closing socket waits for its own teardown (the presence update, and its channel
# receive to stop): well inside daphne's --application-close-timeout (10 s), which kills instances.
REALTIME_DISCONNECT_SECONDS = env.float("REALTIME_DISCONNECT_SECONDS", default=3.0)
# The Origins (scheme://host[:port]) whose pages may open a socket; the handshake compares scheme,
# host and port (realtime/origin.py). Empty, the default, derives them: every CSRF_TRUSTED_ORIGINS
# entry, plus each ALLOWED_HOSTS entry as https://<host> where the session cookie is Secure
# (production) or as http://<host>:<REALTIME_ORIGIN_PORT> where it is not (make run, tests).
REALTIME_ALLOWED_ORIGINS: list[str] = env.list("REALTIME_ALLOWED_ORIGINS", default=[])
# The port pages are served on without TLS: the one daphne listens on (`make run` exports PORT).
REALTIME_ORIGIN_PORT = env.int("PORT", default=8000)
# Durable-event retention per stream: the newest N events, none older than the age.
REALTIME_RETENTION_EVENTS = env.int("REALTIME_RETENTION_EVENTS", default=1000)
REALTIME_RETENTION_SECONDS = env.int("REALTIME_RETENTION_SECONDS", default=24 * 3600)
REALTIME_RETENTION_SWEEP_SECONDS = env.int("REALTIME_RETENTION_SWEEP_SECONDS", default=600)
# The client's heartbeat (ping) interval, sent to it in every snapshot.
REALTIME_HEARTBEAT_SECONDS = env.int("REALTIME_HEARTBEAT_SECONDS", default=25)
# Every this many seconds each process reads the heads of the streams it follows (one query) and
# replays to its sockets any durable event it never received (realtime/fanout.py, docs/realtime-
# protocol.md "Delivery"): a lost event reaches its sockets within two intervals. 0 turns it off.
REALTIME_TAIL_CHECK_SECONDS = env.float("REALTIME_TAIL_CHECK_SECONDS", default=5.0)
# A process's backlog, or a busy socket's queue, longer than this drops typing and presence frames
# (pieces of streamed text merge at any length; durable events are never dropped): realtime/pressure.py.
REALTIME_PRESSURE_QUEUE = env.int("REALTIME_PRESSURE_QUEUE", default=100)
# The token bucket for inbound socket messages, per connection.
REALTIME_RATE_CAPACITY = env.int("REALTIME_RATE_CAPACITY", default=20)
REALTIME_RATE_REFILL_PER_SECOND = env.float("REALTIME_RATE_REFILL_PER_SECOND", default=5.0)
# After this many refused messages in a row, the socket closes with 4429.
REALTIME_RATE_STRIKES = env.int("REALTIME_RATE_STRIKES", default=5)
# Ephemeral coach deltas are coalesced over this window (ARCHITECTURE 4.4).
REALTIME_COALESCE_MS = env.int("REALTIME_COALESCE_MS", default=50)
# How sockets follow their streams (docs/decisions/0006-process-fanout.md): "process" (default) joins
# each stream's group once per process and hands every message to the local sockets directly;
# "channel" joins one channel per socket (Channels' stock pattern, kept as the bench's comparison).
REALTIME_FANOUT = env("REALTIME_FANOUT", default="process")
if REALTIME_FANOUT not in ("process", "channel"):
    raise ValueError(f"REALTIME_FANOUT must be process or channel, not {REALTIME_FANOUT!r}")
# The process re-adds its channel to its groups this often, well inside the layer's group_expiry.
REALTIME_FANOUT_REFRESH_SECONDS = env.int("REALTIME_FANOUT_REFRESH_SECONDS", default=3600)
