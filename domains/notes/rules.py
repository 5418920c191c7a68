"""Who may do what with notes. Rights are read from the database on every call."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from domains.accounts.models import Membership, User
from domains.lounges.models import Lounge, LoungeMembership, LoungeRole
from domains.notes.models import Note, NoteVisibility


def is_organisation_member(user: User | AnonymousUser | None, organisation_id: int) -> bool:
    return (
        user is not None
        and user.is_authenticated
        and Membership.objects.filter(user=user, organisation_id=organisation_id).exists()
    )


def moderates_lounge(user: User | AnonymousUser, lounge: Lounge) -> bool:
    """A moderator or owner of the lounge, not banned: they maintain its shared notes."""
    if not user.is_authenticated:
        return False
    return LoungeMembership.objects.filter(
        lounge=lounge, user=user, role__in=(LoungeRole.MODERATOR, LoungeRole.OWNER), is_banned=False
    ).exists()


def can_edit_note(user: User | AnonymousUser, note: Note) -> bool:
    """Private notes: their owner. Shared notes: the lounge's moderators (the author included only
    while they moderate it)."""
    if note.visibility == NoteVisibility.PRIVATE:
        return user.is_authenticated and note.owner_id == user.pk
    return note.lounge is not None and moderates_lounge(user, note.lounge)
