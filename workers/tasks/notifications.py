from __future__ import annotations

from celery import shared_task

from domains.notifications.services import digest_send_due


@shared_task(ignore_result=True)
def notifications_digest_task() -> int:
    """Hourly: send the daily digest to everyone whose morning it is now (their time zone).
    Idempotent within the hour: a person gets at most one digest in 20 hours."""
    return digest_send_due()
