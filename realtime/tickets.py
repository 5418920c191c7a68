"""Websocket handshakes for app clients: `?ticket=<t>` instead of a browser's Origin and cookie.

The rule, per handshake (project/asgi.py puts this in front of the socket routes):
- **with an Origin header**: today's rule, unchanged (realtime/origin.py): the origin must be one of
  ours, else the handshake is refused. The socket then authenticates by the session cookie, or by
  a ticket when the URL carries one (a bad ticket is then refused too).
- **without an Origin header** (a browser always sends one, so this is never a browser): only
  with a valid ticket. No ticket, or a bad, used or expired one: refused before any consumer runs,
  exactly as a foreign Origin is (daphne answers HTTP 403).

A valid ticket (domains.tokens.services.ws_ticket_consume: single use, short-lived) stands for a
person on one login session: the scope gets that `user` and that `session`, so the consumer binds
the session's organisation and joins `session_group(session_key)`; logging that session out (or
ending it) force-closes the socket. The ticket is taken out of the query string before the
consumer sees it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from channels.db import database_sync_to_async

from domains.tokens.services import ws_ticket_consume, ws_ticket_identity
from realtime.origin import OriginValidator, refuse_handshake

TICKET_PARAMETER = "ticket"


def _split_ticket(query_string: bytes) -> tuple[list[str], bytes]:
    """The ticket values in the query string, and the query string without them."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    tickets = [value for name, value in pairs if name == TICKET_PARAMETER]
    rest = [(name, value) for name, value in pairs if name != TICKET_PARAMETER]
    return tickets, urlencode(rest).encode("latin-1")


class TicketAuth:
    """ASGI middleware for the websocket routes: a ticket's person and session into the scope."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tickets, rest = _split_ticket(scope.get("query_string", b""))
        grant = await ws_ticket_consume(tickets[0]) if len(tickets) == 1 else None
        identity = await database_sync_to_async(ws_ticket_identity)(grant) if grant is not None else None
        if identity is None:
            return await refuse_handshake(scope, receive, send)
        user, session = identity
        return await self.application(dict(scope, user=user, session=session, query_string=rest), receive, send)


class HandshakeGate:
    """Chooses the rule for a handshake (see the module docstring): `browser` is today's stack
    (Origin check, then cookie auth), `routes` the bare socket routes a ticket leads to."""

    def __init__(self, *, browser: Any, routes: Any) -> None:
        self.origin_checked = OriginValidator(_TicketOrCookie(cookie=browser, ticket=TicketAuth(routes)))
        self.ticket_only = TicketAuth(routes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("HandshakeGate guards websocket connections only")
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", []))
        if has_origin:
            return await self.origin_checked(scope, receive, send)
        return await self.ticket_only(scope, receive, send)


class _TicketOrCookie:
    """After the Origin check: a ticket if the URL carries one, else the session cookie."""

    def __init__(self, *, cookie: Any, ticket: Any) -> None:
        self.cookie = cookie
        self.ticket = ticket

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tickets, _ = _split_ticket(scope.get("query_string", b""))
        if tickets:
            return await self.ticket(scope, receive, send)
        return await self.cookie(scope, receive, send)
