"""`/healthz` (is every part up?) and `/readyz` (may this process take traffic?).

`/healthz` answers everyone with the status of each part (`ok` booleans only). The details (worker
hostnames, latencies, the pgvector version, error names) go only to platform operators (superusers)
and to the bearer of the monitoring token (`METRICS_TOKEN`, project/metrics.py), or to anyone in a
DEBUG process without a token. The status code (200/503) is the same for every caller.
"""

from __future__ import annotations

import json
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse

from project.metrics import monitoring_open, monitoring_token_sent
from realtime.redis import get_async_redis
from workers.heartbeat import HEARTBEAT_PREFIX, WORKER_POOLS


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "pgvector": row[0] if row else None}


def _migrations_applied() -> bool:
    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


async def _redis_and_workers() -> tuple[dict[str, Any], dict[str, Any]]:
    client = get_async_redis()
    started = time.perf_counter()
    await client.ping()
    redis_status = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    beats: dict[str, dict[str, Any]] = {}
    async for key in client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
        raw = await client.get(key)
        if raw:
            beat = json.loads(raw)
            beats[beat["hostname"]] = beat
    workers = {}
    for pool, queue in WORKER_POOLS.items():
        alive = sorted(name for name, beat in beats.items() if queue in beat.get("queues", []))
        workers[pool] = {"ok": bool(alive), "hosts": alive}
    return redis_status, workers


async def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {}
    try:
        checks["database"] = await sync_to_async(_database)()
    except Exception as error:  # noqa: BLE001 - a health check reports, it does not raise
        checks["database"] = {"ok": False, "error": type(error).__name__}
    try:
        checks["redis"], checks["workers"] = await _redis_and_workers()
    except Exception as error:  # noqa: BLE001
        checks["redis"] = {"ok": False, "error": type(error).__name__}
        checks["workers"] = {pool: {"ok": False, "hosts": []} for pool in WORKER_POOLS}
    ok = checks["database"]["ok"] and checks["redis"]["ok"] and all(w["ok"] for w in checks["workers"].values())
    if not await _may_see_details(request):
        checks = _status_only(checks)
    return JsonResponse({"ok": ok, "checks": checks}, status=200 if ok else 503)


async def _may_see_details(request: HttpRequest) -> bool:
    if monitoring_open() or monitoring_token_sent(request):
        return True
    try:
        user = await request.auser()
    except Exception:  # noqa: BLE001 - the session store may be the part that is down: report, not raise
        return False
    return bool(user.is_active and user.is_superuser)


def _status_only(checks: dict[str, Any]) -> dict[str, Any]:
    """The same shape, with every part reduced to its `ok`: nothing that names or fingerprints a host."""
    return {
        "database": {"ok": checks["database"]["ok"]},
        "redis": {"ok": checks["redis"]["ok"]},
        "workers": {pool: {"ok": status["ok"]} for pool, status in checks["workers"].items()},
    }


async def readyz(request: HttpRequest) -> JsonResponse:
    try:
        migrated = await sync_to_async(_migrations_applied)()
        await get_async_redis().ping()
    except Exception as error:  # noqa: BLE001
        return JsonResponse({"ready": False, "error": type(error).__name__}, status=503)
    body = {"ready": migrated, "migrations": "applied" if migrated else "pending"}
    return JsonResponse(body, status=200 if migrated else 503)
