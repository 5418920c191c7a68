"""/healthz and /readyz report the parts for real."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from realtime.redis import get_sync_redis
from workers.heartbeat import HEARTBEAT_PREFIX

pytestmark = pytest.mark.django_db


def test_healthz_is_503_until_both_worker_pools_beat() -> None:
    client = Client()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"] and body["checks"]["database"]["pgvector"]
    assert body["checks"]["redis"]["ok"]
    assert body["checks"]["workers"] == {
        "worker": {"ok": False, "hosts": []},
        "worker-ai": {"ok": False, "hosts": []},
    }
    redis = get_sync_redis()
    redis.set(f"{HEARTBEAT_PREFIX}default@h", json.dumps({"hostname": "default@h", "queues": ["beat", "default"]}))
    redis.set(f"{HEARTBEAT_PREFIX}ai@h", json.dumps({"hostname": "ai@h", "queues": ["ai"]}))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"]["worker-ai"] == {"ok": True, "hosts": ["ai@h"]}


def test_readyz_says_ready_when_migrated() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "migrations": "applied"}
