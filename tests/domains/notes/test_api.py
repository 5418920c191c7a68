"""/api/v1/notes: CRUD, field-by-field validation, 404 for what is not yours, CSRF, search."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from domains.compliance.models import AuditEvent
from domains.notes.models import Note, NoteChunk
from tests.domains.notes.helpers import World, embedded_note
from tests.factories.lounges import LoungeFactory

URL = "/api/v1/notes"


def _client(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def _send(client: Client, method: str, url: str, data: Any = None, **extra: Any) -> Any:
    return getattr(client, method)(
        url, data=json.dumps(data) if data is not None else None, content_type="application/json", **extra
    )


def _errors(response: Any) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in response.json()["errors"]:  # the API's error shape: {"detail": str, "errors": [...]}
        fields.setdefault(str(error["loc"][2]), []).append(error["msg"])
    return fields


@pytest.mark.django_db
def test_crud_round_trip(world: World, django_capture_on_commit_callbacks: Any) -> None:
    """Create, list (tag filter, pagination), get, put, patch, delete; the note is embedded after commit."""
    client = _client(world.learner)
    with django_capture_on_commit_callbacks(execute=True):
        created = _send(
            client, "post", URL, {"title": " STAR ", "body": "# Tips\n\nUse STAR.", "tags": ["Interviews", "star"]}
        )
    assert created.status_code == 201, created.content
    note = created.json()
    assert note["title"] == "STAR"
    assert note["tags"] == ["interviews", "star"]
    assert note["visibility"] == "private"
    assert NoteChunk.objects.filter(note_id=note["id"]).exists()
    _send(client, "post", URL, {"title": "Other", "tags": ["pay"]})

    listing = client.get(URL, {"tag": "star"}).json()
    assert listing["count"] == 1
    assert listing["items"][0]["id"] == note["id"]
    page = client.get(URL, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2
    assert len(page["items"]) == 1

    assert client.get(f"{URL}/{note['id']}").json()["body"] == "# Tips\n\nUse STAR."
    put = _send(client, "put", f"{URL}/{note['id']}", {"title": "STAR v2", "body": "New", "tags": [], "pinned": True})
    assert put.status_code == 200
    assert put.json()["pinned"] is True
    assert put.json()["tags"] == []
    patch = _send(client, "patch", f"{URL}/{note['id']}", {"title": "STAR v3"})
    assert patch.json()["title"] == "STAR v3"
    assert patch.json()["body"] == "New"

    assert client.delete(f"{URL}/{note['id']}").status_code == 204
    assert client.get(f"{URL}/{note['id']}").status_code == 404
    assert not NoteChunk.objects.filter(note_id=note["id"]).exists()


@pytest.mark.django_db
def test_bad_input_is_refused_field_by_field(world: World) -> None:
    """Each bad field gets its own 422 entry, and nothing is written."""
    client = _client(world.learner)
    response = _send(client, "post", URL, {"title": "", "tags": ["Bad Tag!", "x" * 41], "pinned": "maybe"})
    assert response.status_code == 422
    assert {"title", "pinned"} <= set(_errors(response))
    assert len(_errors(response)) >= 3
    too_many = _send(client, "post", URL, {"title": "ok", "tags": [f"t{i}" for i in range(21)]})
    assert too_many.status_code == 422
    assert "tags" in _errors(too_many)
    heavy = _send(client, "post", URL, {"title": "ok", "body": "é" * 60_000})  # 120,000 bytes
    assert heavy.status_code == 422
    assert list(_errors(heavy)) == ["body"]
    nul = _send(client, "patch", "/api/v1/notes/1", {"title": None})
    assert nul.status_code in (404, 422)
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_foreign_ids_are_404_and_sharing_needs_a_moderator(world: World) -> None:
    """Another user's private note and another organisation's note answer 404 to every verb; a
    foreign lounge is 404; a plain member cannot share with a lounge (403); a moderator can, audited."""
    private = embedded_note(organisation=world.org, owner=world.outsider, title="Theirs")
    foreign = embedded_note(organisation=world.other_org, owner=world.foreigner, title="Elsewhere")
    client = _client(world.learner)
    for note in (private, foreign):
        assert client.get(f"{URL}/{note.pk}").status_code == 404
        assert _send(client, "put", f"{URL}/{note.pk}", {"title": "x"}).status_code == 404
        assert _send(client, "patch", f"{URL}/{note.pk}", {"title": "x"}).status_code == 404
        assert client.delete(f"{URL}/{note.pk}").status_code == 404
    foreign_lounge = LoungeFactory.create(organisation=world.other_org)
    assert _send(client, "post", URL, {"title": "x", "lounge_id": foreign_lounge.pk}).status_code == 404
    assert _send(client, "post", URL, {"title": "x", "lounge_id": world.lounge.pk}).status_code == 403

    shared = _send(_client(world.moderator), "post", URL, {"title": "Room notes", "lounge_id": world.lounge.pk})
    assert shared.status_code == 201
    assert shared.json()["visibility"] == "lounge"
    assert AuditEvent.objects.filter(action="note.shared_created", target_id=str(shared.json()["id"])).exists()
    # The learner reads it (a member of the lounge) but cannot edit it.
    assert client.get(f"{URL}/{shared.json()['id']}").status_code == 200
    assert _send(client, "patch", f"{URL}/{shared.json()['id']}", {"title": "mine now"}).status_code == 403


@pytest.mark.django_db
def test_unsafe_methods_need_the_csrf_token(world: World) -> None:
    """With session auth, a POST without the CSRF token is refused; with it, accepted."""
    client = _client(world.learner, enforce_csrf_checks=True)
    assert _send(client, "post", URL, {"title": "x"}).status_code == 403
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    assert _send(client, "post", URL, {"title": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 201
    assert Client().get(URL).status_code == 401  # and no session, no notes


@pytest.mark.django_db
def test_search_returns_marked_snippets_and_scores(world: World) -> None:
    """Search answers with highlighted, escaped snippets, spans and scores, from readable notes only."""
    note = embedded_note(
        organisation=world.org,
        owner=world.learner,
        title="Pay",
        body="# Salary\n\nNegotiate <b>salary</b> after the offer.",
    )
    embedded_note(organisation=world.org, owner=world.outsider, title="Not yours", body="salary salary salary")
    response = _client(world.learner).get(f"{URL}/search", {"q": "salary negotiation", "k": "5"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["note_id"] for r in results] == [note.pk]
    hit = results[0]
    assert "<mark>" in hit["snippet"]
    assert "<b>" not in hit["snippet"]
    assert hit["score"] > 0
    assert note.body[hit["char_start"] : hit["char_end"]].startswith("# Salary")
    assert _client(world.learner).get(f"{URL}/search", {"q": "", "k": "5"}).status_code == 422
    assert _client(world.learner).get(f"{URL}/search", {"q": "x", "k": "500"}).status_code == 422
