"""Who may invite whom (ARCHITECTURE.md §7): staff invite any role; mentors invite interview
candidates only. Read from the database on every call, like every role check."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from domains.accounts.models import Organisation, Role, User
from domains.accounts.selectors import roles_for_user


def roles_invitable(*, user: User | AnonymousUser, organisation: Organisation | None) -> list[str]:
    """The roles `user` may invite people to in `organisation`, in Role's order; [] for nobody."""
    held = roles_for_user(user=user, organisation=organisation)
    if Role.STAFF in held:
        return list(Role.values)
    if Role.MENTOR in held:
        return [Role.CANDIDATE.value]
    return []


def can_invite(*, user: User | AnonymousUser, organisation: Organisation | None) -> bool:
    return bool(roles_invitable(user=user, organisation=organisation))
