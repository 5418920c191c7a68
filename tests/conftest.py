"""Test infrastructure: embedded PostgreSQL + Valkey for the session (unless URLs are given).

The servers must be up before Django reads its settings, so they start in `pytest_configure`,
which runs before pytest-django sets Django up.

The embedded PostgreSQL exports DATABASE_URL (the application role) and DATABASE_OWNER_URL (the
owner). This process connects as the owner (project/settings/test.py): pytest-django creates and
migrates `test_coachwire` as the owner, which starts with the application role's default privileges
from template1 (project/embedded.py). The live stack serves as the application role (tests/live.py).
"""

from __future__ import annotations

import atexit
import inspect
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.events import CapturedEvents

# The live-stack fixtures (daphne + Celery workers in subprocesses) live in tests/live.py; the
# loopback SMTP server (`smtp_server`) in tests/fakes/smtp_server.py.
pytest_plugins = ["tests.live", "tests.fakes.smtp_server"]

_services = None


def pytest_configure(config: pytest.Config) -> None:
    global _services
    if _xdist_controller(config):
        # `make test` runs two pytest-xdist workers, each starting its own servers below. The
        # controller runs no test, and must not export DJANGO_SETTINGS_MODULE: a worker inheriting
        # it would have pytest-django set Django up before its servers exist.
        return
    # Not in pytest.ini on purpose: pytest-django then waits for this hook before setting Django up.
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.test"
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        from project.embedded import ensure_services

        _stop_on_signals()
        # Each run gets its own throwaway servers, so parallel runs never share a test database.
        root = Path(tempfile.mkdtemp(prefix="coachwire-test-", dir=os.environ.get("COACHWIRE_TEST_TMP")))
        _services = ensure_services(root, throwaway=True)
        # pytest_unconfigure stops them; atexit too if pytest ends another way. If this process is
        # killed outright, each server's watcher stops it (project/embedded.py `_guard`).
        atexit.register(_services.stop)
    from django.conf import settings

    settings.DATABASES  # noqa: B018 - load settings now; pytest-django's trylast hook then sets Django up


def _xdist_controller(config: pytest.Config) -> bool:
    """True in the process that hands tests to pytest-xdist's workers and runs none itself."""
    return "PYTEST_XDIST_WORKER" not in os.environ and bool(getattr(config.option, "numprocesses", None))


def _stop_on_signals() -> None:
    """Ctrl-C, SIGTERM (a CI timeout) and SIGHUP end the session the way Ctrl-C does, so that
    pytest_unconfigure stops the servers; SIGINT is handled explicitly because a process started
    in the background by a script inherits it ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _services is not None:
        _services.stop()


@pytest.fixture(autouse=True)
def _flush_redis() -> None:
    """Each test starts with an empty Redis (rate buckets, caches, heartbeats) and a fresh channel
    layer: channels-redis keeps asyncio locks in the layer object, and each async test runs on its
    own event loop, so a lock a closed loop left held would break the next test's sockets."""
    from channels.layers import channel_layers
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_openapi_schema() -> Iterator[None]:
    """The API builds its schema once per process (project/api.py); a test that registers a
    notification kind changes it, so each test starts from a schema built for what it registered."""
    yield
    api_module = sys.modules.get("project.api")
    if api_module is not None:
        api_module.api.openapi_schema_forget()


@pytest.fixture
def capture_events() -> Iterator[CapturedEvents]:
    """Records every event published while the test runs, through the kernel's own publish calls
    (`realtime.publish.event_published`): durable and ephemeral, with stream, type, payload and
    `seq`, in order. A durable event is recorded when its row is written, so one from a transaction
    that later rolled back is recorded too (tests/events.py).

        services.thread_rename(thread=thread, user=owner, title="Pay")
        assert capture_events.events(thread.stream) == [{"type": "thread.renamed", "title": "Pay"}]
    """
    from realtime.publish import event_published

    captured = CapturedEvents()
    event_published.connect(captured.record, weak=False, dispatch_uid=id(captured))
    try:
        yield captured
    finally:
        event_published.disconnect(dispatch_uid=id(captured))


@pytest.fixture
async def _settle_loop() -> AsyncIterator[None]:
    """After an async test, end what it left running before pytest-asyncio closes the loop.

    Sockets a test leaves open keep channel-layer reads blocked in Redis, and a task cancelled inside
    a blocking redis-py read may never finish (redis-py #2028): the loop's teardown then waits
    forever. So: stop the process fan-out's reader the way production does (realtime/fanout.py),
    cancel the rest, and if a read still hangs, close the layer's connections under it."""
    yield
    import asyncio

    from channels.layers import get_channel_layer

    from tests.helpers import settle_tasks

    pending = await settle_tasks()
    # channels-redis keeps one connection pool per loop; close only this loop's (the publisher's
    # background loop shares the layer object).
    loop_layer = getattr(get_channel_layer(), "_layers", {}).get(asyncio.get_running_loop())
    if pending and loop_layer is not None:
        await loop_layer.flush()
        await asyncio.wait(pending, timeout=5)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.fixturenames.append("_settle_loop")  # type: ignore[attr-defined]
        if "live_stack" in getattr(item, "fixturenames", ()):
            # Under `--dist loadgroup` (`make test`) every live-stack test runs on one worker, so
            # only one daphne and one set of Celery workers start.
            item.add_marker(pytest.mark.xdist_group("live"))


@pytest.fixture(autouse=True)
def _force_login_records_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Client.force_login` skips allauth's sign-in, where a real session gets its `UserSession`
    row (device, address, last seen: /accounts/sessions/) and is marked fresh. Do what that sign-in
    does, so a test's first request costs what a signed-in person's request costs (the query-count
    tests) and its session is listed like a real one."""
    from django.test import Client, RequestFactory
    from django.test.client import ClientMixin

    original = ClientMixin.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        from allauth.usersessions.models import UserSession

        from domains.accounts.middleware import session_seen_mark

        session = self.session
        if session.session_key:
            # The request this client's next call makes: its address and agent, resolved the way
            # allauth resolves them at a real sign-in (domains.common.client_ip).
            request = RequestFactory().get("/")
            request.META.update(self.defaults)
            request.user = user
            request.session = session
            UserSession.objects.create_from_request(request)
            session_seen_mark(session.session_key)

    monkeypatch.setattr(ClientMixin, "force_login", force_login)
