"""Notes pages: the list with tag chips and hybrid search (an htmx partial that also works as a
plain GET form), create and edit with a live Markdown preview, the note itself with a cited
passage, and delete.

Every lookup goes through the selectors, scoped by the organisation bound to the session: a note
the user may not read answers 404, exactly like a missing one. Writes go through the services,
whose field errors are shown next to their fields with the person's input kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form
from domains.common.markdown import render_markdown
from domains.lounges.models import Lounge
from domains.notes import services
from domains.notes.models import BODY_MAX_BYTES, TAG_MAX, TITLE_MAX, Note
from domains.notes.retrieval import notes_search
from domains.notes.rules import can_edit_note
from domains.notes.selectors import (
    lounge_get_for_notes,
    lounges_shareable_into,
    note_get_for_user,
    note_list_for_user,
)

SEARCH_RESULTS = 12
QUERY_MAX = 500
PREVIEW_MAX_BYTES = BODY_MAX_BYTES
PASSAGE = re.compile(r"^(\d{1,9})-(\d{1,9})$")
PRIVATE = ""  # the visibility choice's value for "private"


def _moderated_lounges(request: AuthenticatedRequest) -> list[Lounge]:
    """The lounges this user may share a note into (the service checks again on every write)."""
    return lounges_shareable_into(user=request.user, organisation=organisation_or_404(request))


def _tags_of(notes: Any) -> list[str]:
    """Every tag in use among `notes`, sorted: the filter chips."""
    return sorted({tag for tags in notes.values_list("tags", flat=True) for tag in tags})


# ------------------------------------------------------------------------------------ the list
def _list_context(request: AuthenticatedRequest) -> dict[str, Any]:
    organisation = organisation_or_404(request)
    tag = request.GET.get("tag", "").strip().lower()[:TAG_MAX]
    query = " ".join(request.GET.get("q", "").split())[:QUERY_MAX]
    readable = note_list_for_user(user=request.user, organisation=organisation)
    context: dict[str, Any] = {"tag": tag, "query": query, "all_tags": _tags_of(readable)}
    if query:
        context["hits"] = notes_search(
            organisation=organisation, user=request.user, query=query, k=SEARCH_RESULTS, load_models=False
        )
    else:
        context["notes"] = note_list_for_user(
            user=request.user, organisation=organisation, tag=tag or None
        ).select_related("lounge")
    return context


@login_required
@require_GET
def note_list(request: AuthenticatedRequest) -> HttpResponse:
    """The notes the user reads, pinned first; `?tag=` filters, `?q=` searches (hybrid)."""
    return render(request, "notes/note_list.html", _list_context(request))


@login_required
@require_GET
def note_search(request: AuthenticatedRequest) -> HttpResponse:
    """The results region of the list page alone (htmx swaps it in as the person types); the
    address bar follows (replaced, not pushed: one history entry per search, not per key)."""
    context = _list_context(request)
    response = render(request, "notes/_note_search.html", context)
    params: dict[str, str] = {}
    if context["query"]:
        params["q"] = context["query"]
    elif context["tag"]:
        params["tag"] = context["tag"]
    response["HX-Replace-Url"] = reverse("notes:list") + (f"?{urlencode(params)}" if params else "")
    return response


# ------------------------------------------------------------------------------------ the form
@dataclass
class NoteForm:
    """What the person typed, as typed, with the services' errors by field."""

    fields: ClassVar[tuple[str, ...]] = ("title", "body", "tags", "lounge")  # shown beside their inputs
    title: str = ""
    body: str = ""
    tags: str = ""
    pinned: bool = False
    lounge: str = PRIVATE
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_note(cls, note: Note) -> NoteForm:
        return cls(
            title=note.title,
            body=note.body,
            tags=", ".join(note.tags),
            pinned=note.pinned,
            lounge=str(note.lounge_id) if note.lounge_id else PRIVATE,
        )

    @classmethod
    def from_post(cls, data: Any) -> NoteForm:
        return cls(
            title=data.get("title", ""),
            body=data.get("body", ""),
            tags=data.get("tags", ""),
            pinned=data.get("pinned") in ("on", "true", "1"),
            lounge=data.get("lounge", PRIVATE).strip(),
        )

    @property
    def tag_list(self) -> list[str]:
        return [part.strip() for part in self.tags.split(",") if part.strip()]

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def add_error(self, field: str | None, error: str) -> None:
        """Django's `Form.add_error` signature, so `refusal_to_form` fills it; None: above the form."""
        self.add(field or "general", error)


def _chosen_lounge(request: AuthenticatedRequest, form: NoteForm) -> Lounge | None:
    """The lounge picked in the form, or None for private. Only lounges offered (moderated by the
    user) can be picked; anything else is a field error, never a lookup by a foreign id."""
    if form.lounge == PRIVATE:
        return None
    if not form.lounge.isdigit():
        form.add("lounge", "Choose private, or one of the lounges you moderate.")
        return None
    try:
        return lounge_get_for_notes(
            lounge_id=int(form.lounge), organisation=organisation_or_404(request), user=request.user
        )
    except Http404:
        form.add("lounge", "Choose private, or one of the lounges you moderate.")
        return None


def _render_form(
    request: AuthenticatedRequest, form: NoteForm, *, note: Note | None = None, status: int = 200
) -> HttpResponse:
    lounges = _moderated_lounges(request)
    offered = {str(lounge.pk) for lounge in lounges}
    # A note shared with a lounge the editor does not moderate cannot be edited at all; but keep
    # whatever was chosen visible so nothing silently changes.
    is_owner = note is None or note.owner_id == request.user.pk
    context = {
        "form": form,
        "note": note,
        "lounges": lounges,
        "private_allowed": is_owner,
        "unknown_lounge": form.lounge not in offered and form.lounge != PRIVATE,
        "preview_html": render_markdown(form.body) if form.body else "",
        "limits": {"title": TITLE_MAX, "body": BODY_MAX_BYTES, "tag": TAG_MAX},
    }
    return render(request, "notes/note_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def note_create(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    if request.method == "GET":
        return _render_form(request, NoteForm())
    form = NoteForm.from_post(request.POST)
    lounge = _chosen_lounge(request, form)
    if form.errors:
        return _render_form(request, form, status=400)
    try:
        note = services.note_create(
            user=request.user,
            organisation=organisation,
            title=form.title,
            body=form.body,
            tags=form.tag_list,
            pinned=form.pinned,
            lounge=lounge,
            request=request,
        )
    except Refusal as refusal:
        refusal_to_form(form, refusal)
        return _render_form(request, form, status=400)
    messages.success(request, "Note saved.")
    return redirect("notes:detail", note_id=note.pk)


@login_required
@require_http_methods(["GET", "POST"])
def note_edit(request: AuthenticatedRequest, note_id: int) -> HttpResponse:
    note = note_get_for_user(note_id=note_id, user=request.user, organisation=organisation_or_404(request))
    if not can_edit_note(request.user, note):
        raise Http404("No such note.")  # readable but not editable: the page does not exist for them
    if request.method == "GET":
        return _render_form(request, NoteForm.from_note(note), note=note)
    form = NoteForm.from_post(request.POST)
    lounge = _chosen_lounge(request, form)
    if form.errors:
        return _render_form(request, form, note=note, status=400)
    try:
        note = services.note_update(
            note=note,
            user=request.user,
            title=form.title,
            body=form.body,
            tags=form.tag_list,
            pinned=form.pinned,
            lounge=lounge,
            request=request,
        )
    except Refusal as refusal:
        refusal_to_form(form, refusal)
        return _render_form(request, form, note=note, status=400)
    messages.success(request, "Note saved.")
    return redirect("notes:detail", note_id=note.pk)


@login_required
@require_POST
def note_preview(request: AuthenticatedRequest) -> HttpResponse:
    """The body rendered exactly as the note page will show it (raw HTML off, images dropped)."""
    body = request.POST.get("body", "")
    if len(body.encode("utf-8")) > PREVIEW_MAX_BYTES:
        return render(request, "notes/_preview.html", {"too_long": True, "limit": PREVIEW_MAX_BYTES})
    return render(request, "notes/_preview.html", {"html": render_markdown(body) if body.strip() else ""})


# ------------------------------------------------------------------------------------ one note
def _cited_passage(note: Note, raw: str) -> dict[str, Any] | None:
    """`?passage=<start>-<end>`: character offsets into the body, as a citation gives them."""
    match = PASSAGE.match(raw or "")
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    if not 0 <= start < end <= len(note.body):
        return {"missing": True}
    return {"text": note.body[start:end], "start": start, "end": end}


@login_required
@require_GET
def note_detail(request: AuthenticatedRequest, note_id: int) -> HttpResponse:
    note = note_get_for_user(note_id=note_id, user=request.user, organisation=organisation_or_404(request))
    context = {
        "note": note,
        "html": render_markdown(note.body),
        "passage": _cited_passage(note, request.GET.get("passage", "")),
        "can_edit": can_edit_note(request.user, note),
        "is_owner": note.owner_id == request.user.pk,
    }
    return render(request, "notes/note_detail.html", context)


@login_required
@require_POST
def note_delete(request: AuthenticatedRequest, note_id: int) -> HttpResponse:
    note = note_get_for_user(note_id=note_id, user=request.user, organisation=organisation_or_404(request))
    if not can_edit_note(request.user, note):
        raise Http404("No such note.")
    services.note_delete(note=note, user=request.user, request=request)
    messages.success(request, f"Deleted “{note.title}”.")
    return redirect(reverse("notes:list"))
