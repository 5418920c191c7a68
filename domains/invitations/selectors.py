"""Reading invitations: always the session's organisation's, and only those the caller may manage
(staff: all; mentors: candidates'). Anything else, and any unknown id, is a 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from domains.accounts.models import Organisation, User
from domains.invitations.models import Invitation
from domains.invitations.rules import roles_invitable


def invitation_list_for_user(*, organisation: Organisation, user: User) -> QuerySet[Invitation]:
    roles = roles_invitable(user=user, organisation=organisation)
    return (
        Invitation.objects.filter(organisation=organisation, role__in=roles)
        .select_related("invited_by", "accepted_by")
        .order_by("-created_at", "-id")
    )


def invitation_get_for_user(*, organisation: Organisation, user: User, invitation_id: int) -> Invitation:
    invitation = invitation_list_for_user(organisation=organisation, user=user).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation
