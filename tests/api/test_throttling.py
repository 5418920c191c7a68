"""/api/v1 is rate limited per person and, before authentication, per client address; over the
limit it answers 429 in the API's one error shape with Retry-After. CORS is for listed origins only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from domains.accounts.models import Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _calls(client: Client, count: int, **extra: Any) -> list[int]:
    return [client.get("/api/v1/notifications/unread-count", **extra).status_code for _ in range(count)]


def test_a_signed_in_person_is_limited_per_hour_and_told_when_to_retry(client: Client, settings: Any) -> None:
    settings.API_RATE_USER_PER_HOUR = 3
    user = MembershipFactory.create(role=Role.LEARNER).user
    client.force_login(user)
    assert _calls(client, 3) == [200, 200, 200]
    refused = client.get("/api/v1/notifications/unread-count")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json() == {"detail": refused.json()["detail"], "errors": []}
    # another person has a budget of their own
    other = Client()
    other.force_login(MembershipFactory.create(role=Role.LEARNER).user)
    assert _calls(other, 1) == [200]


def test_calls_without_a_session_are_limited_per_address_before_they_are_refused(settings: Any) -> None:
    settings.API_RATE_ANON_PER_HOUR = 2
    visitor = Client(REMOTE_ADDR="203.0.113.7")
    assert _calls(visitor, 3) == [401, 401, 429]
    assert _calls(Client(REMOTE_ADDR="203.0.113.8"), 1) == [401]  # another address: its own budget
    # a forged X-Forwarded-For does not buy a new budget (no TRUSTED_PROXIES: the peer address counts)
    assert _calls(visitor, 1, HTTP_X_FORWARDED_FOR="198.51.100.1") == [429]


def test_the_schema_declares_429_for_every_operation(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert operations
    assert all("429" in op["responses"] for op in operations)


def test_zero_turns_a_limit_off(client: Client, settings: Any) -> None:
    settings.API_RATE_USER_PER_HOUR = 0
    client.force_login(MembershipFactory.create(role=Role.LEARNER).user)
    assert set(_calls(client, 5)) == {200}


def test_cors_answers_only_listed_origins_and_only_on_the_api(client: Client, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.test"]
    method = "GET"
    allowed = client.options(
        "/api/v1/notifications", HTTP_ORIGIN="https://app.example.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD=method
    )
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.test"
    stranger = client.options(
        "/api/v1/notifications", HTTP_ORIGIN="https://evil.example.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD=method
    )
    assert "Access-Control-Allow-Origin" not in stranger
    page = client.get("/", HTTP_ORIGIN="https://app.example.test")
    assert "Access-Control-Allow-Origin" not in page  # pages are never shared cross-origin
