"""Erasure: deleting a note, or its owner, leaves no chunk to retrieve (ARCHITECTURE §6 "Deletion")."""

from __future__ import annotations

import pytest

from domains.notes.models import Note, NoteChunk
from domains.notes.retrieval import notes_search, passages_for_lounge
from domains.notes.services import note_delete
from tests.domains.notes.helpers import World, embedded_note

CANARY = "wombatcanary"


@pytest.mark.django_db
def test_deleting_a_note_removes_its_chunks_and_results(world: World) -> None:
    note = embedded_note(organisation=world.org, owner=world.learner, title="Gone", body=f"{CANARY} interview notes")
    assert notes_search(organisation=world.org, user=world.learner, query=CANARY)

    note_delete(note=note, user=world.learner)

    assert not NoteChunk.objects.filter(note_id=note.pk).exists()
    assert notes_search(organisation=world.org, user=world.learner, query=CANARY) == []


@pytest.mark.django_db
def test_deleting_a_user_erases_their_private_and_shared_notes(world: World) -> None:
    """Notes are personal content: the owner's deletion cascades to notes, chunks and embeddings."""
    private = embedded_note(organisation=world.org, owner=world.moderator, title="Mine", body=f"{CANARY} private")
    shared = embedded_note(
        organisation=world.org, owner=world.moderator, lounge=world.lounge, title="Ours", body=f"{CANARY} shared"
    )
    assert passages_for_lounge(lounge=world.lounge, query=CANARY)

    world.moderator.delete()

    assert not Note.objects.filter(pk__in=[private.pk, shared.pk]).exists()
    assert not NoteChunk.objects.filter(note_id__in=[private.pk, shared.pk]).exists()
    assert passages_for_lounge(lounge=world.lounge, query=CANARY) == []
    assert notes_search(organisation=world.org, user=world.learner, query=CANARY) == []
