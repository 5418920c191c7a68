"""Worker heartbeats in Redis: each worker writes a short-lived key; /healthz reads them.

Cheaper and more direct than a broadcast `ping` to every worker on each health check.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import structlog

log = structlog.get_logger(__name__)

HEARTBEAT_PREFIX = "cw:worker-heartbeat:"
# /healthz reports a pool as up when some worker consumes its queue.
WORKER_POOLS = {"worker": "default", "worker-ai": "ai"}

_stop = threading.Event()


def _queues(consumer: Any) -> list[str]:
    try:
        return sorted(consumer.app.amqp.queues.consume_from)
    except AttributeError:
        return []


def heartbeat_start(sender: Any) -> None:
    from django.conf import settings

    from realtime.redis import get_sync_redis

    interval = settings.WORKER_HEARTBEAT_SECONDS
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    queues = _queues(sender)

    def beat() -> None:
        client = get_sync_redis()
        while not _stop.is_set():
            payload = {"hostname": hostname, "queues": queues, "at": time.time()}
            try:
                client.set(f"{HEARTBEAT_PREFIX}{hostname}", json.dumps(payload), ex=interval * 3)
            except Exception:  # a missed beat shows up in /healthz; keep trying
                log.warning("worker.heartbeat_failed", hostname=hostname, exc_info=True)
            _stop.wait(interval)
        client.delete(f"{HEARTBEAT_PREFIX}{hostname}")

    _stop.clear()
    threading.Thread(target=beat, name="coachwire-heartbeat", daemon=True).start()


def heartbeat_stop() -> None:
    _stop.set()
