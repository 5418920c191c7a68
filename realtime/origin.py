"""The websocket handshake's Origin check: scheme, host and port, against the site's own origins.

Browsers send cookies with a cross-site websocket handshake, so the Origin header is the only thing
that tells our pages from someone else's (cross-site websocket hijacking). Channels'
`AllowedHostsOriginValidator` compares the host alone: a page of `http://127.0.0.1:1`, another
service on the same machine, opened sockets with our cookie (and in-process it even let
`http://localhost:8000.evil.example` through: urlparse reads the host as `localhost`; daphne's
autobahn happens to answer that one 400). Here an origin is allowed only when its scheme, host and
port all equal one of `allowed_origins()`; anything else, a missing or `null` Origin included, is
refused before the consumer runs, which daphne answers with HTTP 403 and no frame.

App clients (no browser, so no Origin header at all) never reach this check: the handshake gate in
realtime/tickets.py admits a handshake without Origin only with a valid single-use ticket, and sends
every handshake that has an Origin header here, unchanged (docs/token-auth.md).

The allowed origins are `REALTIME_ALLOWED_ORIGINS` when set; otherwise derived (see
project/settings/channels.py): CSRF_TRUSTED_ORIGINS, and every ALLOWED_HOSTS entry served as
`https://<host>` where the session cookie is Secure, else as `http://<host>:<REALTIME_ORIGIN_PORT>`.
A leading-dot host (`.example.com`, as in ALLOWED_HOSTS) or `*.` (as in CSRF_TRUSTED_ORIGINS) also
allows subdomains; a bare `*` host derives nothing (list the origins explicitly instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http.request import is_same_domain  # type: ignore[attr-defined]  # not in django-stubs

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case; an IPv6 address without brackets; ".example.com" also allows subdomains
    port: int

    def allows(self, other: Origin) -> bool:
        return self.scheme == other.scheme and self.port == other.port and is_same_domain(other.host, self.host)


def parse_origin(value: str, *, pattern: bool = False) -> Origin | None:
    """`scheme://host[:port]` and nothing more (an Origin header has no path, user or query), or None.
    With `pattern`, the host may be `*.example.com` or `.example.com` (subdomains too)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/" if pattern else "") or parts.query:
        return None
    if parts.fragment or parts.username is not None or parts.password is not None:
        return None
    if pattern and host.startswith("*."):
        host = host[1:]
    if "*" in host or (host.startswith(".") and not pattern):
        return None
    return Origin(scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


def allowed_origins() -> list[Origin]:
    """The origins whose pages may open a socket, from settings (read per handshake, so tests may
    override them). Raises ImproperlyConfigured for an entry that is not an origin."""
    explicit = list(settings.REALTIME_ALLOWED_ORIGINS)
    if explicit:
        return [_configured(entry, "REALTIME_ALLOWED_ORIGINS") for entry in explicit]
    origins = [_configured(entry, "CSRF_TRUSTED_ORIGINS") for entry in settings.CSRF_TRUSTED_ORIGINS]
    secure = bool(settings.SESSION_COOKIE_SECURE)
    for host in settings.ALLOWED_HOSTS:
        if not host or "*" in host:
            continue  # a wildcard says nothing about which origins are ours
        netloc = host if secure else f"{host}:{settings.REALTIME_ORIGIN_PORT}"
        origin = parse_origin(f"{'https' if secure else 'http'}://{netloc}", pattern=True)
        if origin is None:
            raise ImproperlyConfigured(f"ALLOWED_HOSTS entry {host!r} does not make an origin")
        origins.append(origin)
    return origins


def _configured(entry: str, setting: str) -> Origin:
    origin = parse_origin(entry, pattern=True)
    if origin is None:
        raise ImproperlyConfigured(f"{setting} entry {entry!r} is not an origin (scheme://host[:port])")
    return origin


def origin_allowed(header: bytes | None) -> bool:
    """Is this raw Origin header one of ours? A missing, undecodable or `null` one is not."""
    if header is None:
        return False
    try:
        origin = parse_origin(header.decode("ascii"))
    except UnicodeDecodeError:
        return False
    return origin is not None and any(allowed.allows(origin) for allowed in allowed_origins())


class OriginValidator:
    """ASGI middleware for the websocket router: refuses the handshake unless `origin_allowed`."""

    def __init__(self, application: Any) -> None:
        self.application = application
        allowed_origins()  # a misconfigured list fails at startup, not at the first handshake

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("OriginValidator guards websocket connections only")
        headers = [value for name, value in scope.get("headers", []) if name == b"origin"]
        if len(headers) == 1 and origin_allowed(headers[0]):
            return await self.application(scope, receive, send)
        return await refuse_handshake(scope, receive, send)


async def refuse_handshake(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reject the handshake (daphne answers HTTP 403) and return at once. A plain ASGI app rather
    than Channels' `WebsocketDenier`: that is a whole consumer, with a channel-layer receive of its
    own whose cancellation channels-redis sometimes swallows, so that refused handshakes used to
    linger until daphne killed them 10 s later (realtime.consumers.base.dispatch_until_stopped)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close"})
