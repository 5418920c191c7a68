"""Keeping embeddings current: the task is idempotent and skips unchanged chunks; edits re-embed
after commit; `reembed_notes` re-embeds everything after the embedder changes."""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from domains.ai.embedders import HashingEmbedder
from domains.notes.models import NoteChunk
from domains.notes.services import note_embed, note_update
from tests.domains.notes.helpers import World
from tests.factories.notes import NoteFactory
from workers.celery import app
from workers.tasks.notes import note_embed_task

BODY = "# One\n\n" + "\n\n".join(f"Paragraph {i}: " + "words about interviews " * 30 for i in range(8))


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        self.inputs: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.inputs.extend(texts)
        return super().embed(texts)


def _rows(note_id: int) -> list[tuple[Any, ...]]:
    return list(
        NoteChunk.objects.filter(note_id=note_id)
        .order_by("ordinal")
        .values_list("pk", "ordinal", "char_start", "char_end", "content_hash", "updated_at")
    )


@pytest.mark.django_db
def test_embedding_twice_changes_nothing(world: World) -> None:
    """The second run embeds nothing and writes nothing: every chunk's hash is unchanged."""
    note = NoteFactory.create(organisation=world.org, owner=world.learner, body=BODY)
    embedder = CountingEmbedder()
    first = note_embed(note_id=note.pk, embedder=embedder)
    assert first is not None
    assert first.created > 3
    rows, calls = _rows(note.pk), len(embedder.inputs)

    second = note_embed(note_id=note.pk, embedder=embedder)

    assert second is not None
    assert not second.changed
    assert second.reused == first.created
    assert len(embedder.inputs) == calls
    assert _rows(note.pk) == rows


@pytest.mark.django_db
def test_an_edit_reembeds_only_the_changed_chunks_after_commit(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """Appending a paragraph through the service enqueues the task on commit; only new chunks are
    embedded, the old ones keep their rows."""
    note = NoteFactory.create(organisation=world.org, owner=world.learner, body=BODY)
    note_embed(note_id=note.pk)
    before = {row[4]: row[0] for row in _rows(note.pk)}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note_update(note=note, user=world.learner, body=BODY + "\n\nA brand new closing paragraph on salaries.")

    assert len(callbacks) == 1
    after = {row[4]: row[0] for row in _rows(note.pk)}
    kept = set(before) & set(after)
    assert len(kept) >= len(before) - 1  # at most the last chunk changed
    assert all(before[h] == after[h] for h in kept)  # same rows, same vectors
    assert any(
        "brand new closing" in text for text in NoteChunk.objects.filter(note=note).values_list("text", flat=True)
    )


@pytest.mark.django_db
def test_the_task_returns_quietly_for_a_deleted_note_and_routes_to_ai(world: World) -> None:
    """A task for a note that is gone does nothing; the task runs on the `ai` queue."""
    note = NoteFactory.create(organisation=world.org, owner=world.learner)
    note_id = note.pk
    note.delete()
    note_embed_task.delay(note_id)
    assert not NoteChunk.objects.filter(note_id=note_id).exists()
    assert app.amqp.router.route({}, "workers.tasks.notes.note_embed_task")["queue"].name == "ai"


@pytest.mark.django_db
def test_reembed_notes_command_rewrites_after_an_embedder_change(world: World, settings: Any, fake_llm: Any) -> None:
    """After EMBEDDER changes, the command re-embeds every chunk with the new one, showing progress;
    run again, it embeds nothing."""
    notes = [NoteFactory.create(organisation=world.org, owner=world.learner, body=BODY) for _ in range(3)]
    for note in notes:
        note_embed(note_id=note.pk)
    settings.EMBEDDER = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url

    out = StringIO()
    call_command("reembed_notes", stdout=out)

    assert "[3/3] 100%" in out.getvalue()
    assert "Done: 3 notes" in out.getvalue()
    assert set(NoteChunk.objects.values_list("embedder", flat=True)) == {"openai"}
    again = StringIO()
    call_command("reembed_notes", stdout=again)
    assert "chunks embedded 0," in again.getvalue()
