"""What invitations do when something happens elsewhere (connected in InvitationsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from domains.accounts.membership_signals import member_left
from domains.invitations.services import invitations_withdraw_for_member


@receiver(member_left, dispatch_uid="invitations.withdraw_on_leaving")
def withdraw_on_leaving(
    sender: Any, *, organisation: Any, user: Any, actor: Any, request: Any, how: str, **kwargs: Any
) -> None:
    """A deactivated or removed person's waiting invitations there are withdrawn: accepting one
    would otherwise give back, behind staff's back, the access they just took away."""
    invitations_withdraw_for_member(organisation=organisation, user=user, actor=actor, request=request, how=how)
