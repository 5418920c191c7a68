"""Sharing a note with a lounge the person may not see answers exactly like a lounge that does not
exist, in the API (POST, PUT, PATCH) and in the note form: an id never tells whether a hidden
lounge exists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from domains.lounges.models import LoungeAccess
from domains.notes.models import Note, NoteVisibility
from tests.domains.notes.helpers import World
from tests.factories.lounges import LoungeFactory, LoungeMembershipFactory
from tests.factories.notes import NoteFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notes"
MISSING = 987654321
HIDDEN = ["invite", "members", "banned"]


def _hidden_lounge(world: World, kind: str) -> Any:
    """A lounge of the learner's own organisation that the learner may not see."""
    if kind == "invite":
        return LoungeFactory.create(organisation=world.org, access=LoungeAccess.INVITE, invite_code="secret")
    if kind == "members":
        return LoungeFactory.create(organisation=world.org, access=LoungeAccess.MEMBERS)
    lounge = LoungeFactory.create(organisation=world.org, access=LoungeAccess.OPEN)
    LoungeMembershipFactory.create(lounge=lounge, user=world.learner, is_banned=True)
    return lounge


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _send(client: Client, method: str, url: str, data: Any) -> Any:
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


@pytest.mark.parametrize("kind", HIDDEN)
def test_api_create_with_a_hidden_lounge_answers_like_a_missing_one(world: World, kind: str) -> None:
    """POST /api/v1/notes with a hidden lounge of the own organisation: 404 with the very body a
    missing id gets (it was 403 "Only the lounge's moderators…"); nothing is created."""
    client = _client(world.learner)
    hidden = _hidden_lounge(world, kind)

    refused = _send(client, "post", URL, {"title": "x", "lounge_id": hidden.pk})
    missing = _send(client, "post", URL, {"title": "x", "lounge_id": MISSING})

    assert (refused.status_code, refused.json()) == (missing.status_code, missing.json())
    assert refused.status_code == 404
    assert Note.objects.count() == 0


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("kind", HIDDEN)
def test_api_update_with_a_hidden_lounge_answers_like_a_missing_one(world: World, kind: str, method: str) -> None:
    """Moving one's own note to a hidden lounge (PATCH or PUT) answers like a missing lounge; the
    note stays private."""
    client = _client(world.learner)
    hidden = _hidden_lounge(world, kind)
    note = NoteFactory.create(organisation=world.org, owner=world.learner, title="Mine")

    refused = _send(client, method, f"{URL}/{note.pk}", {"title": "Mine", "lounge_id": hidden.pk})
    missing = _send(client, method, f"{URL}/{note.pk}", {"title": "Mine", "lounge_id": MISSING})

    assert (refused.status_code, refused.json()) == (missing.status_code, missing.json())
    assert refused.status_code == 404
    note.refresh_from_db()
    assert (note.visibility, note.lounge_id) == (NoteVisibility.PRIVATE, None)


def test_a_lounge_the_learner_sees_still_says_why(world: World) -> None:
    """A lounge the learner belongs to is no secret: sharing into it without moderating it keeps
    its reason (403), which tells nothing the learner does not know."""
    response = _send(_client(world.learner), "post", URL, {"title": "x", "lounge_id": world.lounge.pk})
    assert response.status_code == 403


def _form_answer(response: Any) -> tuple[int, dict[str, list[str]]]:
    return response.status_code, response.context["form"].errors


@pytest.mark.parametrize("kind", HIDDEN)
def test_the_note_form_treats_a_hidden_lounge_like_a_missing_one(world: World, kind: str) -> None:
    """The new-note form and the edit form give a hidden lounge the same field error as a missing
    one, with no mention of moderators."""
    client = _client(world.learner)
    hidden = _hidden_lounge(world, kind)
    note = NoteFactory.create(organisation=world.org, owner=world.learner, title="Mine")

    for url in ("/notes/new/", f"/notes/{note.pk}/edit/"):
        refused = client.post(url, {"title": "Shared?", "body": "Text", "lounge": str(hidden.pk)})
        missing = client.post(url, {"title": "Shared?", "body": "Text", "lounge": str(MISSING)})

        assert _form_answer(refused) == _form_answer(missing)
        assert refused.status_code == 400
        assert _form_answer(refused)[1] == {"lounge": ["Choose private, or one of the lounges you moderate."]}
        assert "moderators maintain" not in refused.content.decode()
    assert Note.objects.count() == 1
    assert Note.objects.get().lounge_id is None
