"""Reads for notes and coach threads. What a user may read, everywhere (lists, fetches, retrieval):
their own private notes, and the notes shared with lounges they belong to (not banned), all
within one organisation. Anything else answers like a missing note (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from domains.accounts.models import Organisation
from domains.coaching.models import CoachThread, Note, NoteVisibility, ThreadMessage, ThreadRole
from domains.lounges.models import Lounge, LoungeMembership
from domains.lounges.rules import can_view, membership_of


def readable_lounge_ids(*, user: Any, organisation: Organisation | int) -> list[int]:
    """The lounges of `organisation` whose shared notes `user` reads: those they belong to, unbanned."""
    if not getattr(user, "is_authenticated", False):
        return []
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    return list(
        LoungeMembership.objects.filter(user=user, is_banned=False, lounge__organisation_id=organisation_id)
        .order_by("lounge_id")
        .values_list("lounge_id", flat=True)
    )


def note_readable_q(*, user: Any, organisation: Organisation | int) -> Q:
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    return Q(organisation_id=organisation_id) & (
        Q(visibility=NoteVisibility.PRIVATE, owner_id=user.pk)
        | Q(visibility=NoteVisibility.LOUNGE, lounge_id__in=readable_lounge_ids(user=user, organisation=organisation))
    )


def note_list_for_user(*, user: Any, organisation: Organisation, tag: str | None = None) -> QuerySet[Note]:
    """The notes `user` reads in `organisation`, pinned first, newest first; `tag` filters exactly."""
    notes = Note.objects.filter(note_readable_q(user=user, organisation=organisation))
    if tag:
        notes = notes.filter(tags__contains=[tag.strip().lower()])
    return notes.order_by("-pinned", "-updated_at", "-pk")


def note_get_for_user(*, note_id: int, user: Any, organisation: Organisation | None = None) -> Note:
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


def lounge_get_for_notes(*, lounge_id: int, organisation: Organisation, user: Any) -> Lounge:
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
def thread_list_for_user(*, user: Any, organisation: Organisation | None) -> QuerySet[CoachThread]:
    if organisation is None:
        return CoachThread.objects.none()
    return (
        CoachThread.objects.filter(owner=user, organisation=organisation)
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at", "-pk")
    )


def thread_get_for_user(*, thread_id: int, user: Any, organisation: Organisation | None) -> CoachThread:
    """The user's own thread in the session's organisation; anything else is a 404."""
    thread = CoachThread.objects.filter(pk=thread_id, owner=user, organisation=organisation).first()
    if organisation is None or thread is None:
        raise Http404("No such conversation.")
    return thread


def thread_message_payloads(
    messages: list[ThreadMessage], *, live: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """The wire form of thread messages, with each reply's version among its siblings."""
    versions: dict[int | None, list[int]] = {}
    for message in messages:
        if message.role == ThreadRole.COACH:
            versions.setdefault(message.parent_id, []).append(message.pk)
    payloads = []
    for message in messages:
        siblings = versions.get(message.parent_id, []) if message.role == ThreadRole.COACH else [message.pk]
        text = (live or {}).get(message.pk)
        payloads.append(
            {
                "id": message.pk,
                "role": message.role,
                "body": message.body if text is None else text,
                "html": message.body_html if text is None else "",
                "status": message.status,
                "client_msg_id": message.client_msg_id,
                "parent_id": message.parent_id,
                "version": siblings.index(message.pk) + 1 if message.pk in siblings else 1,
                "versions": len(siblings) or 1,
                "current": not siblings or siblings[-1] == message.pk,
                "provider_label": message.provider_label,
                "citations": message.citations,
                "error": {"code": message.error_code, "message": message.error_message} if message.error_code else None,
                "created_at": message.created_at.isoformat(),
            }
        )
    return payloads


def thread_message_payload(message: ThreadMessage) -> dict[str, Any]:
    """One message's wire form, its version counted among the replies to the same question."""
    if message.role == ThreadRole.COACH:
        family = list(ThreadMessage.objects.filter(thread_id=message.thread_id, parent_id=message.parent_id))
    else:
        family = [message]
    return next(p for p in thread_message_payloads(family) if p["id"] == message.pk)


def thread_messages(*, thread: CoachThread) -> list[ThreadMessage]:
    return list(ThreadMessage.objects.filter(thread=thread).order_by("created_at", "pk"))
