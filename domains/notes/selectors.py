"""Reads for notes. What a user may read, everywhere (lists, fetches, retrieval):
their own private notes, and the notes shared with lounges they belong to (not banned), all
within one organisation. Anything else answers like a missing note (404)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from domains.accounts.models import Organisation, User
from domains.lounges.models import Lounge, LoungeMembership, LoungeRole
from domains.lounges.rules import can_view, membership_of
from domains.notes.models import Note, NoteVisibility


def readable_lounge_ids(*, user: User | AnonymousUser, organisation: Organisation | int) -> list[int]:
    """The lounges of `organisation` whose shared notes `user` reads: those they belong to, unbanned."""
    if not user.is_authenticated:
        return []
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    return list(
        LoungeMembership.objects.filter(user=user, is_banned=False, lounge__organisation_id=organisation_id)
        .order_by("lounge_id")
        .values_list("lounge_id", flat=True)
    )


def note_readable_q(*, user: User | AnonymousUser, organisation: Organisation | int) -> Q:
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    if not user.is_authenticated:
        return Q(pk__in=[])
    return Q(organisation_id=organisation_id) & (
        Q(visibility=NoteVisibility.PRIVATE, owner_id=user.pk)
        | Q(visibility=NoteVisibility.LOUNGE, lounge_id__in=readable_lounge_ids(user=user, organisation=organisation))
    )


def note_list_for_user(
    *, user: User | AnonymousUser, organisation: Organisation, tag: str | None = None
) -> QuerySet[Note]:
    """The notes `user` reads in `organisation`, pinned first, newest first; `tag` filters exactly."""
    notes = Note.objects.filter(note_readable_q(user=user, organisation=organisation))
    if tag:
        notes = notes.filter(tags__contains=[tag.strip().lower()])
    return notes.order_by("-pinned", "-updated_at", "-pk")


def note_get_for_user(*, note_id: int, user: User | AnonymousUser, organisation: Organisation | None = None) -> Note:
    """One readable note, or 404 (another user's private note, another organisation's note, a lounge
    the user left). Scoped to `organisation` (the session's) when given."""
    notes = Note.objects.select_related("lounge", "organisation")
    if organisation is not None:
        note = notes.filter(note_readable_q(user=user, organisation=organisation), pk=note_id).first()
    else:
        note = notes.filter(pk=note_id).first()
        if (
            note is not None
            and not Note.objects.filter(
                note_readable_q(user=user, organisation=note.organisation_id), pk=note_id
            ).exists()
        ):
            note = None
    if note is None:
        raise Http404("No such note.")
    return note


def lounge_get_for_notes(*, lounge_id: int, organisation: Organisation, user: User | AnonymousUser) -> Lounge:
    """A lounge of the session's organisation that `user` may see, to share a note with: an open
    one, or one they belong to; never one they are banned from (the lounges' own `can_view`).
    Anything else (another organisation's, an invite-only or members-only lounge they are not in)
    is a 404 exactly like a missing id, so an id never tells whether a hidden lounge exists.
    Whether they may share into it (moderators only) is the service's check: a refusal about a
    lounge they can see tells them nothing new."""
    lounge = Lounge.objects.select_related("organisation").filter(pk=lounge_id, organisation=organisation).first()
    if lounge is None or not can_view(lounge=lounge, membership=membership_of(user, lounge)):
        raise Http404("No such lounge.")
    return lounge


# ------------------------------------------------------------------------------------------ coach threads


def lounges_shareable_into(*, user: User | AnonymousUser, organisation: Organisation) -> list[Lounge]:
    """The lounges of `organisation` whose knowledge base `user` may share notes into: those they
    moderate or own, not banned, by title."""
    if not user.is_authenticated:
        return []
    return [
        membership.lounge
        for membership in LoungeMembership.objects.filter(
            user=user,
            lounge__organisation=organisation,
            role__in=(LoungeRole.MODERATOR, LoungeRole.OWNER),
            is_banned=False,
        )
        .select_related("lounge")
        .order_by("lounge__title", "lounge_id")
    ]
