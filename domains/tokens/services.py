"""Personal access tokens (create, revoke, authenticate) and websocket tickets (issue, consume).

**Personal access tokens.** `cwp_` followed by 43 characters (32 random bytes, URL-safe base64).
Only the SHA-256 of the whole token is stored; its first 12 characters (`prefix`) are kept so the
person can tell their tokens apart. A token is bound to the person and to the organisation it was
created in; it stops working when it expires, is revoked, the person is deactivated or leaves that
organisation. Creating and revoking are audited (`token.created`, `token.revoked`).

**Websocket tickets.** A ticket is 43 random URL-safe characters, kept in Redis for
`WS_TICKET_TTL_SECONDS` under its SHA-256, bound to the person and to the login session it was
issued for (the app token's session, or the browser's). Consuming it is one GETDEL, so it works
once, whichever server process sees it; its expiry is also checked against the clock in the value.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from domains.accounts.models import Organisation, User
from domains.accounts.selectors import roles_for_user
from domains.common.errors import Refusal
from domains.common.validation import is_storable
from domains.compliance.services import audit_record
from domains.tokens.models import PersonalAccessToken, TokenScope
from realtime.ratelimit import Bucket, take
from realtime.redis import get_async_redis, get_sync_redis

PAT_PREFIX = "cwp_"
PAT_SECRET_BYTES = 32
PAT_VISIBLE_CHARS = 12  # "cwp_" and 8 characters of the secret
PAT_NAME_MAX = 80
_PAT_SHAPE = re.compile(r"^cwp_[A-Za-z0-9_-]{43}$")

TICKET_BYTES = 32
_TICKET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class TokenError(Refusal):
    """A refused token action."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _per_hour(limit: int) -> Bucket:
    return Bucket.per_hour(limit)


def _per_minute(limit: int) -> Bucket:
    return Bucket.per_minute(limit)


def _rate_limited(name: str, bucket: Bucket, message: str) -> None:
    decision = take(name, bucket)
    if not decision.allowed:
        raise TokenError("rate_limited", message, retry_after=max(1.0, decision.retry_after))


# ---------------------------------------------------------------- personal access tokens
@dataclass(frozen=True)
class CreatedToken:
    """A new token and its secret: the only time the secret exists outside the client."""

    token: PersonalAccessToken
    secret: str


def pat_check(*, name: str, scope: str, expires_in_days: int) -> tuple[str, str, int]:
    """The creation form's rules, field by field (all refused at once)."""
    errors: dict[str, str] = {}
    clean_name = " ".join(str(name).split())
    if not clean_name:
        errors["name"] = gettext("Give the token a name, e.g. the script that uses it.")
    elif len(clean_name) > PAT_NAME_MAX:
        errors["name"] = gettext("Keep the name to %(max)d characters.") % {"max": PAT_NAME_MAX}
    elif not is_storable(clean_name):
        errors["name"] = gettext("The name contains characters that cannot be stored.")
    if scope not in TokenScope.values:
        errors["scope"] = gettext("Choose read or write.")
    if not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= settings.PAT_MAX_DAYS:
        errors["expires_in_days"] = gettext("Choose an expiry between 1 and %(max)d days.") % {
            "max": settings.PAT_MAX_DAYS
        }
    if errors:
        raise TokenError("invalid", gettext("Some fields are invalid."), fields=errors)
    return clean_name, scope, expires_in_days


@transaction.atomic
def pat_create(
    *,
    user: User,
    organisation: Organisation | None,
    name: str,
    scope: str,
    expires_in_days: int,
    request: HttpRequest | None = None,
) -> CreatedToken:
    """A new token for `user` in `organisation` (the session's). Refused: bad fields (422), no
    organisation (403), too many active tokens (422 `too_many`), too many creations (429)."""
    clean_name, scope, days = pat_check(name=name, scope=scope, expires_in_days=expires_in_days)
    if organisation is None or not roles_for_user(user=user, organisation=organisation):
        raise TokenError("not_member", gettext("Tokens belong to an organisation: join one first."))
    now = timezone.now()
    active = PersonalAccessToken.objects.filter(
        user=user, organisation=organisation, revoked_at__isnull=True, expires_at__gt=now
    ).count()
    if active >= settings.PAT_MAX_ACTIVE:
        raise TokenError(
            "too_many",
            gettext("You have %(count)d active tokens here: revoke one you no longer use first.") % {"count": active},
        )
    if settings.PAT_CREATE_PER_HOUR > 0:
        _rate_limited(
            f"tokens:pat-create:{user.pk}",
            _per_hour(settings.PAT_CREATE_PER_HOUR),
            gettext("Too many tokens created: try again later."),
        )
    secret = PAT_PREFIX + secrets.token_urlsafe(PAT_SECRET_BYTES)
    token = PersonalAccessToken.objects.create(
        user=user,
        organisation=organisation,
        name=clean_name,
        scope=scope,
        prefix=secret[:PAT_VISIBLE_CHARS],
        secret_hash=_digest(secret),
        expires_at=now + timedelta(days=days),
    )
    audit_record(
        actor=user,
        organisation=organisation,
        action="token.created",
        target=token,
        details={
            "name": token.name,
            "scope": token.scope,
            "prefix": token.prefix,
            "expires_at": token.expires_at.isoformat(),
        },
        request=request,
    )
    return CreatedToken(token=token, secret=secret)


@transaction.atomic
def pat_revoke(*, token: PersonalAccessToken, user: User, request: HttpRequest | None = None) -> PersonalAccessToken:
    """Revoke one of the person's own tokens (fetched through `pat_get_for_user`). Revoking a
    revoked token changes nothing and is not audited twice."""
    locked = PersonalAccessToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        actor=user,
        organisation=locked.organisation,
        action="token.revoked",
        target=locked,
        details={"name": locked.name, "prefix": locked.prefix},
        request=request,
    )
    return locked


def pat_revoke_for_member(
    *, organisation: Organisation, user: User, actor: Any, request: HttpRequest | None = None
) -> int:
    """Revoke every live token `user` holds in `organisation`: they were removed from it, and a
    token must not come back to life if they join again. Each is audited (`token.revoked`, with the
    reason). Locks those rows. Returns how many."""
    live = list(
        PersonalAccessToken.objects.select_for_update().filter(
            organisation=organisation, user=user, revoked_at__isnull=True
        )
    )
    now = timezone.now()
    for token in live:
        token.revoked_at = now
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            organisation=organisation,
            action="token.revoked",
            target=token,
            details={"name": token.name, "prefix": token.prefix, "reason": "member_removed"},
            request=request,
        )
    return len(live)


def pat_authenticate(raw: str) -> PersonalAccessToken | None:
    """The live token `raw` names, with its user and organisation, or None: unknown, revoked,
    expired, its person deactivated or no longer a member of its organisation. Notes the use."""
    if not _PAT_SHAPE.match(raw):
        return None
    token = PersonalAccessToken.objects.select_related("user", "organisation").filter(secret_hash=_digest(raw)).first()
    now = timezone.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if not token.user.is_active or not token.organisation.is_active:
        return None
    if not roles_for_user(user=token.user, organisation=token.organisation):
        return None
    resolution = timedelta(seconds=settings.PAT_LAST_USED_RESOLUTION_SECONDS)
    if token.last_used_at is None or now - token.last_used_at >= resolution:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# ---------------------------------------------------------------- websocket tickets
@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_in: int


@dataclass(frozen=True)
class TicketGrant:
    """What a consumed ticket proves: this person, on this login session."""

    user_id: int
    session_key: str


def _ticket_key(ticket: str) -> str:
    return f"cw:wsticket:{_digest(ticket)}"


def ws_ticket_issue(*, user: User, session_key: str | None, now: float | None = None) -> IssuedTicket:
    """A single-use ticket for one websocket handshake, bound to `user` and their login session.
    Refused without a session (a personal access token has none) and over the rate limit (429)."""
    if not session_key:
        raise TokenError(
            "not_allowed",
            gettext("Websocket tickets need a sign-in (an app access token or a browser session)."),
        )
    if settings.WS_TICKET_PER_MINUTE > 0:
        _rate_limited(
            f"tokens:ws-ticket:{user.pk}",
            _per_minute(settings.WS_TICKET_PER_MINUTE),
            gettext("Too many websocket tickets: try again shortly."),
        )
    ttl = settings.WS_TICKET_TTL_SECONDS
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    issued_at = time.time() if now is None else now
    value = json.dumps({"user": user.pk, "session": session_key, "exp": issued_at + ttl})
    # Redis forgets it a second after it stops being valid; the value's own `exp` is the rule.
    get_sync_redis().set(_ticket_key(ticket), value, ex=ttl + 1, nx=True)
    return IssuedTicket(ticket=ticket, expires_in=ttl)


def _grant(raw: Any, now: float | None) -> TicketGrant | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        expires = float(value["exp"])
        grant = TicketGrant(user_id=int(value["user"]), session_key=str(value["session"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not math.isfinite(expires) or expires <= (time.time() if now is None else now):
        return None
    return grant


async def ws_ticket_consume(ticket: str, *, now: float | None = None) -> TicketGrant | None:
    """The grant a ticket carries, once: the first call takes it (GETDEL), every later one gets
    None, as do unknown, malformed and expired tickets."""
    if not _TICKET_SHAPE.match(ticket):
        return None
    return _grant(await get_async_redis().getdel(_ticket_key(ticket)), now)


def ws_ticket_identity(grant: TicketGrant) -> tuple[User, SessionBase] | None:
    """The person and their session, if that session is still signed in as them (logout, an ended
    session, a password change or deactivation since the ticket was issued all refuse it)."""
    from allauth.core.internal.sessionkit import get_session_user
    from allauth.headless.internal.sessionkit import lookup_session

    session = lookup_session(grant.session_key)
    if session is None:
        return None
    user = get_session_user(session)
    if user is None or user.pk != grant.user_id or not user.is_active:
        return None
    if not isinstance(user, User):  # AUTH_USER_MODEL: never otherwise
        return None
    return user, session
