from __future__ import annotations

from celery import shared_task
from django.conf import settings

from domains.ai.embedders import EmbedderError, EmbedderUnavailable
from domains.coaching.coach import thread_reply_generate, thread_streams_sweep
from domains.coaching.services import note_embed


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


@shared_task(ignore_result=True)
def thread_reply_task(message_id: int) -> None:
    """Stream a private coach reply (queue `ai`). Not acks_late: a lost worker must not call the
    provider twice; a duplicate delivery finds the run lock and returns."""
    thread_reply_generate(message_id=message_id)


@shared_task(ignore_result=True)
def thread_streams_sweep_task() -> int:
    return thread_streams_sweep(older_than_seconds=settings.COACH_STALE_SECONDS)
