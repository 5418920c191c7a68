"""`/metrics` behind the monitoring token, and the token check `/healthz` shares.

The rule, one for both endpoints:
- `METRICS_TOKEN` set: the caller must send `Authorization: Bearer <METRICS_TOKEN>`.
- unset: only a DEBUG process (`make run`, on loopback) serves them; production answers 404, so an
  installation that forgot the token publishes nothing.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView

_BEARER = "bearer"


def monitoring_token_sent(request: HttpRequest) -> bool:
    """Whether the request carries the configured monitoring token (False when none is configured)."""
    token: str = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != _BEARER:
        return False
    # Constant time, so the token cannot be guessed byte by byte from response times.
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def monitoring_open() -> bool:
    """With no token configured, a process that says so (`MONITORING_OPEN`: `make run` on loopback,
    or DEBUG) serves monitoring details to anyone."""
    return not settings.METRICS_TOKEN and bool(settings.DEBUG or settings.MONITORING_OPEN)


def metrics(request: HttpRequest) -> HttpResponse:
    """django-prometheus's exporter, for the bearer of the monitoring token (or open in DEBUG)."""
    if monitoring_open():
        return ExportToDjangoView(request)
    if not settings.METRICS_TOKEN:
        raise Http404
    if not monitoring_token_sent(request):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return ExportToDjangoView(request)
