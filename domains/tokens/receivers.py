"""What tokens do when something happens elsewhere (connected in TokensConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from domains.accounts.membership_signals import member_left
from domains.tokens.services import pat_revoke_for_member


@receiver(member_left, dispatch_uid="tokens.revoke_on_removal")
def revoke_on_removal(
    sender: Any, *, organisation: Any, user: Any, actor: Any, request: Any, how: str, **kwargs: Any
) -> None:
    """Removed for good: their tokens there are revoked. A deactivated member's tokens stay, refused
    while they hold no role there (domains/tokens/auth.py), and work again if they are reactivated,
    which gives back exactly what they had."""
    if how == "removed":
        pat_revoke_for_member(organisation=organisation, user=user, actor=actor, request=request)
