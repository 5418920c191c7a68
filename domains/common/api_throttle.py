"""Rate limits for /api/v1 (the API root wires them in, `project/api.py`).

Two token buckets in Redis, shared by every server process (`realtime.ratelimit`):
- per signed-in person: `API_RATE_USER_PER_HOUR` (1,000) calls an hour, refilled evenly;
- per client address for calls without a person: `API_RATE_ANON_PER_HOUR` (100), counted before
  authentication refuses them, so guessing at the API is limited too. The address is the one
  `domains.common.client_ip` resolves (TRUSTED_PROXIES), never a forgeable X-Forwarded-For.

Over the limit: 429 in the API's error shape, with `Retry-After` (whole seconds). 0 turns a bucket off.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import SessionAuth
from ninja.throttling import BaseThrottle

from domains.common.client_ip import client_ip
from realtime.ratelimit import Bucket, take


def _bucket(per_hour: int) -> Bucket:
    return Bucket.per_hour(per_hour)


class UserRateThrottle(BaseThrottle):
    """Calls by one signed-in person, whichever session or process they come through."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        per_hour = settings.API_RATE_USER_PER_HOUR
        user = getattr(request, "user", None)
        if per_hour <= 0 or user is None or not user.is_authenticated:
            return True
        decision = take(f"api:user:{user.pk}", _bucket(per_hour))
        self._wait = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return self._wait


class ThrottledSessionAuth(SessionAuth):
    """ninja's session auth (cookie, and CSRF on unsafe methods), last in the API's list, with the
    anonymous limit taken before the request is refused: ninja's own throttles run only after
    authentication succeeds.

    A request that carries a bearer token (which the bearer auth before this one refused: unknown,
    expired, revoked) or no session cookie at all is not a cookie caller: it gets 401, never
    ninja's 403 "CSRF check Failed", which it would otherwise check first and raise on an unsafe
    method. An app must be told to refresh its token, not that its CSRF token is missing."""

    def __call__(self, request: HttpRequest) -> Any:
        result = None
        if _cookie_caller(request):
            result = super().__call__(request)
        if result:
            return result
        per_hour = settings.API_RATE_ANON_PER_HOUR
        if per_hour > 0:
            decision = take(f"api:anon:{client_ip(request) or 'unknown'}", _bucket(per_hour))
            if not decision.allowed:
                raise Throttled(wait=decision.retry_after)  # type: ignore[arg-type]
        return result


def _cookie_caller(request: HttpRequest) -> bool:
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return False
    return settings.SESSION_COOKIE_NAME in request.COOKIES
