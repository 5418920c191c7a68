"""Response headers and the monitoring endpoints: a strict Content-Security-Policy on every page in
every mode, and `/metrics` only for the bearer of METRICS_TOKEN (or in a DEBUG process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from domains.accounts.models import Membership, Role
from tests.factories import UserFactory
from tests.factories.accounts import OrganisationFactory
from tests.live import database_url_from_settings

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-monitoring-token-for-tests"
EXPECTED_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def parse_policy(header: str) -> dict[str, list[str]]:
    """`a x y; b z` → {"a": ["x", "y"], "b": ["z"]} (django-csp does not fix the directive order)."""
    policy: dict[str, list[str]] = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


def test_every_kind_of_page_carries_the_strict_policy() -> None:
    """Anonymous pages, signed-in pages, JSON endpoints and error pages all carry the same policy:
    scripts and styles from our origin only, no inline script, no eval, no framing."""
    # given a signed-in learner, and a visitor
    organisation = OrganisationFactory.create()
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=organisation, role=Role.LEARNER)
    member = Client()
    member.force_login(user)
    visitor = Client()
    # when each kind of page is fetched
    responses = {
        "/accounts/login/": visitor.get("/accounts/login/"),
        "/": member.get("/"),
        "/notes/": member.get("/notes/"),
        "/healthz": visitor.get("/healthz"),
        "/no-such-page/": visitor.get("/no-such-page/"),
    }
    # then every answer has the header, and it is exactly the strict policy
    for path, response in responses.items():
        assert "Content-Security-Policy" in response, f"{path} ({response.status_code}) has no CSP"
        policy = parse_policy(response["Content-Security-Policy"])
        assert policy == EXPECTED_POLICY, path
        assert "unsafe" not in response["Content-Security-Policy"], path


def test_metrics_need_the_bearer_token_when_one_is_set(settings: Any) -> None:
    """With METRICS_TOKEN set, /metrics answers 401 (with a Bearer challenge) to a caller without
    it or with a wrong one, and the Prometheus text to the bearer."""
    settings.METRICS_TOKEN = TOKEN
    anonymous = Client().get("/metrics")
    wrong = Client(HTTP_AUTHORIZATION="Bearer not-the-token").get("/metrics")
    basic = Client(HTTP_AUTHORIZATION=f"Basic {TOKEN}").get("/metrics")
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get("/metrics")

    for refused in (anonymous, wrong, basic):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert b"django_http_requests" not in refused.content
    assert bearer.status_code == 200
    assert bearer["Content-Type"].startswith("text/plain")
    assert b"django_http_requests_total_by_method" in bearer.content


def test_metrics_without_a_token_are_served_only_by_a_debug_process(settings: Any) -> None:
    """No METRICS_TOKEN: production (DEBUG off) answers 404 to everyone; `make run` (DEBUG) serves them."""
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False
    hidden = Client(HTTP_AUTHORIZATION="Bearer ").get("/metrics")
    settings.DEBUG = True
    served = Client().get("/metrics")

    assert hidden.status_code == 404
    assert b"django_http" not in hidden.content
    assert served.status_code == 200
    assert b"django_http_requests_total_by_method" in served.content


# What a request through the production settings answers, run in a subprocess (the settings module
# is chosen at process start), against this test run's real PostgreSQL and Redis.
_PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
# The hashed-name manifest is built by collectstatic at deploy time; unhashed names do here.
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}
token = {"HTTP_AUTHORIZATION": "Bearer " + %(token)r}
answers = {}
for name, client in (("anonymous", Client()), ("bearer", Client(**token))):
    for path in ("/accounts/login/", "/metrics", "/healthz"):
        response = client.get(path, secure=True)
        answers[name + " " + path] = {
            "status": response.status_code,
            "csp": response.get("Content-Security-Policy"),
            "body": response.content.decode()[:20000],
        }
# Plain HTTP, as a scraper on the private network sends it: only the monitoring paths skip the redirect.
for path in ("/accounts/login/", "/metrics"):
    response = Client(**token).get(path)
    answers["http " + path] = {"status": response.status_code, "csp": None, "body": ""}
print(json.dumps(answers))
"""


def _production_answers(*, metrics_token: str | None) -> dict[str, dict[str, Any]]:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "METRICS_TOKEN"}}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        SECRET_KEY="x" * 64 + "-A1b2C3d4E5f6G7h8",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=database_url_from_settings(),
        REDIS_URL=settings.REDIS_URL,
        SITE_DOMAIN="coachwire.example",
        DATABASE_POOL="false",
    )
    if metrics_token is not None:
        env["METRICS_TOKEN"] = metrics_token
    script = _PRODUCTION_PROBE % {"token": TOKEN}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answers: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def test_production_settings_send_the_policy_and_guard_metrics_and_health_details() -> None:
    """Under the production settings: the login page carries the strict policy; without a token
    /metrics is 404 for everyone; with one, only its bearer gets the metrics and /healthz details."""
    # given production settings without a token, then with one
    without = _production_answers(metrics_token=None)
    with_token = _production_answers(metrics_token=TOKEN)

    # then the pages carry the policy
    login = without["anonymous /accounts/login/"]
    assert login["status"] == 200
    assert parse_policy(login["csp"]) == EXPECTED_POLICY
    # and /metrics is hidden without a token, guarded with one
    assert without["anonymous /metrics"]["status"] == 404
    assert without["bearer /metrics"]["status"] == 404
    assert with_token["anonymous /metrics"]["status"] == 401
    assert with_token["bearer /metrics"]["status"] == 200
    assert "django_http_requests_total_by_method" in with_token["bearer /metrics"]["body"]
    # and a scraper's plain-HTTP request is not redirected to HTTPS, though pages are
    assert with_token["http /metrics"]["status"] == 200
    assert with_token["http /accounts/login/"]["status"] == 301
    # and /healthz names no worker pool's hosts except to the bearer (no worker beats here: 503)
    for answers in (without, with_token):
        anonymous = json.loads(answers["anonymous /healthz"]["body"])
        assert answers["anonymous /healthz"]["status"] == 503
        assert anonymous["checks"]["workers"]["worker"] == {"ok": False}
        assert "pgvector" not in anonymous["checks"]["database"]
    detailed = json.loads(with_token["bearer /healthz"]["body"])
    assert detailed["checks"]["workers"]["worker"] == {"ok": False, "hosts": []}
    assert detailed["checks"]["database"]["pgvector"]
