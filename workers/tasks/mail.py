"""Mail delivery: every email the product sends goes out here, never in a request (docs/mail.md)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from domains.mail.services import MailRetry, mail_deliver, mail_stale_sweep


@shared_task(bind=True, ignore_result=True, max_retries=None)
def mail_deliver_task(self: Any, email_id: int) -> None:
    """Send one queued mail (queue `default`). The retry budget is the row's `attempts`
    (MAIL_MAX_RETRIES), not Celery's count, so a mail queued again by the sweep keeps its count.
    Not acks_late: a lost worker leaves the row pending, and the sweep queues it again; a duplicate
    delivery finds the row locked or sent and returns."""
    try:
        mail_deliver(email_id=email_id)
    except MailRetry as retry:
        raise self.retry(countdown=retry.countdown, exc=retry) from retry


@shared_task(ignore_result=True)
def mail_stale_sweep_task() -> int:
    """Queue again the pending mails whose task was lost (queue `beat`)."""
    return mail_stale_sweep(older_than_seconds=settings.MAIL_STALE_SECONDS)
