"""Binds `request.organisation` and `request.roles` from the session on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from domains.accounts.http import OrganisationRequest
from domains.accounts.selectors import ORGANISATION_SESSION_KEY, organisation_for_session, roles_for_user


def bind_organisation(request: HttpRequest) -> None:
    """Two small queries for a signed-in user, none for a visitor. The organisation id comes from
    the session and is re-checked against the user's memberships, never taken from the request."""
    bound = cast(OrganisationRequest, request)
    user = request.user
    if not user.is_authenticated:
        bound.organisation = None
        bound.roles = frozenset()
        return
    organisation = organisation_for_session(user=user, organisation_id=request.session.get(ORGANISATION_SESSION_KEY))
    if organisation is not None and request.session.get(ORGANISATION_SESSION_KEY) != organisation.pk:
        request.session[ORGANISATION_SESSION_KEY] = organisation.pk
    bound.organisation = organisation
    bound.roles = roles_for_user(user=user, organisation=organisation)


@sync_and_async_middleware
def ActiveOrganisationMiddleware(  # noqa: N802 - Django middleware factory naming
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            await sync_to_async(bind_organisation)(request)
            return await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        bind_organisation(request)
        return get_response(request)  # type: ignore[return-value]

    return middleware
