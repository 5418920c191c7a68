"""Notes pages: the list with tag chips and hybrid search (an htmx partial that also works as a
plain GET form), create and edit with a live Markdown preview, the note itself with a cited
passage highlighted in it, and delete.

Every lookup goes through the selectors, scoped by the organisation bound to the session: a note
the user may not read answers 404, exactly like a missing one. Writes go through the services,
whose field errors are shown next to their fields with the person's input kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
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
_CITE_OPEN, _CITE_CLOSE = "\ue002", "\ue003"
_NO_CITE_MARKS = str.maketrans("", "", _CITE_OPEN + _CITE_CLOSE)
# Line prefixes that must stay first on their line for the Markdown to mean the same: a start mark
# goes after them. A fence line's mark goes on the next line (inside the code).
_BLOCK_PREFIX = re.compile(r"(?:[ \t]{0,3}(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,9}[.)][ \t]+))*")
_FENCE_LINE = re.compile(r"[ \t]{0,3}(?:`{3,}|~{3,})[^\n]*(?:\n|$)")
# Elements whose text children are only whitespace: a <mark> there would be invalid HTML.
_NO_TEXT_PARENTS = frozenset({"ul", "ol", "table", "thead", "tbody", "tr"})


class _CitedHighlighter(HTMLParser):
    """Re-emits sanitised HTML as is, wrapping the text between the two cite marks in <mark>s (one
    per run of text between tags, so the marks nest inside whatever blocks the passage spans)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.text: list[str] = []  # the run of text since the last tag, entities as written
        self.stack: list[str] = []
        self.inside = False
        self.marks = 0
        self.failed = False

    def _tag(self, text: str) -> None:
        self._flush()
        if _CITE_OPEN in text or _CITE_CLOSE in text:
            self.failed = True  # a mark inside an attribute: the passage starts inside markup
        self.out.append(text)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._tag(self.get_starttag_text() or "")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self._tag(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self._tag(f"</{tag}>")
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_entityref(self, name: str) -> None:
        self.text.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.text.append(f"&#{name};")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        run, self.text = "".join(self.text), []
        for index, part in enumerate(re.split(f"([{_CITE_OPEN}{_CITE_CLOSE}])", run)):
            if index % 2:
                self.inside = part == _CITE_OPEN
            elif self.inside and part.strip() and not (self.stack and self.stack[-1] in _NO_TEXT_PARENTS):
                first = ' id="cited-passage"' if not self.marks else ""
                self.marks += 1
                self.out.append(f'<mark class="cited"{first} data-cited-mark>{part}</mark>')
            else:
                self.out.append(part)


def _mark_positions(body: str, start: int, end: int) -> tuple[int, int]:
    """Where the marks go so that inserting them changes no block: after a line's block markup at the
    start, and before trailing blank lines (and a closing fence) at the end."""
    if start == 0 or body[start - 1] == "\n":
        fence = _FENCE_LINE.match(body, start)
        if fence and fence.end() < end:
            start = fence.end()
        else:
            prefix = _BLOCK_PREFIX.match(body, start)
            start = prefix.end() if prefix and prefix.end() < end else start
    text = body[start:end].rstrip()
    last_line = text.rsplit("\n", 1)
    if len(last_line) == 2 and _FENCE_LINE.fullmatch(last_line[1]):
        text = last_line[0]
    return start, start + max(len(text), 1)


def highlight_passage(body: str, start: int, end: int) -> str:
    """The note rendered with the passage [start, end) inside <mark>s, or "" when that cannot be done
    without changing how the note renders (the caller then shows the passage above the note).

    The marks go in as private-use characters before rendering, so the passage is found in the
    sanitised HTML exactly; the result is accepted only if, without them, it is the same HTML."""
    if _CITE_OPEN in body or _CITE_CLOSE in body:
        return ""
    first, last = _mark_positions(body, start, end)
    rendered = render_markdown(body[:first] + _CITE_OPEN + body[first:last] + _CITE_CLOSE + body[last:])
    if rendered.translate(_NO_CITE_MARKS) != render_markdown(body):
        return ""
    highlighter = _CitedHighlighter()
    highlighter.feed(rendered)
    highlighter.close()
    if highlighter.failed or not highlighter.marks:
        return ""
    return "".join(highlighter.out)


def _cited_passage(note: Note, raw: str) -> dict[str, Any] | None:
    """`?passage=<start>-<end>`: character offsets into the body, as a citation gives them. The
    passage is highlighted inside the note (`html`), else shown above it as rendered text (`excerpt`)."""
    match = PASSAGE.match(raw or "")
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    if not 0 <= start < end <= len(note.body):
        return {"missing": True}
    highlighted = highlight_passage(note.body, start, end)
    if highlighted:
        return {"html": highlighted, "start": start, "end": end}
    return {"excerpt": render_markdown(note.body[start:end]), "start": start, "end": end}


@login_required
@require_GET
def note_detail(request: AuthenticatedRequest, note_id: int) -> HttpResponse:
    note = note_get_for_user(note_id=note_id, user=request.user, organisation=organisation_or_404(request))
    passage = _cited_passage(note, request.GET.get("passage", ""))
    context = {
        "note": note,
        "html": passage["html"] if passage and "html" in passage else render_markdown(note.body),
        "passage": passage,
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
