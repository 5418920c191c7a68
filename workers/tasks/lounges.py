from __future__ import annotations

from celery import shared_task
from django.conf import settings

from domains.lounges.coach import coach_reply_generate, coach_streams_sweep


@shared_task(ignore_result=True)
def coach_reply_task(message_id: int) -> None:
    """Stream the coach's reply. Not acks_late: a lost worker must not call the provider again; the
    sweep marks its reply interrupted instead. A duplicate delivery finds the run lock and returns."""
    coach_reply_generate(message_id=message_id)


@shared_task(ignore_result=True)
def coach_streams_sweep_task() -> int:
    return coach_streams_sweep(older_than_seconds=settings.COACH_STALE_SECONDS)
