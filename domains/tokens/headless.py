"""Our layer over allauth's headless app client (/_allauth/app/v1/, project/urls.py mounts these
paths before allauth's own, so these win).

- `auth/login` and `tokens/refresh` take a per-address token bucket first (TOKENS_LOGIN_PER_MINUTE,
  TOKENS_REFRESH_PER_MINUTE): allauth limits logins (ACCOUNT_RATE_LIMITS "login", "login_failed")
  but nothing limits refreshes. Every 429 from these paths carries `Retry-After`.
- Sign-up is refused for app clients: allauth's headless sign-up form is its base form, without
  our display name, consent to the current policies or the sign-up organisation's policy
  (`domains.accounts.forms.SignupForm`). People sign up on the web page, then sign in from the
  app. The social sign-up paths (`auth/provider/signup`, and `auth/provider/token`, which signs up
  silently) are refused for the same reason.

- Every app-client view gets a fresh lazy `request.user` first (`fresh_user`): django-structlog's
  RequestMiddleware replaces `request.user` with a lazy object that returns the user it already
  read (anonymous, for a request without a cookie), so allauth's switch to the token's session
  (`authkit.authentication_context`, which re-evaluates the lazy user) still saw nobody, and every
  authenticated headless call (GET/DELETE auth/session, password change, …) answered 401.

Answers are in allauth's headless shape: `{"status": <code>, "errors": [{"message", "code"}]}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from math import ceil
from typing import Any

from allauth.headless.account.views import LoginView
from allauth.headless.constants import Client
from allauth.headless.tokens.views import RefreshTokenView
from django.conf import settings
from django.contrib.auth.middleware import get_user
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from domains.common.client_ip import client_ip
from realtime.ratelimit import Bucket, take

# allauth's own limits answer 429 without Retry-After; theirs count per minute (login 30/m/ip,
# login_failed 10/m/ip), so a minute is the least a client must wait.
ALLAUTH_RETRY_AFTER_SECONDS = 60

View = Callable[..., HttpResponseBase]


def headless_error(status: int, message: str, code: str, *, retry_after: float | None = None) -> JsonResponse:
    response = JsonResponse({"status": status, "errors": [{"message": message, "code": code}]}, status=status)
    add_never_cache_headers(response)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, ceil(retry_after)))
    return response


def fresh_user(view: View) -> View:
    """`view` with `request.user` lazily read from `request.session` again, as Django's
    AuthenticationMiddleware sets it (see the module docstring: django-structlog's stand-in returns
    the user it already read, whatever session allauth swaps in)."""

    @csrf_exempt
    @wraps(view)
    def fresh(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if hasattr(request, "_cached_user"):
            del request._cached_user
        request.user = SimpleLazyObject(lambda: get_user(request))  # type: ignore[assignment]
        return view(request, *args, **kwargs)

    return fresh


def rate_limited(view: View, *, name: str, setting: str) -> View:
    """`view` behind a per-address bucket of `settings.<setting>` POSTs a minute (0: off)."""

    @csrf_exempt
    @wraps(view)
    def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        per_minute = int(getattr(settings, setting))
        if request.method == "POST" and per_minute > 0:
            bucket = Bucket.per_minute(per_minute)
            decision = take(f"tokens:{name}:{client_ip(request) or 'unknown'}", bucket)
            if not decision.allowed:
                return headless_error(
                    429,
                    gettext("Too many requests from this address: try again later."),
                    "rate_limited",
                    retry_after=decision.retry_after,
                )
        response = view(request, *args, **kwargs)
        if response.status_code == 429 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(ALLAUTH_RETRY_AFTER_SECONDS)
        return response

    return limited


def _explained_refusal(view: View) -> View:
    """allauth refuses an unknown, expired or used refresh token with a bare `{"status": 400}`:
    say which, in its shape (a malformed body keeps allauth's own field errors)."""

    @csrf_exempt
    @wraps(view)
    def explained(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if (
            response.status_code == 400
            and isinstance(response, JsonResponse)
            and "errors" not in json.loads(response.content)
        ):
            return headless_error(
                400,
                gettext("This refresh token is unknown, expired or already used: sign in again."),
                "invalid_refresh_token",
            )
        return response

    return explained


login = rate_limited(LoginView.as_api_view(client=Client.APP), name="login", setting="TOKENS_LOGIN_PER_MINUTE")
refresh = rate_limited(
    _explained_refusal(RefreshTokenView.as_api_view(client=Client.APP)),
    name="refresh",
    setting="TOKENS_REFRESH_PER_MINUTE",
)


@csrf_exempt
def signup_refused(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Every method: app clients do not sign up (see the module docstring)."""
    return headless_error(
        403,
        gettext(
            "Sign-up is not available to app clients: create your account on the web sign-up page "
            "(it asks for your name and your consent to the policies), then sign in here."
        ),
        "signup_not_available",
    )


@csrf_exempt
def social_refused(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Every method: social sign-in from an app could create an account without consent."""
    return headless_error(
        403,
        gettext(
            "Signing in with another provider is not available to app clients: sign in with your email and password."
        ),
        "provider_not_available",
    )
