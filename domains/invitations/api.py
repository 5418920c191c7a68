"""/api/v1/invitations: invite people to the session's organisation, list, resend and revoke.

The same rules as the invitations page (domains/invitations/views.py): staff invite any role,
mentors candidates only; anyone else gets 403 for every call, whatever the id, so the answer never
tells which ids exist. An invitation of another organisation, one of a role the caller may not
manage, and a missing one all answer 404. A refused invitation (already a member, one waiting,
a role the caller may not give) is 422 at its field; too many sent in the hour is 429.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StringConstraints

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.accounts.models import Organisation, Role
from domains.common.api import BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.invitations.models import Invitation, InvitationStatus
from domains.invitations.rules import roles_invitable
from domains.invitations.selectors import invitation_get_for_user, invitation_list_for_user
from domains.invitations.services import invitation_create, invitation_resend, invitation_revoke

router = Router(tags=["invitations"])

EMAIL_MAX = Invitation._meta.get_field("email").max_length


class InvitationOut(Schema):
    id: int
    email: str
    role: Role
    status: InvitationStatus
    invited_by: str | None = Field(description="The inviter's public name; null once their account is gone.")
    expires_at: datetime = Field(description="When the last sent link stops working.")
    expired: bool = Field(description="Pending but past `expires_at`: resend it for a new link.")
    sent_count: int
    last_sent_at: datetime | None
    accepted_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_invited_by(obj: Invitation) -> str | None:
        return obj.invited_by.public_name if obj.invited_by is not None else None

    @staticmethod
    def resolve_expired(obj: Invitation) -> bool:
        return obj.status == InvitationStatus.PENDING and obj.is_expired


class InvitationIn(InputSchema):
    # `format: email` tells clients (and the schema's fuzzer) what is accepted; the service validates it.
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=EMAIL_MAX)] = Field(
        json_schema_extra={"format": "email"}
    )
    role: Role


def _inviter(request: AuthenticatedRequest) -> Organisation:
    organisation = organisation_or_404(request)
    if not roles_invitable(user=request.user, organisation=organisation):
        raise PermissionDenied("You may not invite people to this organisation.")
    return organisation


def _get(request: AuthenticatedRequest, invitation_id: int) -> Invitation:
    organisation = _inviter(request)
    return invitation_get_for_user(organisation=organisation, user=request.user, invitation_id=invitation_id)


@router.get("", response=responses({200: list[InvitationOut]}), summary="Invitations I may manage, newest first")
@paginate(BoundedLimitOffsetPagination)
def invitation_list(request: AuthenticatedRequest) -> Any:
    return invitation_list_for_user(organisation=_inviter(request), user=request.user)


@router.post(
    "",
    response=responses({201: InvitationOut}),
    summary="Invite an address with a role (emails the link)",
)
def invitation_send(request: AuthenticatedRequest, payload: InvitationIn) -> Status[Invitation]:
    invitation = invitation_create(
        organisation=_inviter(request),
        inviter=request.user,
        email=payload.email,
        role=payload.role,
        request=request,
    )
    return Status(201, invitation)


@router.get("/{int:invitation_id}", response=responses({200: InvitationOut}), summary="One invitation")
def invitation_detail(request: AuthenticatedRequest, invitation_id: ObjectId) -> Invitation:
    return _get(request, invitation_id)


@router.post(
    "/{int:invitation_id}/resend",
    response=responses({200: InvitationOut}),
    summary="Send a waiting invitation again: a new link and expiry; the old link stops working",
)
def invitation_send_again(request: AuthenticatedRequest, invitation_id: ObjectId) -> Invitation:
    return invitation_resend(invitation=_get(request, invitation_id), actor=request.user, request=request)


@router.post(
    "/{int:invitation_id}/revoke",
    response=responses({200: InvitationOut}),
    summary="Withdraw a waiting invitation (again: no change); an accepted one is refused",
)
def invitation_withdraw(request: AuthenticatedRequest, invitation_id: ObjectId) -> Invitation:
    return invitation_revoke(invitation=_get(request, invitation_id), actor=request.user, request=request)
