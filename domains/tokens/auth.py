"""`Authorization: Bearer <token>` for /api/v1 (project/api.py lists it before the session cookie).

Two kinds of bearer token share the header:
- an allauth headless **access token** (a JWT, from /_allauth/app/v1/auth/login or
  /tokens/refresh), checked statefully: its session must still exist and still be signed in as
  the token's person (`allauth...jwt.internal.validate_access_token` with
  HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED), so logout or an ended session refuses it at once;
- a **personal access token** (`cwp_…`, domains.tokens.services.pat_authenticate). A read-scope
  token may only use safe methods: anything else is 403.

A bearer request needs no CSRF token: no browser attaches the header by itself. It gets
`request.user`, and `request.organisation` / `request.roles` / `request.organisations` bound as
`domains.accounts.middleware.bind_organisation` binds them for a cookie session: the access
token's session carries the organisation id (ORGANISATION_SESSION_KEY), re-checked against the
person's memberships; a personal access token is bound to the organisation it was created in.
A bad, expired or revoked token authenticates nobody: ninja then tries the session cookie, whose
auth takes the anonymous rate limit and answers 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja.security import HttpBearer

from domains.accounts.http import OrganisationRequest
from domains.accounts.models import Organisation, User
from domains.accounts.selectors import ORGANISATION_SESSION_KEY, organisations_for_session, roles_for_user
from domains.tokens.models import TokenScope
from domains.tokens.services import PAT_PREFIX, pat_authenticate

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class BearerIdentity:
    """`request.auth` for a bearer request: which kind of token, and for an access token its
    login session (websocket tickets bind to it)."""

    kind: Literal["access", "personal"]
    user_id: int
    session_key: str | None = None
    token_id: int | None = None
    scope: str | None = None


def _bind(
    request: HttpRequest, user: User, organisation: Organisation | None, organisations: list[Organisation]
) -> None:
    bound = cast(OrganisationRequest, request)
    request.user = user
    bound.organisation = organisation
    bound.organisations = organisations
    bound.roles = roles_for_user(user=user, organisation=organisation)


class BearerAuth(HttpBearer):
    """An app's access token or a personal access token (see the module docstring)."""

    def authenticate(self, request: HttpRequest, token: str) -> BearerIdentity | None:
        token = token.strip()
        if not token:
            return None
        if token.startswith(PAT_PREFIX):
            return self._personal(request, token)
        return self._access(request, token)

    def _access(self, request: HttpRequest, token: str) -> BearerIdentity | None:
        from allauth.headless.tokens.strategies.jwt import internal

        validated = internal.validate_access_token(token)
        if validated is None:
            return None
        user, payload = validated
        session = internal.get_token_session(payload)
        if session is None or not isinstance(user, User) or not user.is_active:
            return None
        organisation, organisations = organisations_for_session(
            user=user, organisation_id=session.get(ORGANISATION_SESSION_KEY)
        )
        _bind(request, user, organisation, organisations)
        return BearerIdentity(kind="access", user_id=user.pk, session_key=session.session_key)

    def _personal(self, request: HttpRequest, token: str) -> BearerIdentity | None:
        pat = pat_authenticate(token)
        if pat is None:
            return None
        if pat.scope == TokenScope.READ and request.method not in SAFE_METHODS:
            raise PermissionDenied(
                gettext("This personal access token has the read scope: it may only read (GET). Use a write token.")
            )
        _bind(request, pat.user, pat.organisation, [pat.organisation])
        return BearerIdentity(kind="personal", user_id=pat.user.pk, token_id=pat.pk, scope=pat.scope)


# Which kind authenticated a request is read by `domains.common.auth` (`authenticated_by_personal_token`,
# `login_session_key`), so that the domains below this one can ask without importing it.
