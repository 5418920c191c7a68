"""/api/v1/auth/ws-ticket (a websocket ticket) and /api/v1/tokens (personal access tokens).

Both take the session cookie (with CSRF) or an app's access token (`Authorization: Bearer`). A
personal access token may do neither: it cannot mint tokens nor tickets (403), so a leaked script
token never widens itself. Errors are the API's one shape (`domains.common.api`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils.translation import gettext
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import StringConstraints

from domains.accounts.http import AuthenticatedRequest
from domains.accounts.models import Organisation
from domains.common.api import BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.common.auth import authenticated_by_personal_token, login_session_key
from domains.tokens import services
from domains.tokens.models import PersonalAccessToken, TokenScope
from domains.tokens.selectors import pat_get_for_user, pat_list_for_user

auth_router = Router(tags=["auth"])
router = Router(tags=["tokens"])


class TicketOut(Schema):
    ticket: str = Field(description="Pass as `?ticket=` on one websocket handshake, within `expires_in` seconds.")
    expires_in: int = Field(description="Seconds the ticket stays valid.")


def _not_by_personal_token(request: AuthenticatedRequest, what: str) -> None:
    if authenticated_by_personal_token(request):
        raise PermissionDenied(what)


@auth_router.post(
    "/ws-ticket",
    response=responses({200: TicketOut}),
    summary="A single-use ticket to open one websocket without a cookie",
)
def ws_ticket(request: AuthenticatedRequest, response: HttpResponse) -> services.IssuedTicket:
    response["Cache-Control"] = "no-store"  # a credential
    _not_by_personal_token(
        request, gettext("A personal access token cannot open websockets: sign in (an app access token).")
    )
    return services.ws_ticket_issue(user=request.user, session_key=login_session_key(request))


TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=services.PAT_NAME_MAX)]


class TokenIn(InputSchema):
    name: TokenName = Field(description="What the token is for, e.g. the script that uses it.")
    scope: Literal["read", "write"] = Field(description="read: GET only; write: every method.")
    expires_in_days: int = Field(ge=1, le=settings.PAT_MAX_DAYS, description="1 to PAT_MAX_DAYS (366 by default).")


class TokenOut(Schema):
    id: int
    name: str
    scope: str
    prefix: str = Field(description="The token's first 12 characters, to recognise it.")
    status: Literal["active", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @staticmethod
    def resolve_status(token: PersonalAccessToken) -> str:
        if token.revoked_at is not None:
            return "revoked"
        return "expired" if token.is_expired else "active"


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret, shown this once: it is stored only as a hash.")


def _organisation(request: AuthenticatedRequest) -> Organisation:
    if request.organisation is None:
        raise HttpError(403, "You belong to no organisation.")
    return request.organisation


def _manager(request: AuthenticatedRequest) -> Organisation:
    _not_by_personal_token(
        request, gettext("A personal access token cannot manage tokens: sign in, or use /account/tokens/.")
    )
    return _organisation(request)


@router.get("", response=responses({200: list[TokenOut]}), summary="My personal access tokens here")
@paginate(BoundedLimitOffsetPagination)
def token_list(request: AuthenticatedRequest) -> Any:
    return pat_list_for_user(user=request.user, organisation=_manager(request))


@router.post("", response=responses({201: TokenCreatedOut}), summary="Create a personal access token")
def token_create(request: AuthenticatedRequest, payload: TokenIn, response: HttpResponse) -> Status:
    response["Cache-Control"] = "no-store"  # the secret, this once
    organisation = _manager(request)
    created = services.pat_create(
        user=request.user,
        organisation=organisation,
        name=payload.name,
        scope=TokenScope(payload.scope),
        expires_in_days=payload.expires_in_days,
        request=request,
    )
    token = created.token
    token.token = created.secret  # type: ignore[attr-defined]  # this answer only; never stored
    return Status(201, token)


@router.post("/{token_id}/revoke", response=responses({200: TokenOut}), summary="Revoke one of my tokens")
def token_revoke(request: AuthenticatedRequest, token_id: ObjectId) -> PersonalAccessToken:
    token = pat_get_for_user(user=request.user, organisation=_manager(request), token_id=token_id)
    return services.pat_revoke(token=token, user=request.user, request=request)
