"""Writes for notes (create, update, delete, embedding) and private coach threads.

- Private notes are written by their owner only; notes shared with a lounge by its moderators.
  Changes to shared notes are audited (the whole room's coach reads them).
- Every write that changes what a note says enqueues `note_embed_task` after commit; the task is
  idempotent and re-embeds only chunks whose content hash changed.
- Every refusal is a `domains.common.errors.Refusal` (notes and threads alike), which pages, the API
  and sockets each map one way (docs/adding-a-domain.md, "Refusals").
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from domains.accounts.models import Organisation
from domains.ai.embedders import Embedder, embedder_get
from domains.coaching.chunking import chunk_note, embed_input
from domains.coaching.models import (
    BODY_MAX_BYTES,
    TAG_MAX,
    TAGS_MAX,
    TITLE_MAX,
    CoachThread,
    Note,
    NoteChunk,
    NoteVisibility,
    ThreadMessage,
    ThreadMessageStatus,
    ThreadRole,
)
from domains.coaching.rules import can_edit_note, is_organisation_member, moderates_lounge
from domains.coaching.selectors import thread_message_payload
from domains.common.errors import Refusal
from domains.common.markdown import render_markdown
from domains.compliance.services import audit_record
from domains.lounges.models import Lounge
from domains.lounges.rules import can_view, membership_of
from realtime.models import Stream
from realtime.publish import control_send, publish_on_commit
from workers import enqueue

EMBED_TASK = "workers.tasks.coaching.note_embed_task"
TAG_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# ---------------------------------------------------------------- validation
def note_check(*, title: str, body: str, tags: list[str] | tuple[str, ...]) -> tuple[str, str, list[str]]:
    """Normalise and validate the fields of a note; raise one `Refusal` ("invalid") naming every bad field.

    title: 1..200 characters after trimming. body: at most 100,000 UTF-8 bytes. tags: at most 20,
    each 1..40 characters, lower-case letters and digits joined by single hyphens or underscores;
    case and surrounding spaces are normalised and duplicates dropped.
    """
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors.setdefault("title", []).append("Give the note a title.")
    elif len(title) > TITLE_MAX:
        errors.setdefault("title", []).append(f"A title has at most {TITLE_MAX} characters.")
    if "\x00" in title:
        errors.setdefault("title", []).append("A title cannot contain NUL characters.")
    body = body or ""
    if len(body.encode("utf-8")) > BODY_MAX_BYTES:
        errors.setdefault("body", []).append(f"A note's body has at most {BODY_MAX_BYTES:,} bytes (UTF-8).")
    if "\x00" in body:
        errors.setdefault("body", []).append("A note's body cannot contain NUL characters.")
    clean: list[str] = []
    for raw in tags or ():
        tag = str(raw).strip().lower()
        if not tag or len(tag) > TAG_MAX or not TAG_PATTERN.match(tag):
            errors.setdefault("tags", []).append(
                f"{str(raw)[:50]!r}: a tag is 1 to {TAG_MAX} lower-case letters or digits, joined by - or _."
            )
        elif tag not in clean:
            clean.append(tag)
    if len(clean) > TAGS_MAX:
        errors.setdefault("tags", []).append(f"A note has at most {TAGS_MAX} tags.")
    if errors:
        raise Refusal("invalid", "Some fields are invalid.", fields=errors)
    return title, body, clean


def _check_share(*, user: Any, organisation_id: int, lounge: Lounge) -> None:
    """Sharing needs a lounge's moderator. A lounge the user may not see (another organisation's, a
    hidden one, one they are banned from) is refused like a missing one, whoever fetched it:
    `lounge_get_for_notes` already answers 404 for those, and the refusal must not tell more."""
    if lounge.organisation_id != organisation_id or not can_view(lounge=lounge, membership=membership_of(user, lounge)):
        raise Refusal("not_found", "No such lounge.", field="lounge")
    if not moderates_lounge(user, lounge):
        raise Refusal("not_allowed", "Only the lounge's moderators maintain its shared notes.", field="lounge")


def _audit(
    *, user: Any, note: Note, action: str, lounge_id: int | None, request: HttpRequest | None, **details: Any
) -> None:
    audit_record(
        actor=user,
        organisation=note.organisation,
        action=f"note.{action}",
        target=note,
        details={"note": note.pk, "lounge": lounge_id, **details},
        request=request,
    )


# ---------------------------------------------------------------- writes
@transaction.atomic
def note_create(
    *,
    user: Any,
    organisation: Organisation,
    title: str,
    body: str = "",
    tags: list[str] | tuple[str, ...] = (),
    pinned: bool = False,
    lounge: Lounge | None = None,
    request: HttpRequest | None = None,
) -> Note:
    """Create a private note, or (with `lounge`) a note in that lounge's knowledge base, which only
    its moderators may do. Locks nothing. Enqueues its embedding after commit."""
    title, body, tags = note_check(title=title, body=body, tags=list(tags))
    if not is_organisation_member(user, organisation.pk):
        raise Refusal("not_allowed", "Only members of the organisation write notes in it.")
    if lounge is not None:
        _check_share(user=user, organisation_id=organisation.pk, lounge=lounge)
    note = Note.objects.create(
        organisation=organisation,
        owner=user,
        visibility=NoteVisibility.LOUNGE if lounge is not None else NoteVisibility.PRIVATE,
        lounge=lounge,
        title=title,
        body=body,
        tags=tags,
        pinned=pinned,
    )
    if lounge is not None:
        _audit(user=user, note=note, action="shared_created", lounge_id=lounge.pk, request=request, title=title)
    enqueue(EMBED_TASK, note.pk)
    return note


@transaction.atomic
def note_update(
    *,
    note: Note,
    user: Any,
    title: str | _Unset = UNSET,
    body: str | _Unset = UNSET,
    tags: list[str] | _Unset = UNSET,
    pinned: bool | _Unset = UNSET,
    lounge: Lounge | _Unset | None = UNSET,
    request: HttpRequest | None = None,
) -> Note:
    """Change the given fields (UNSET: unchanged). `lounge=None` makes a shared note private again
    (its owner's); a lounge shares it there (the editor must moderate the target lounge).
    Locks the note row. Re-embeds after commit when the title or body changed."""
    locked = Note.objects.select_for_update(of=("self",)).select_related("lounge", "organisation").get(pk=note.pk)
    if not can_edit_note(user, locked):
        raise Refusal("not_allowed", "You cannot edit this note.")
    new_title, new_body, new_tags = note_check(
        title=locked.title if isinstance(title, _Unset) else title,
        body=locked.body if isinstance(body, _Unset) else body,
        tags=locked.tags if isinstance(tags, _Unset) else tags,
    )
    before_lounge_id = locked.lounge_id
    if not isinstance(lounge, _Unset) and (lounge.pk if lounge else None) != locked.lounge_id:
        if lounge is None:
            if locked.owner_id != user.pk:
                raise Refusal(
                    "not_allowed", "Only the note's author can take it back as a private note.", field="lounge"
                )
            locked.visibility, locked.lounge = NoteVisibility.PRIVATE, None
        else:
            _check_share(user=user, organisation_id=locked.organisation_id, lounge=lounge)
            locked.visibility, locked.lounge = NoteVisibility.LOUNGE, lounge
    changed = [
        name
        for name, old, new in (
            ("title", locked.title, new_title),
            ("body", locked.body, new_body),
            ("tags", locked.tags, new_tags),
            ("pinned", locked.pinned, locked.pinned if isinstance(pinned, _Unset) else pinned),
        )
        if old != new
    ]
    locked.title, locked.body, locked.tags = new_title, new_body, new_tags
    if not isinstance(pinned, _Unset):
        locked.pinned = pinned
    if locked.lounge_id != before_lounge_id:
        changed += ["visibility", "lounge"]
    if not changed:
        return locked
    locked.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
    for lounge_id in {before_lounge_id, locked.lounge_id} - {None}:
        action = (
            "shared_updated"
            if lounge_id == locked.lounge_id == before_lounge_id
            else ("shared_added" if lounge_id == locked.lounge_id else "shared_removed")
        )
        _audit(user=user, note=locked, action=action, lounge_id=lounge_id, request=request, fields=changed)
    if {"title", "body"} & set(changed):
        enqueue(EMBED_TASK, locked.pk)
    return locked


@transaction.atomic
def note_delete(*, note: Note, user: Any, request: HttpRequest | None = None) -> None:
    """Delete a note and (by cascade) every chunk and embedding of it. Locks the note row."""
    locked = (
        Note.objects.select_for_update(of=("self",)).select_related("lounge", "organisation").filter(pk=note.pk).first()
    )
    if locked is None:
        return
    if not can_edit_note(user, locked):
        raise Refusal("not_allowed", "You cannot delete this note.")
    if locked.lounge_id is not None:
        _audit(
            user=user,
            note=locked,
            action="shared_deleted",
            lounge_id=locked.lounge_id,
            request=request,
            title=locked.title,
        )
    locked.delete()


# ---------------------------------------------------------------- embedding
@dataclass(frozen=True)
class NoteEmbedResult:
    note_id: int
    created: int = 0
    reused: int = 0
    updated: int = 0
    deleted: int = 0
    stale: bool = False  # the note changed while embedding: the newer version's task does the work

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def content_hash(embedder: Embedder, text: str) -> str:
    return hashlib.sha256(f"{embedder.name}\x1f{embedder.version}\x1f{text}".encode()).hexdigest()


def note_embed(*, note_id: int, embedder: Embedder | None = None) -> NoteEmbedResult | None:
    """Bring a note's chunks up to date with its text and the active embedder. None if it is gone.

    Idempotent: a chunk whose content hash (embedder, version, exact input) is unchanged keeps its
    row and vector; only new inputs are embedded, outside any lock. The rows are then written under
    the note's row lock, unless the note changed meanwhile (its own task follows)."""
    note = Note.objects.filter(pk=note_id).values("title", "body", "organisation_id").first()
    if note is None:
        return None
    embedder = embedder or embedder_get()
    chunks = chunk_note(note["body"], embedder.limit)
    inputs = [embed_input(note["title"], chunk, embedder.limit) for chunk in chunks]
    hashes = [content_hash(embedder, text) for text in inputs]
    known = set(
        NoteChunk.objects.filter(note_id=note_id, content_hash__in=hashes).values_list("content_hash", flat=True)
    )
    missing = sorted({i for i, h in enumerate(hashes) if h not in known})
    vectors = dict(zip(missing, embedder.embed([inputs[i] for i in missing]), strict=True)) if missing else {}

    with transaction.atomic():
        current = Note.objects.select_for_update().filter(pk=note_id).values("title", "body").first()
        if current is None:
            return None
        if (current["title"], current["body"]) != (note["title"], note["body"]):
            return NoteEmbedResult(note_id=note_id, stale=True)
        pool: dict[str, list[NoteChunk]] = defaultdict(list)
        for row in NoteChunk.objects.filter(note_id=note_id).order_by("ordinal").defer("embedding"):
            pool[row.content_hash].append(row)
        now = timezone.now()
        to_update: list[NoteChunk] = []
        to_create: list[NoteChunk] = []
        reused = 0
        for index, chunk in enumerate(chunks):
            fields = {
                "ordinal": chunk.ordinal,
                "char_start": chunk.char_start,
                "char_end": chunk.char_end,
                "heading_path": chunk.heading_path,
                "text": chunk.text,
            }
            if pool.get(hashes[index]):
                row = pool[hashes[index]].pop(0)
                if any(getattr(row, name) != value for name, value in fields.items()):
                    for name, value in fields.items():
                        setattr(row, name, value)
                    row.updated_at = now
                    to_update.append(row)
                else:
                    reused += 1
                continue
            vector = vectors.get(index)
            if vector is None:  # a row with this hash vanished between the two reads
                vector = embedder.embed([inputs[index]])[0]
            to_create.append(
                NoteChunk(
                    note_id=note_id,
                    organisation_id=note["organisation_id"],
                    embedding=vector,
                    embedder=embedder.name,
                    embedder_version=embedder.version,
                    content_hash=hashes[index],
                    **fields,
                )
            )
        leftovers = [row.pk for rows in pool.values() for row in rows]
        if leftovers:
            NoteChunk.objects.filter(pk__in=leftovers).delete()
        if to_update:
            NoteChunk.objects.bulk_update(
                to_update, ["ordinal", "char_start", "char_end", "heading_path", "text", "updated_at"]
            )
        if to_create:
            NoteChunk.objects.bulk_create(to_create)
    return NoteEmbedResult(
        note_id=note_id, created=len(to_create), reused=reused, updated=len(to_update), deleted=len(leftovers)
    )


# ------------------------------------------------------------------------------------------ coach threads
THREAD_REPLY_TASK = "workers.tasks.coaching.thread_reply_task"
THREAD_TITLE_DEFAULT = "New conversation"
QUESTION_MAX_BYTES = 4096


class ThreadError(Refusal):
    """A refused action in a private coach thread."""


def _thread_check_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise ThreadError("invalid", "Write your question first.", field="body")
    size = len(text.encode("utf-8"))
    if size > QUESTION_MAX_BYTES:
        raise ThreadError(
            "too_long", f"Messages are at most {QUESTION_MAX_BYTES} bytes; this one is {size}.", field="body"
        )
    return text


def _thread_check_title(title: str) -> str:
    text = " ".join(title.split())
    if not text:
        raise ThreadError("invalid", "The title cannot be empty.", field="title")
    if len(text) > TITLE_MAX:
        raise ThreadError("invalid", f"Titles are at most {TITLE_MAX} characters.", field="title")
    return text


def _thread_quota(thread: CoachThread, user: Any) -> None:
    from domains.ai.providers.errors import QuotaExceeded
    from domains.ai.services import ai_quota_check

    try:
        ai_quota_check(organisation=thread.organisation, user=user, feature="coach")
    except QuotaExceeded as refusal:
        raise ThreadError(
            "quota",
            "You have asked the coach too often; try again later.",
            retry_after=float(refusal.retry_after or 60),
        ) from refusal


def _thread_label(thread: CoachThread) -> str:
    from domains.ai.services import provider_for

    return provider_for(organisation=thread.organisation, feature="coach").label


def _thread_locked(thread: CoachThread, user: Any) -> CoachThread:
    locked = CoachThread.objects.select_for_update().filter(pk=thread.pk, owner=user).first()
    if locked is None:
        raise ThreadError("not_found", "No such conversation.")
    return locked


def _reply_start(thread: CoachThread, question: ThreadMessage, request_id: str) -> ThreadMessage:
    reply = ThreadMessage.objects.create(
        thread=thread,
        role=ThreadRole.COACH,
        parent=question,
        status=ThreadMessageStatus.STREAMING,
        request_id=request_id,
        provider_label=_thread_label(thread),
    )
    publish_on_commit(thread.stream, {"type": "message.created", "message": thread_message_payload(reply)})
    enqueue(THREAD_REPLY_TASK, reply.pk)
    return reply


@transaction.atomic
def thread_create(*, user: Any, organisation: Organisation, title: str = "") -> CoachThread:
    if not is_organisation_member(user, organisation.pk):
        raise ThreadError("not_allowed", "Only members of the organisation talk to its coach.")
    return CoachThread.objects.create(
        organisation=organisation, owner=user, title=_thread_check_title(title or THREAD_TITLE_DEFAULT)
    )


@transaction.atomic
def thread_rename(*, thread: CoachThread, user: Any, title: str) -> CoachThread:
    thread = _thread_locked(thread, user)
    thread.title = _thread_check_title(title)
    thread.save(update_fields=["title", "updated_at"])
    publish_on_commit(thread.stream, {"type": "thread.renamed", "title": thread.title})
    return thread


@transaction.atomic
def thread_delete(*, thread: CoachThread, user: Any) -> None:
    """Delete a thread with its messages and stream history; its open sockets close (4404)."""
    thread = _thread_locked(thread, user)
    stream = thread.stream
    for reply in thread.messages.filter(status=ThreadMessageStatus.STREAMING):
        _cancel_reply(reply)
    thread.delete()
    Stream.objects.filter(key=stream).delete()
    control_send(stream, action="force_close", reason="deleted", code=4404)


@transaction.atomic
def thread_message_post(
    *, thread: CoachThread, user: Any, body: str, client_msg_id: str
) -> tuple[ThreadMessage, ThreadMessage | None, bool]:
    """Ask the coach: the question and its streaming reply. Idempotent by `client_msg_id` (a repeat
    returns the first pair, `created=False`). Locks the thread row."""
    if not client_msg_id or len(client_msg_id) > 64:
        raise ThreadError("invalid", "client_msg_id is required (at most 64 characters).", field="client_msg_id")
    text = _thread_check_body(body)
    thread = _thread_locked(thread, user)
    existing = ThreadMessage.objects.filter(thread=thread, client_msg_id=client_msg_id).first()
    if existing is not None:
        return existing, existing.replies.order_by("created_at").first(), False
    if thread.messages.filter(status=ThreadMessageStatus.STREAMING).exists():
        raise ThreadError("busy", "The coach is still answering; wait or stop it first.")
    _thread_quota(thread, user)
    question = ThreadMessage.objects.create(
        thread=thread, role=ThreadRole.USER, body=text, body_html=render_markdown(text), client_msg_id=client_msg_id
    )
    publish_on_commit(thread.stream, {"type": "message.created", "message": thread_message_payload(question)})
    reply = _reply_start(thread, question, request_id=client_msg_id)
    thread.save(update_fields=["updated_at"])
    return question, reply, True


@transaction.atomic
def thread_regenerate(*, thread: CoachThread, user: Any, request_id: str) -> tuple[ThreadMessage, bool]:
    """Answer the last question again; the earlier answers stay as sibling versions. Idempotent by
    `request_id`. Locks the thread row."""
    if not request_id or len(request_id) > 64:
        raise ThreadError("invalid", "request_id is required (at most 64 characters).", field="request_id")
    thread = _thread_locked(thread, user)
    existing = ThreadMessage.objects.filter(thread=thread, request_id=request_id).first()
    if existing is not None:
        return existing, False
    question = thread.messages.filter(role=ThreadRole.USER).order_by("-created_at", "-pk").first()
    if question is None:
        raise ThreadError("invalid", "Ask a question first.")
    if thread.messages.filter(status=ThreadMessageStatus.STREAMING).exists():
        raise ThreadError("busy", "The coach is still answering; wait or stop it first.")
    _thread_quota(thread, user)
    reply = _reply_start(thread, question, request_id=request_id)
    thread.save(update_fields=["updated_at"])
    return reply, True


def _cancel_reply(reply: ThreadMessage) -> None:
    from domains.ai.services import chat_cancel

    transaction.on_commit(lambda: chat_cancel(cancel_key=reply.cancel_key))


@transaction.atomic
def thread_reply_stop(*, reply: ThreadMessage, user: Any) -> ThreadMessage:
    if reply.thread.owner_id != user.pk or reply.role != ThreadRole.COACH:
        raise ThreadError("not_found", "No such reply.")
    if reply.status == ThreadMessageStatus.STREAMING:
        _cancel_reply(reply)
    return reply


@transaction.atomic
def thread_start_about_note(*, user: Any, organisation: Organisation, note: Note, client_msg_id: str) -> CoachThread:
    """ "Ask the coach about this note": a new thread whose first question is about `note`."""
    thread = thread_create(user=user, organisation=organisation, title=f"About: {note.title}"[:TITLE_MAX])
    question = f"Let's talk about my note “{note.title}”. What are its key points, and what should I do next?"
    thread_message_post(thread=thread, user=user, body=question, client_msg_id=client_msg_id)
    return thread
