"""The two profiles. `quick` (make bench) fits in 10 minutes on 2 cores; `full` runs every variant."""

from __future__ import annotations

from typing import Any

# The shipped defaults: daphne, the pub/sub channel layer (docs/decisions/0011), the process fan-out.
DAPHNE = {"name": "daphne", "server": "daphne", "layer": "redis-pubsub", "coalesce_ms": 50}
# S2: one connect phase, then a stream per coalescing window (only worker-ai restarts in between).
# quick measures the default window only; full adds 0 (per-token) and 100. quick ran 9.4-11 min with
# more in it: it now keeps one index build, two S2 sizes and 8 S3 sends.
DAPHNE_WINDOWS = {"name": "daphne", "server": "daphne", "layer": "redis-pubsub", "coalesce_ms": 50, "windows": [50]}
DAPHNE_WINDOWS_FULL = dict(DAPHNE_WINDOWS, windows=[50, 0, 100])
DAPHNE_C0 = {"name": "daphne per-token", "server": "daphne", "layer": "redis-pubsub", "coalesce_ms": 0}
DAPHNE_C100 = {"name": "daphne coalesce 100", "server": "daphne", "layer": "redis-pubsub", "coalesce_ms": 100}
# Channels' stock pattern, one channel per socket in each group (REALTIME_FANOUT=channel): the
# comparison for the process fan-out that every other target uses (docs/decisions/0006).
DAPHNE_CHANNEL = {
    "name": "daphne per-socket channels",
    "server": "daphne",
    "layer": "redis-pubsub",
    "coalesce_ms": 50,
    "fanout": "channel",
}
UVICORN = {"name": "uvicorn", "server": "uvicorn", "layer": "redis-pubsub", "coalesce_ms": 50}
# The layer that was the default until ADR 0011: RedisChannelLayer, per-process lists with a capacity.
CORE_LAYER = {"name": "daphne core layer", "server": "daphne", "layer": "redis", "coalesce_ms": 50}
B3 = {"name": "B3 inmemory", "server": "daphne", "layer": "inmemory", "coalesce_ms": 50, "baseline": "B3"}
# Connect pacing: daphne's lounge sockets sustained ~30-50 connects/s here (each builds a snapshot in the one
# database thread, docs/stack-notes.md §17); daphne drops a handshake not accepted within 5 s, so we stay under that.
for _target in (
    DAPHNE,
    DAPHNE_CHANNEL,
    UVICORN,
    CORE_LAYER,
    B3,
    DAPHNE_C0,
    DAPHNE_C100,
    DAPHNE_WINDOWS,
    DAPHNE_WINDOWS_FULL,
):
    _target["rate"] = 40
B1 = {"name": "B1 bare ASGI", "server": "b1", "coalesce_ms": 50, "baseline": "B1", "rate": 400}
B1_C0 = {"name": "B1 bare ASGI per-token", "server": "b1", "coalesce_ms": 0, "baseline": "B1", "rate": 400}
B1_C100 = {"name": "B1 bare ASGI coalesce 100", "server": "b1", "coalesce_ms": 100, "baseline": "B1", "rate": 400}

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "B2": {"messages": 20000, "shapes": [(1, 1), (1, 100), (4, 1)]},
        "S1": {
            "targets": [DAPHNE, B1],
            "levels": [1000, 2000],
            "rate": 400,
            "per_lounge": 100,
            "per_user": 10,
            "idle_seconds": 4,
        },
        "S2": {
            "targets": [DAPHNE_WINDOWS, CORE_LAYER, B1],
            # The two sizes the issue names; the full profile adds (10, 20), a scaled-down size that
            # shows where one daphne still delivers everything.
            "shapes": [(50, 20), (10, 100)],
            "tokens": 200,
            "tps": 50,
            "rate": 300,
            "second_shape_targets": ["daphne", "B1 bare ASGI"],
        },
        "S3": {
            "targets": [DAPHNE, DAPHNE_CHANNEL, B3, B1],
            "sockets": 1000,
            "per_user": 10,
            "sends": 8,
            "interval": 1.0,
            "rate": 300,
        },
        # S4: 500 candidates connect at the target's 40/s (~13 s), autosave every 5 s for 20 s (4 saves
        # each, ~100 saves/s); 25 of them pass their deadline 10 s in and keep saving. Then the raw
        # psycopg baseline, the same writes at the same rate for 10 s. Budget: 90 s in all.
        "S4": {
            "target": DAPHNE,
            "sockets": 500,
            "interval": 5.0,
            "seconds": 20,
            "late_sessions": 25,
            "late_at": 10,
            "raw_seconds": 10,
            "raw_connections": 4,
        },
        "S6": {
            "chunks": 100_000,
            "k": 10,
            "queries": 200,
            "filtered_queries": 60,
            "exact_queries": 10,
            "builds": [(16, 128)],  # the default; full also builds (16, 64)
            "ef_search": [100, 200, 400],
        },
    },
    "full": {
        "B2": {"messages": 50000, "shapes": [(1, 1), (1, 100), (4, 1), (4, 100)]},
        "S1": {
            # B3 (one process, in-memory layer) separates Redis from dispatch; idle sockets send
            # nothing, so it belongs to S2/S3, not here.
            "targets": [DAPHNE, UVICORN, B1],
            "levels": [1000, 2000, 5000, 10000],
            "rate": 400,
            "per_lounge": 100,
            "per_user": 10,
            "idle_seconds": 10,
        },
        "S2": {
            "targets": [DAPHNE_WINDOWS_FULL, DAPHNE_CHANNEL, UVICORN, CORE_LAYER, B1, B1_C0, B1_C100],
            "shapes": [(50, 20), (10, 100), (10, 20)],
            "tokens": 500,
            "tps": 50,
            "rate": 300,
            "second_shape_targets": [
                "daphne",
                "daphne per-socket channels",
                "uvicorn",
                "daphne core layer",
                "B1 bare ASGI",
            ],
        },
        "S3": {
            "targets": [DAPHNE, DAPHNE_CHANNEL, UVICORN, CORE_LAYER, B3, B1],
            "sockets": 1000,
            "per_user": 10,
            "sends": 30,
            "interval": 1.0,
            "rate": 300,
        },
        "S4": {
            "target": DAPHNE,
            "sockets": 1000,
            "interval": 5.0,
            "seconds": 60,
            "late_sessions": 50,
            "late_at": 30,
            "raw_seconds": 60,
            "raw_connections": 4,
        },
        "S6": {
            "chunks": 100_000,
            "k": 10,
            "queries": 1000,
            "filtered_queries": 300,
            "exact_queries": 50,
            "builds": [(16, 64), (16, 128), (32, 128)],
            "ef_search": [40, 100, 200, 400],
        },
    },
}
