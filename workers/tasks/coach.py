"""The coaches' background work: streaming replies (lounge and private) and sweeping lost ones."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from domains.coach.lounge_reply import lounge_reply_generate, lounge_streams_sweep
from domains.coach.thread_reply import thread_reply_generate, thread_streams_sweep


@shared_task(ignore_result=True)
def thread_reply_task(message_id: int) -> None:
    """Stream a private coach reply (queue `ai`). Not acks_late: a lost worker must not call the
    provider twice; a duplicate delivery finds the run lock and returns."""
    thread_reply_generate(message_id=message_id)


@shared_task(ignore_result=True)
def thread_streams_sweep_task() -> int:
    return thread_streams_sweep(older_than_seconds=settings.COACH_STALE_SECONDS)


@shared_task(ignore_result=True)
def lounge_reply_task(message_id: int) -> None:
    """Stream the lounge coach's reply (queue `ai`). Not acks_late: a lost worker must not call the
    provider again; the sweep marks its reply interrupted instead. A duplicate delivery finds the
    run lock and returns."""
    lounge_reply_generate(message_id=message_id)


@shared_task(ignore_result=True)
def lounge_streams_sweep_task() -> int:
    return lounge_streams_sweep(older_than_seconds=settings.COACH_STALE_SECONDS)
