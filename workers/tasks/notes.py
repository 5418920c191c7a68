"""Notes' background work: chunking and embedding."""

from __future__ import annotations

from celery import shared_task

from domains.ai.embedders import EmbedderError, EmbedderUnavailable
from domains.notes.services import note_embed


@shared_task(
    ignore_result=True,
    acks_late=True,  # idempotent: a redelivery re-reads the note and skips unchanged chunks
    autoretry_for=(EmbedderError,),
    dont_autoretry_for=(EmbedderUnavailable,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def note_embed_task(note_id: int) -> None:
    """Chunk and embed one note (queue `ai`). Returns quietly when the note is gone."""
    note_embed(note_id=note_id)
