"""What invitations tell people (domains.notifications): the inviter hears when theirs is accepted."""

from __future__ import annotations

from django.urls import reverse

from domains.accounts.models import Role, User
from domains.invitations.models import Invitation
from domains.notifications.kinds import notification_kind
from domains.notifications.services import notify

INVITATION_ACCEPTED = notification_kind("invitations.accepted", "Someone accepted your invitation")


def notice_accepted(invitation: Invitation, member: User) -> None:
    inviter = invitation.invited_by
    if inviter is None or not inviter.is_active or inviter.pk == member.pk:
        return
    notify(
        user=inviter,
        kind=INVITATION_ACCEPTED,
        title=f"{member.public_name} accepted your invitation",
        body=f"They joined {invitation.organisation.name} as {Role(invitation.role).label.lower()}.",
        link=reverse("invitations:list"),
        organisation=invitation.organisation,
    )
