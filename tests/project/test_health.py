"""/healthz and /readyz report the parts for real; /healthz's details are for operators only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from realtime.redis import get_sync_redis
from tests.factories import UserFactory
from workers.heartbeat import HEARTBEAT_PREFIX

pytestmark = pytest.mark.django_db

TOKEN = "a-monitoring-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
STATUS_ONLY_DOWN = {
    "database": {"ok": True},
    "redis": {"ok": True},
    "workers": {"worker": {"ok": False}, "worker-ai": {"ok": False}},
}


def beat_both_pools() -> None:
    redis = get_sync_redis()
    redis.set(f"{HEARTBEAT_PREFIX}default@h", json.dumps({"hostname": "default@h", "queues": ["beat", "default"]}))
    redis.set(f"{HEARTBEAT_PREFIX}ai@h", json.dumps({"hostname": "ai@h", "queues": ["ai"]}))


def test_healthz_is_503_until_both_worker_pools_beat(settings: Any) -> None:
    """With the token, /healthz details every part; it is 503 until a worker of each pool beats."""
    settings.METRICS_TOKEN = TOKEN
    client = Client(headers=BEARER)
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["database"]["pgvector"]
    assert body["checks"]["redis"]["ok"]
    assert body["checks"]["workers"] == {
        "worker": {"ok": False, "hosts": []},
        "worker-ai": {"ok": False, "hosts": []},
    }
    beat_both_pools()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"]["worker-ai"] == {"ok": True, "hosts": ["ai@h"]}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_anonymous_healthz_answers_status_only(settings: Any, authorization: str | None) -> None:
    """Without the right bearer token, /healthz says which parts are ok and nothing else: no worker
    hostnames, latencies or versions. The status code is still the real one (503, then 200)."""
    # given a token is configured, and a caller without it
    settings.METRICS_TOKEN = TOKEN
    client = Client(headers={"Authorization": authorization} if authorization else {})
    # when the workers are down, then up
    down = client.get("/healthz")
    beat_both_pools()
    up = client.get("/healthz")
    # then each answer carries ok booleans only
    assert down.status_code == 503
    assert down.json() == {"ok": False, "checks": STATUS_ONLY_DOWN}
    assert up.status_code == 200
    assert up.json() == {
        "ok": True,
        "checks": {
            "database": {"ok": True},
            "redis": {"ok": True},
            "workers": {"worker": {"ok": True}, "worker-ai": {"ok": True}},
        },
    }
    assert "ai@h" not in up.content.decode()


def test_without_a_token_only_a_debug_process_shows_the_details(settings: Any) -> None:
    """No token configured: production (DEBUG off) shows every caller the status only, even one
    sending an empty bearer; `make run` (DEBUG, on loopback) shows the developer everything."""
    settings.METRICS_TOKEN = ""
    beat_both_pools()
    settings.DEBUG = False
    production = Client(HTTP_AUTHORIZATION="Bearer ").get("/healthz")
    settings.DEBUG = True
    development = Client().get("/healthz")

    assert production.status_code == development.status_code == 200
    assert production.json()["checks"]["workers"]["worker"] == {"ok": True}
    assert development.json()["checks"]["workers"]["worker"] == {"ok": True, "hosts": ["default@h"]}
    assert development.json()["checks"]["redis"]["ms"] >= 0


def test_a_platform_operator_sees_the_details(settings: Any) -> None:
    """A signed-in superuser (a platform operator) gets the details without a token; organisation
    staff (is_staff without superuser) do not."""
    settings.METRICS_TOKEN = TOKEN
    beat_both_pools()
    operator = Client()
    operator.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    staff = Client()
    staff.force_login(UserFactory.create(is_staff=True))

    assert operator.get("/healthz").json()["checks"]["workers"]["worker"] == {"ok": True, "hosts": ["default@h"]}
    assert staff.get("/healthz").json()["checks"]["workers"]["worker"] == {"ok": True}


def test_readyz_says_ready_when_migrated() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "migrations": "applied"}
