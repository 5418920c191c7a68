"""Writes for notes (create, update, delete, embedding).

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
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from domains.accounts.models import Organisation, User
from domains.ai.embedders import Embedder, embedder_get
from domains.common.errors import Refusal
from domains.compliance.services import audit_record
from domains.lounges.models import Lounge
from domains.lounges.rules import can_view, membership_of
from domains.notes.chunking import Chunk, chunk_note, embed_input
from domains.notes.models import BODY_MAX_BYTES, TAG_MAX, TAGS_MAX, TITLE_MAX, Note, NoteChunk, NoteVisibility
from domains.notes.rules import can_edit_note, is_organisation_member, moderates_lounge
from workers import enqueue

EMBED_TASK = "workers.tasks.notes.note_embed_task"
TAG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# ---------------------------------------------------------------- validation
def tag_slug(raw: str) -> str:
    """A tag as people type it, as a slug: lower case, accents folded, spaces and underscores to
    single hyphens, other punctuation dropped ("STAR Method" and "star_method" are `star-method`)."""
    return slugify(raw.replace("_", " ")).strip("-")


def note_check(*, title: str, body: str, tags: list[str] | tuple[str, ...]) -> tuple[str, str, list[str]]:
    """Normalise and validate the fields of a note; raise one `Refusal` ("invalid") naming every bad field.

    title: 1..200 characters after trimming. body: at most 100,000 UTF-8 bytes. tags: at most 20,
    each slugified (`tag_slug`: "STAR Method" is `star-method`) to 1..40 characters; duplicates
    are dropped, and a tag with no letter or digit left is refused.
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
        tag = tag_slug(str(raw))
        if not tag or len(tag) > TAG_MAX or not TAG_PATTERN.match(tag):
            errors.setdefault("tags", []).append(
                f"{str(raw)[:50]!r}: a tag is 1 to {TAG_MAX} lower-case letters or digits, joined by hyphens"
                " (spaces and underscores become hyphens; other punctuation is dropped)."
            )
        elif tag not in clean:
            clean.append(tag)
    if len(clean) > TAGS_MAX:
        errors.setdefault("tags", []).append(f"A note has at most {TAGS_MAX} tags.")
    if errors:
        raise Refusal("invalid", "Some fields are invalid.", fields=errors)
    return title, body, clean


def _check_share(*, user: User, organisation_id: int, lounge: Lounge) -> None:
    """Sharing needs a lounge's moderator. A lounge the user may not see (another organisation's, a
    hidden one, one they are banned from) is refused like a missing one, whoever fetched it:
    `lounge_get_for_notes` already answers 404 for those, and the refusal must not tell more."""
    if lounge.organisation_id != organisation_id or not can_view(lounge=lounge, membership=membership_of(user, lounge)):
        raise Refusal("not_found", "No such lounge.", field="lounge")
    if not moderates_lounge(user, lounge):
        raise Refusal("not_allowed", "Only the lounge's moderators maintain its shared notes.", field="lounge")


def _audit(*, user: User, note: Note, action: str, lounge: Lounge, request: HttpRequest | None, **details: Any) -> None:
    """A change to a shared note, with the lounge's slug and title as the audit line shows them
    (compliance reads no lounge table)."""
    audit_record(
        actor=user,
        organisation=note.organisation,
        action=f"note.{action}",
        target=note,
        details={
            "note": note.pk,
            "lounge": lounge.pk,
            "lounge_slug": lounge.slug,
            "lounge_title": lounge.title,
            **details,
        },
        request=request,
    )


# ---------------------------------------------------------------- writes
@transaction.atomic
def note_create(
    *,
    user: User,
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
        _audit(user=user, note=note, action="shared_created", lounge=lounge, request=request, title=title)
    enqueue(EMBED_TASK, note.pk)
    return note


@transaction.atomic
def note_update(
    *,
    note: Note,
    user: User,
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
    before_lounge = locked.lounge
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
    if locked.lounge != before_lounge:
        changed += ["visibility", "lounge"]
    if not changed:
        return locked
    locked.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
    for touched in {shared for shared in (before_lounge, locked.lounge) if shared is not None}:
        action = (
            "shared_updated"
            if touched == locked.lounge == before_lounge
            else ("shared_added" if touched == locked.lounge else "shared_removed")
        )
        _audit(user=user, note=locked, action=action, lounge=touched, request=request, fields=changed)
    if {"title", "body"} & set(changed):
        enqueue(EMBED_TASK, locked.pk)
    return locked


@transaction.atomic
def note_delete(*, note: Note, user: User, request: HttpRequest | None = None) -> None:
    """Delete a note and (by cascade) every chunk and embedding of it. Locks the note row."""
    locked = (
        Note.objects.select_for_update(of=("self",)).select_related("lounge", "organisation").filter(pk=note.pk).first()
    )
    if locked is None:
        return
    if not can_edit_note(user, locked):
        raise Refusal("not_allowed", "You cannot delete this note.")
    if locked.lounge is not None:
        _audit(
            user=user,
            note=locked,
            action="shared_deleted",
            lounge=locked.lounge,
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


@dataclass
class _ChunkPlan:
    """What writing one note's chunks takes: rows kept as they are, rows whose span moved, new rows,
    and the rows no chunk claimed (to delete)."""

    reused: int = 0
    to_update: list[NoteChunk] = field(default_factory=list)
    to_create: list[NoteChunk] = field(default_factory=list)
    leftovers: list[int] = field(default_factory=list)


_CHUNK_SPAN_FIELDS = ("ordinal", "char_start", "char_end", "heading_path", "text")


def _chunk_plan(
    *,
    note_id: int,
    organisation_id: int,
    chunks: list[Chunk],
    inputs: list[str],
    hashes: list[str],
    vectors: dict[int, list[float]],
    embedder: Embedder,
) -> _ChunkPlan:
    """Match today's chunks to the stored rows by content hash (under the note's lock)."""
    pool: dict[str, list[NoteChunk]] = defaultdict(list)
    for row in NoteChunk.objects.filter(note_id=note_id).order_by("ordinal").defer("embedding"):
        pool[row.content_hash].append(row)
    now = timezone.now()
    plan = _ChunkPlan()
    for index, chunk in enumerate(chunks):
        fields = {name: getattr(chunk, name) for name in _CHUNK_SPAN_FIELDS}
        if pool.get(hashes[index]):
            row = pool[hashes[index]].pop(0)
            if all(getattr(row, name) == value for name, value in fields.items()):
                plan.reused += 1
                continue
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            plan.to_update.append(row)
            continue
        vector = vectors.get(index)
        if vector is None:  # a row with this hash vanished between the two reads
            vector = embedder.embed([inputs[index]])[0]
        plan.to_create.append(
            NoteChunk(
                note_id=note_id,
                organisation_id=organisation_id,
                embedding=vector,
                embedder=embedder.name,
                embedder_version=embedder.version,
                content_hash=hashes[index],
                **fields,
            )
        )
    plan.leftovers = [row.pk for rows in pool.values() for row in rows]
    return plan


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
        plan = _chunk_plan(
            note_id=note_id,
            organisation_id=note["organisation_id"],
            chunks=chunks,
            inputs=inputs,
            hashes=hashes,
            vectors=vectors,
            embedder=embedder,
        )
        if plan.leftovers:
            NoteChunk.objects.filter(pk__in=plan.leftovers).delete()
        if plan.to_update:
            NoteChunk.objects.bulk_update(plan.to_update, [*_CHUNK_SPAN_FIELDS, "updated_at"])
        if plan.to_create:
            NoteChunk.objects.bulk_create(plan.to_create)
    return NoteEmbedResult(
        note_id=note_id,
        created=len(plan.to_create),
        reused=plan.reused,
        updated=len(plan.to_update),
        deleted=len(plan.leftovers),
    )
