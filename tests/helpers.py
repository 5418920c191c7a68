"""Shared test helpers: signed-in websocket communicators and policy seeding."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.utils.module_loading import import_string

# A page of the site: realtime/origin.py checks the port too (REALTIME_ORIGIN_PORT reads PORT).
ORIGIN = (b"origin", f"http://localhost:{os.environ.get('PORT', '8000')}".encode())


def session_for(user: Any, **data: Any) -> Any:
    """A saved session in which `user` is logged in, as the login view would leave it."""
    engine = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    session = engine()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    for key, value in data.items():
        session[key] = value
    session.save()
    assert not isinstance(session, CacheSessionStore) or session.session_key
    return session


def communicator(
    path: str, *, session: Any = None, origin: tuple[bytes, bytes] | None = ORIGIN
) -> WebsocketCommunicator:
    from project.asgi import application

    headers = []
    if origin is not None:
        headers.append(origin)
    if session is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until(comm: WebsocketCommunicator, frame_type: str, timeout: float = 5) -> dict[str, Any]:
    """Receive frames until one of `frame_type` arrives; return it."""
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame.get("type") == frame_type:
            return frame


async def receive_event(comm: WebsocketCommunicator, event: str, timeout: float = 5) -> dict[str, Any]:
    """Receive frames until an `event` frame of type `event` arrives; return it."""
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame.get("type") == "event" and frame.get("event") == event:
            return frame


async def settle_tasks(timeout: float = 2) -> set[asyncio.Task[Any]]:
    """Stop the process fan-out's reader the way production does (realtime/fanout.py), cancel
    every other task of this loop and wait for them; return those still pending after `timeout`."""
    from realtime.fanout import close_all

    await close_all()
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    if not tasks:
        return set()
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    return pending
