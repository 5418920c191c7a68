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
