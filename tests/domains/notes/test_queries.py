"""Query counts: the notes list page and the notes API list cost a fixed number of queries, however
many notes (private and shared) and tags there are."""

from __future__ import annotations

from typing import Any

import pytest

from domains.notes.models import NoteVisibility
from tests.domains.notes.helpers import World, signed_in_client
from tests.factories.notes import NoteFactory

pytestmark = pytest.mark.django_db

# Once the session's first page is behind it, every request costs the signed-in user, their
# organisation and roles (the page chrome, and the API's organisation) before its own queries.
# The notes list: the lounges the user reads, the tags in use, the lounges again (the list asks the
# selector a second time) and the notes with their lounges (one query, not one per note).
NOTE_LIST_QUERIES = 8  # with the notifications badge every page shows
# The API list: the lounges the user reads, then the page's count and its rows.
NOTE_API_QUERIES = 6


def _notes(world: World, count: int) -> None:
    """`count` private notes and `count` notes shared with the learner's lounge, all tagged."""
    for n in range(count):
        NoteFactory.create(organisation=world.org, owner=world.learner, title=f"Mine {n}", tags=[f"t{n}", "common"])
        NoteFactory.create(
            organisation=world.org,
            owner=world.moderator,
            lounge=world.lounge,
            visibility=NoteVisibility.LOUNGE,
            title=f"Shared {n}",
            tags=[f"s{n}"],
        )


@pytest.mark.parametrize("count", [1, 6])
def test_the_notes_list_page_costs_a_fixed_number_of_queries(
    world: World, django_assert_num_queries: Any, count: int
) -> None:
    """The notes page runs the same queries for one note as for many, shared ones with their lounge."""
    # given the learner's own notes and notes shared with their lounge
    _notes(world, count)
    client = signed_in_client(world.learner, "/notes/")
    # when the learner opens the list, then it costs a fixed number of queries
    with django_assert_num_queries(NOTE_LIST_QUERIES):
        response = client.get("/notes/")
    assert response.status_code == 200
    body = response.content.decode()
    assert all(f"Mine {n}" in body and f"Shared {n}" in body for n in range(count))
    assert world.lounge.title in body


@pytest.mark.parametrize("count", [1, 6])
def test_the_notes_api_list_costs_a_fixed_number_of_queries(
    world: World, django_assert_num_queries: Any, count: int
) -> None:
    """GET /api/v1/notes runs the same queries for one note as for a full page."""
    # given the learner's own notes and notes shared with their lounge
    _notes(world, count)
    client = signed_in_client(world.learner, "/api/v1/notes")
    # when the learner lists them, then it costs a fixed number of queries
    with django_assert_num_queries(NOTE_API_QUERIES):
        response = client.get("/api/v1/notes", {"limit": 100})
    assert response.status_code == 200
    assert response.json()["count"] == 2 * count == len(response.json()["items"])
