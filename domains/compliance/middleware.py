"""Send signed-in users who have not accepted the current policies to the consent page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import sync_and_async_middleware
from django.utils.http import url_has_allowed_host_and_scheme

from domains.compliance.services import consent_missing, policy_current_ids

# Paths a person must reach without consenting: the consent page itself, the policies,
# logging out, health checks, static files, the admin and the API (which answers on its own).
_EXEMPT_PREFIXES = (
    "/consent/",
    "/policies/",
    "/accounts/logout/",
    "/healthz",
    "/readyz",
    "/static/",
    "/metrics",
    "/admin/",
    "/api/",
)
SESSION_KEY = "consented_policy_ids"
# A social provider's return (allauth: /accounts/google/login/callback/,
# /accounts/oidc/<id>/login/callback/): it carries a one-time code, which must not travel on as a
# `next` address through the consent page; the callback finishes and the next page asks instead.
_PROVIDER_CALLBACK = re.compile(r"^/accounts/(?:[a-z0-9_-]+/)+login/callback/$")


def consent_redirect(request: HttpRequest) -> HttpResponse | None:
    """A redirect to the consent page when it is needed, else None. Cheap on the common path:
    the current policy ids are cached, and what the session already accepted is remembered."""
    user = request.user
    if not user.is_authenticated or request.method != "GET" or request.path.startswith(_EXEMPT_PREFIXES):
        return None
    if _PROVIDER_CALLBACK.match(request.path):
        return None
    current = policy_current_ids()
    if request.session.get(SESSION_KEY) == current:
        return None
    if consent_missing(user=user):
        target = request.get_full_path()
        next_part = f"?next={target}" if url_has_allowed_host_and_scheme(target, allowed_hosts=None) else ""
        return redirect(f"{reverse('compliance:consent')}{next_part}")
    request.session[SESSION_KEY] = current
    return None


@sync_and_async_middleware
def ConsentRequiredMiddleware(  # noqa: N802 - Django middleware factory naming
    get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Any]:
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            response = await sync_to_async(consent_redirect)(request)
            return response if response is not None else await get_response(request)

        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        response = consent_redirect(request)
        return response if response is not None else get_response(request)  # type: ignore[return-value]

    return middleware
