from __future__ import annotations

from celery import shared_task

from realtime.replay import stream_events_sweep


@shared_task(ignore_result=True)
def stream_events_sweep_task() -> int:
    """Drop durable events past retention. Idempotent: a second run finds nothing to delete."""
    return stream_events_sweep()
