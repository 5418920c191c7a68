"""Test infrastructure: embedded PostgreSQL + Valkey for the session (unless URLs are given).

The servers must be up before Django reads its settings, so they start in `pytest_configure`,
which runs before pytest-django sets Django up.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# The live-stack fixtures (daphne + Celery workers in subprocesses) live in tests/live.py.
pytest_plugins = ["tests.live"]

_services = None


def pytest_configure(config: pytest.Config) -> None:
    global _services
    # Not in pytest.ini on purpose: pytest-django then waits for this hook before setting Django up.
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.test"
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        from project.embedded import ensure_services

        # Each run gets its own throwaway servers, so parallel runs never share a test database.
        root = Path(tempfile.mkdtemp(prefix="coachwire-test-", dir=os.environ.get("COACHWIRE_TEST_TMP")))
        _services = ensure_services(root, throwaway=True)
    from django.conf import settings

    settings.DATABASES  # noqa: B018 - load settings now; pytest-django's trylast hook then sets Django up


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None:
        _services.stop()


@pytest.fixture(autouse=True)
def _flush_redis() -> None:
    """Each test starts with an empty Redis (rate buckets, caches, heartbeats)."""
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
