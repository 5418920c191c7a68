"""Notes pages over HTTP: the list (scoping, tags, search), the form (validation, sharing), the note
with its cited passage, the preview, and delete.

What a person may not read answers 404, exactly like a note that does not exist.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from domains.notes.models import Note, NoteVisibility
from tests.domains.notes.helpers import embedded_note
from tests.factories.notes import NoteFactory

pytestmark = pytest.mark.django_db


def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def text_of(response: Any) -> str:
    return response.content.decode()


def note_ids(response: Any) -> list[int]:
    """The note ids listed on the page, in order."""
    return [int(n) for n in re.findall(r'data-note-id="(\d+)"', text_of(response))]


# ------------------------------------------------------------------------------------------ the list
def test_the_list_shows_own_and_lounge_notes_only_pinned_first(client: Client, world: Any) -> None:
    """A learner sees their private notes and the notes shared with their lounges, pinned first;
    never another person's private note, a lounge they are not in, or another organisation."""
    own = NoteFactory.create(organisation=world.org, owner=world.learner, title="My plan")
    pinned = NoteFactory.create(organisation=world.org, owner=world.learner, title="Pinned plan", pinned=True)
    shared = NoteFactory.create(organisation=world.org, owner=world.moderator, lounge=world.lounge, title="Room rules")
    NoteFactory.create(organisation=world.org, owner=world.outsider, title="Outsider secret")
    NoteFactory.create(organisation=world.org, owner=world.outsider, lounge=world.other_lounge, title="Other room")
    NoteFactory.create(organisation=world.other_org, owner=world.foreigner, title="Foreign note")
    signed_in(client, world.learner)

    response = client.get("/notes/")

    assert response.status_code == 200
    ids = note_ids(response)
    assert ids[0] == pinned.pk
    assert set(ids) == {own.pk, pinned.pk, shared.pk}
    body = text_of(response)
    assert "Outsider secret" not in body
    assert "Other room" not in body
    assert "Foreign note" not in body
    assert "shared · " in body  # the shared note says where it lives


def test_the_tag_filter_shows_only_tagged_notes_and_offers_chips(client: Client, world: Any) -> None:
    """`?tag=` filters exactly; every tag in use is offered as a chip, the chosen one marked current."""
    star = NoteFactory.create(organisation=world.org, owner=world.learner, tags=["star", "interviews"])
    NoteFactory.create(organisation=world.org, owner=world.learner, tags=["salary"])
    NoteFactory.create(organisation=world.org, owner=world.outsider, tags=["star"])
    signed_in(client, world.learner)

    response = client.get("/notes/?tag=star")

    assert note_ids(response) == [star.pk]
    body = text_of(response)
    assert re.search(r'href="/notes/\?tag=star" aria-current="true"', body)
    assert 'href="/notes/?tag=salary"' in body
    assert 'href="/notes/?tag=interviews"' in body
    assert "1 note tagged #star." in body


def test_the_list_has_a_bounded_number_of_queries(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    """The list page does not query per note."""
    for index in range(8):
        NoteFactory.create(organisation=world.org, owner=world.learner, tags=[f"t{index}"])
        NoteFactory.create(organisation=world.org, owner=world.moderator, lounge=world.lounge)
    signed_in(client, world.learner)
    client.get("/notes/")  # warm the session and caches

    with django_assert_max_num_queries(12):
        response = client.get("/notes/")
    assert len(note_ids(response)) == 16


# ------------------------------------------------------------------------------------------ search
def test_search_returns_marked_snippets_and_never_another_users_private_note(client: Client, world: Any) -> None:
    """The htmx partial lists the best passages with <mark> around the matched words; another
    learner's private note with the same words is never among them; the address bar follows."""
    mine = embedded_note(
        organisation=world.org,
        owner=world.learner,
        title="Interview stories",
        body="Use the STAR method: situation, task, action, result. Keep answers <short> & concrete.",
    )
    embedded_note(
        organisation=world.org,
        owner=world.outsider,
        title="Outsider STAR secrets",
        body="The STAR method is my secret weapon for every interview answer.",
    )
    signed_in(client, world.learner)

    response = client.get("/notes/search/", {"q": "STAR method"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = text_of(response)
    assert "Interview stories" in body
    assert "Outsider STAR secrets" not in body
    assert "secret weapon" not in body
    assert "<mark>STAR</mark>" in body
    assert "&lt;short&gt; &amp; concrete" in body or "<short>" not in body  # the note's text stays escaped
    assert f'href="/notes/{mine.pk}/?passage=' in body
    assert 'id="notes-status"' in body
    assert 'hx-swap-oob="true"' in body
    assert response["HX-Replace-Url"] == "/notes/?q=STAR+method"


def test_search_works_without_javascript_on_the_list_page(client: Client, world: Any) -> None:
    """The same search as a plain GET form on /notes/ renders the results in the full page."""
    embedded_note(organisation=world.org, owner=world.learner, title="Salary talk", body="Negotiate the salary late.")
    signed_in(client, world.learner)

    response = client.get("/notes/", {"q": "salary"})

    body = text_of(response)
    assert "<mark>salary</mark>" in body.lower()
    assert 'value="salary"' in body
    assert "<!DOCTYPE html>" in body


# ------------------------------------------------------------------------------------------ the form
def test_a_refused_create_keeps_every_field_and_creates_nothing(client: Client, world: Any) -> None:
    """A blank title and a bad tag are reported next to their fields; the text, tags and pin the
    person entered come back in the form; no note is made."""
    signed_in(client, world.learner)

    response = client.post(
        "/notes/new/",
        {"title": "   ", "body": "My long *draft* <keep> this", "tags": "good, !!!", "pinned": "on"},
    )

    assert response.status_code == 400
    body = text_of(response)
    assert "Give the note a title." in body
    assert "a tag is 1 to 40 lower-case letters or digits" in body
    assert "My long *draft* &lt;keep&gt; this</textarea>" in body
    assert 'value="good, !!!"' in body
    assert re.search(r'name="pinned"\s+checked', body)
    assert 'aria-invalid="true"' in body
    assert Note.objects.count() == 0


def test_a_note_is_created_with_its_tags_and_pin(client: Client, world: Any) -> None:
    signed_in(client, world.learner)

    response = client.post("/notes/new/", {"title": "Plan", "body": "# Goals\n\nShip it.", "tags": "plans, q3"})

    note = Note.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/notes/{note.pk}/"
    assert (note.owner, note.visibility, note.tags, note.pinned) == (world.learner, "private", ["plans", "q3"], False)


def test_a_refused_edit_keeps_the_input_and_changes_nothing(client: Client, world: Any) -> None:
    note = NoteFactory.create(organisation=world.org, owner=world.learner, title="Before", body="Old body")
    signed_in(client, world.learner)

    response = client.post(f"/notes/{note.pk}/edit/", {"title": "", "body": "New words I typed", "tags": ""})

    assert response.status_code == 400
    assert "New words I typed</textarea>" in text_of(response)
    note.refresh_from_db()
    assert (note.title, note.body) == ("Before", "Old body")


def test_only_moderated_lounges_are_offered_for_sharing(client: Client, world: Any) -> None:
    """A learner who moderates no lounge gets no choice; a moderator is offered exactly the lounges
    they moderate (not those they only belong to)."""
    signed_in(client, world.learner)
    learner_form = text_of(client.get("/notes/new/"))
    assert 'name="lounge" value=""' in learner_form
    assert "<select" not in learner_form

    client.logout()
    signed_in(client, world.moderator)
    moderator_form = text_of(client.get("/notes/new/"))
    options = re.findall(r'<option value="(\d*)"', moderator_form)
    assert options == ["", str(world.lounge.pk)]


@pytest.mark.parametrize("who", ["learner", "moderator"])
def test_sharing_to_a_lounge_one_does_not_moderate_is_refused(client: Client, world: Any, who: str) -> None:
    """A member (or a moderator of another lounge) cannot share into a lounge; nothing is created
    and the form says why, with the input kept."""
    signed_in(client, getattr(world, who))
    target = world.lounge if who == "learner" else world.other_lounge

    response = client.post("/notes/new/", {"title": "Shared?", "body": "Text", "lounge": str(target.pk)})

    assert response.status_code == 400
    assert "Only the lounge&#x27;s moderators maintain its shared notes." in text_of(response)
    assert 'value="Shared?"' in text_of(response)
    assert Note.objects.count() == 0


def test_a_foreign_lounge_id_is_a_field_error(client: Client, world: Any) -> None:
    from tests.factories.lounges import LoungeFactory

    foreign = LoungeFactory.create(organisation=world.other_org)
    signed_in(client, world.moderator)

    response = client.post("/notes/new/", {"title": "Sneaky", "lounge": str(foreign.pk)})

    assert response.status_code == 400
    assert "Choose private, or one of the lounges you moderate." in text_of(response)
    assert Note.objects.count() == 0


def test_a_moderator_shares_a_note_with_their_lounge(client: Client, world: Any) -> None:
    signed_in(client, world.moderator)

    client.post("/notes/new/", {"title": "Room guide", "body": "Be kind.", "lounge": str(world.lounge.pk)})

    note = Note.objects.get()
    assert (note.visibility, note.lounge) == (NoteVisibility.LOUNGE, world.lounge)


# ------------------------------------------------------------------------------------------ one note
@pytest.mark.parametrize("owner", ["outsider", "foreigner"])
def test_a_note_one_cannot_read_is_not_found(client: Client, world: Any, owner: str) -> None:
    """Another learner's private note and another organisation's note answer 404 (page, edit, delete)."""
    organisation = world.other_org if owner == "foreigner" else world.org
    note = NoteFactory.create(organisation=organisation, owner=getattr(world, owner))
    signed_in(client, world.learner)

    assert client.get(f"/notes/{note.pk}/").status_code == 404
    assert client.get(f"/notes/{note.pk}/edit/").status_code == 404
    assert client.post(f"/notes/{note.pk}/delete/").status_code == 404
    assert Note.objects.filter(pk=note.pk).exists()


def test_a_lounge_note_is_readable_by_members_but_editable_by_moderators_only(client: Client, world: Any) -> None:
    note = NoteFactory.create(organisation=world.org, owner=world.moderator, lounge=world.lounge, title="Rules")
    signed_in(client, world.learner)

    page = client.get(f"/notes/{note.pk}/")
    assert page.status_code == 200
    assert f"/notes/{note.pk}/edit/" not in text_of(page)
    assert client.get(f"/notes/{note.pk}/edit/").status_code == 404
    assert client.post(f"/notes/{note.pk}/delete/").status_code == 404


def test_the_cited_passage_is_highlighted_in_the_note_escaped(client: Client, world: Any) -> None:
    """`?passage=start-end` marks body[start:end] inside the rendered note, as text, and a box above
    says so (no character offsets); a span outside the body says the passage is gone; no
    parameter, no box."""
    body = "Intro line.\n\nSay <b>why</b> & how you chose it.\n\nOutro."
    note = NoteFactory.create(organisation=world.org, owner=world.learner, body=body)
    start = body.index("Say")
    end = body.index("it.") + 3
    signed_in(client, world.learner)

    response = client.get(f"/notes/{note.pk}/?passage={start}-{end}")

    page = text_of(response)
    box = re.search(r"<aside class=\"cited-passage\".*?</aside>", page, re.DOTALL)
    assert box, page
    assert "Cited passage" in box.group(0)
    assert "Characters" not in box.group(0)
    assert page.index("cited-passage") < page.index("data-note-body")
    note_body = page[page.index("data-note-body") :]
    assert (
        '<p><mark class="cited" id="cited-passage" data-cited-mark>Say &lt;b&gt;why&lt;/b&gt; &amp; how you chose it.'
        "</mark></p>"
    ) in note_body
    assert "<p>Intro line.</p>" in note_body
    assert "<p>Outro.</p>" in note_body
    assert note_body.count("data-cited-mark") == 1

    gone = text_of(client.get(f"/notes/{note.pk}/?passage=5-{len(body) + 10}"))
    assert "no longer in this note" in gone
    assert "cited-passage" not in text_of(client.get(f"/notes/{note.pk}/"))
    assert "cited-passage" not in text_of(client.get(f"/notes/{note.pk}/?passage=oops"))


def test_the_note_page_offers_to_ask_the_coach_about_it(client: Client, world: Any) -> None:
    note = NoteFactory.create(organisation=world.org, owner=world.learner, tags=["star"])
    signed_in(client, world.learner)

    page = text_of(client.get(f"/notes/{note.pk}/"))

    form = re.search(r'<form method="post" action="/coach/new/".*?</form>', page, re.DOTALL)
    assert form
    assert f'name="note_id" value="{note.pk}"' in form.group(0)
    assert "Ask the coach about this note" in form.group(0)
    assert 'href="/notes/?tag=star"' in page


def test_the_owner_deletes_a_note(client: Client, world: Any) -> None:
    note = NoteFactory.create(organisation=world.org, owner=world.learner)
    signed_in(client, world.learner)

    response = client.post(f"/notes/{note.pk}/delete/")

    assert response.status_code == 302
    assert response["Location"] == "/notes/"
    assert not Note.objects.filter(pk=note.pk).exists()
    assert client.get(f"/notes/{note.pk}/delete/").status_code == 405


# ------------------------------------------------------------------------------------------ preview
def test_the_preview_escapes_raw_html_and_drops_images(client: Client, world: Any) -> None:
    signed_in(client, world.learner)

    response = client.post(
        "/notes/preview/",
        {
            "body": '**bold** <script>alert(1)</script> <img src="http://evil.example/x.png"> ![pic](http://evil.example/y.png)'
        },
    )

    html = text_of(response)
    assert response.status_code == 200
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html
    assert "evil.example/y.png" not in html


def test_the_preview_needs_a_csrf_token(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.learner)

    assert client.post("/notes/preview/", {"body": "x"}).status_code == 403


# ------------------------------------------------------------------------------------------ navigation
def test_the_navigation_lists_notes_and_coach_for_members(client: Client, world: Any) -> None:
    signed_in(client, world.learner)

    page = text_of(client.get("/notes/"))

    assert '<a href="/notes/" aria-current="page">Notes</a>' in page
    assert '<a href="/coach/">Coach</a>' in page
