"""Permission predicates for lounges. Rights are re-checked on every action, from the database."""

from __future__ import annotations

import rules
from django.contrib.auth.models import AnonymousUser

from domains.accounts.models import User
from domains.lounges.models import Lounge, LoungeAccess, LoungeMembership


def membership_of(user: User | AnonymousUser, lounge: Lounge) -> LoungeMembership | None:
    if not user.is_authenticated:
        return None
    return LoungeMembership.objects.filter(lounge=lounge, user=user).first()


@rules.predicate
def is_lounge_member(user: User | AnonymousUser, lounge: Lounge) -> bool:
    membership = membership_of(user, lounge)
    return membership is not None and not membership.is_banned


@rules.predicate
def is_lounge_moderator(user: User | AnonymousUser, lounge: Lounge) -> bool:
    membership = membership_of(user, lounge)
    return membership is not None and membership.is_moderator


def can_view(*, lounge: Lounge, membership: LoungeMembership | None) -> bool:
    """Open lounges are readable by the whole organisation; the others by their members. Banned: nobody."""
    if membership is not None and membership.is_banned:
        return False
    return membership is not None or lounge.access == LoungeAccess.OPEN


def can_join(*, lounge: Lounge, membership: LoungeMembership | None, invite_code: str = "") -> bool:
    if membership is not None:
        return False
    if lounge.access == LoungeAccess.OPEN:
        return True
    return lounge.access == LoungeAccess.INVITE and bool(lounge.invite_code) and invite_code == lounge.invite_code


rules.add_perm("lounges.moderate_lounge", is_lounge_moderator)
rules.add_perm("lounges.post_in_lounge", is_lounge_member)
