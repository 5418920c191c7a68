"""Binds `request.organisation` and `request.roles` from the session on every request, and shows times
in the signed-in person's own time zone (their account settings)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.decorators import sync_and_async_middleware

from domains.accounts.http import OrganisationRequest
from domains.accounts.selectors import ORGANISATION_SESSION_KEY, organisations_for_session, roles_for_user


def bind_organisation(request: HttpRequest) -> None:
    """Two small queries for a signed-in user, none for a visitor. The organisation id comes from
    the session and is re-checked against the user's memberships, never taken from the request."""
    bound = cast(OrganisationRequest, request)
    user = request.user
    if not user.is_authenticated:
        bound.organisation = None
        bound.roles = frozenset()
        bound.organisations = []
        return
    organisation, bound.organisations = organisations_for_session(
        user=user, organisation_id=request.session.get(ORGANISATION_SESSION_KEY)
    )
    if organisation is not None and request.session.get(ORGANISATION_SESSION_KEY) != organisation.pk:
        request.session[ORGANISATION_SESSION_KEY] = organisation.pk
    bound.organisation = organisation
    bound.roles = roles_for_user(user=user, organisation=organisation)


def activate_time_zone(request: HttpRequest) -> None:
    """Templates and forms render times in the person's time zone; visitors, and a zone name the
    platform no longer knows, get UTC. Called in the request's own context (async or not)."""
    user = request.user
    name = getattr(user, "time_zone", "") if user.is_authenticated else ""
    try:
        zone = ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        timezone.deactivate()
    else:
        timezone.activate(zone)


@sync_and_async_middleware
def ActiveOrganisationMiddleware(  # noqa: N802 - Django middleware factory naming
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            await sync_to_async(bind_organisation)(request)
            activate_time_zone(request)
            return await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        bind_organisation(request)
        activate_time_zone(request)
        return get_response(request)  # type: ignore[return-value]

    return middleware


def session_seen(request: HttpRequest) -> None:
    """Keep the session's `UserSession` row (device, address, last seen: /accounts/sessions/)
    current, at most once every USERSESSIONS_SEEN_EVERY_SECONDS per session.

    allauth's own UserSessionsMiddleware writes the row on every signed-in request (a savepoint, a
    read and a write: three queries on every page and API call). Here a Redis `add` decides, so
    most requests cost no query; "last seen" is then accurate to that interval. A request whose
    client address is unknown is not tracked (allauth would refuse it outright)."""
    from allauth.usersessions.models import UserSession
    from django.conf import settings
    from django.core.cache import cache

    from domains.common.client_ip import client_ip

    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key or not request.user.is_authenticated or client_ip(request) is None:
        return
    every = settings.USERSESSIONS_SEEN_EVERY_SECONDS
    if every > 0 and not cache.add(session_seen_key(key), 1, timeout=every):
        return
    UserSession.objects.create_from_request(request)


def session_seen_key(session_key: str) -> str:
    """The Redis key that says a session's row is fresh (set for USERSESSIONS_SEEN_EVERY_SECONDS)."""
    return f"usersessions:seen:{session_key}"


def session_seen_mark(session_key: str) -> None:
    """The row was just written (at sign-in, by allauth): the next requests need not refresh it."""
    from django.conf import settings
    from django.core.cache import cache

    every = settings.USERSESSIONS_SEEN_EVERY_SECONDS
    if every > 0:
        cache.set(session_seen_key(session_key), 1, timeout=every)


@sync_and_async_middleware
def SessionActivityMiddleware(  # noqa: N802 - Django middleware factory naming
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            await sync_to_async(session_seen)(request)
            return await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        session_seen(request)
        return get_response(request)  # type: ignore[return-value]

    return middleware
