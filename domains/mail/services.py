"""Queue, render and deliver email. Nothing here talks SMTP inside a request: `mail_queue` writes a
row and enqueues its delivery after commit; `mail_deliver` runs in the worker (docs/mail.md)."""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from domains.mail.models import SUBJECT_MAX, TAG_MAX, MailState, OutboundEmail
from domains.mail.signals import mail_settled
from workers import enqueue

logger = logging.getLogger(__name__)

MAIL_DELIVER_TASK = "workers.tasks.mail.mail_deliver_task"
ERROR_MAX = 2000
ATTACHMENTS_MAX = 10
ATTACHMENT_NAME_MAX = 100
ATTACHMENT_CHARS_MAX = 1_000_000
_ATTACHMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MIMETYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")

# One file sent with a mail: (filename, text content, mimetype), e.g.
# ("assessment.ics", "BEGIN:VCALENDAR...", "text/calendar").
Attachment = tuple[str, str, str]


class RenderedMail(NamedTuple):
    subject: str
    text: str
    html: str


class MailRetry(Exception):  # noqa: N818 - a request to the task, not a failure
    """The send failed for now; the task retries after `countdown` seconds."""

    def __init__(self, email_id: int, countdown: float, error: str) -> None:
        super().__init__(f"mail {email_id}: {error}")
        self.countdown = countdown


# ------------------------------------------------------------------ queue
@transaction.atomic
def mail_queue(
    *,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    tag: str,
    user: AbstractBaseUser | None = None,
    organisation: models.Model | None = None,
    headers: dict[str, str] | None = None,
    holds_secret: bool = False,
    attachments: Sequence[Attachment] | None = None,
) -> OutboundEmail:
    """Write the mail in the caller's transaction and deliver it after commit: a rolled-back caller
    sends nothing, and no request waits on SMTP. `holds_secret` (a reset key, a verification link)
    blanks the bodies once the server has accepted the mail. `attachments` are text files sent
    with it, `(filename, content, mimetype)`; they are kept after sending even when the bodies are
    blanked, so they must hold no secret (a calendar event, never a link that signs in). A malformed
    one (see `attachments_check`) raises ValueError: the caller builds them, not the person."""
    files = attachments_check(attachments or ())
    email = OutboundEmail.objects.create(
        to=to,
        # A header cannot hold a line break (Django refuses to send one).
        subject=" ".join(subject.split())[:SUBJECT_MAX],
        text_body=text,
        html_body=html,
        tag=tag[:TAG_MAX],
        user_id=user.pk if user is not None else None,
        organisation_id=organisation.pk if organisation is not None else None,
        headers=dict(headers or {}),
        holds_secret=holds_secret,
        attachments=files,
    )
    enqueue(MAIL_DELIVER_TASK, email.pk)
    return email


def attachments_check(attachments: Sequence[Attachment]) -> list[dict[str, str]]:
    """The attachments as stored: at most ATTACHMENTS_MAX, each a plain file name (letters, digits,
    `.`, `_`, `-`; no path, no line break), text content of at most ATTACHMENT_CHARS_MAX characters,
    and a lowercase `type/subtype` mimetype (no parameters). ValueError otherwise."""
    if len(attachments) > ATTACHMENTS_MAX:
        raise ValueError(f"at most {ATTACHMENTS_MAX} attachments")
    checked = []
    for filename, content, mimetype in attachments:
        if len(filename) > ATTACHMENT_NAME_MAX or not _ATTACHMENT_NAME.fullmatch(filename):
            raise ValueError(f"bad attachment name {filename!r}")
        if not _MIMETYPE.fullmatch(mimetype):
            raise ValueError(f"bad attachment mimetype {mimetype!r}")
        if not isinstance(content, str) or len(content) > ATTACHMENT_CHARS_MAX:
            raise ValueError(f"attachment {filename!r} must be text of at most {ATTACHMENT_CHARS_MAX} characters")
        checked.append({"filename": filename, "content": content, "mimetype": mimetype})
    return checked


@transaction.atomic
def mail_requeue(*, emails: Iterable[OutboundEmail]) -> list[OutboundEmail]:
    """Queue failed mails again with a fresh retry budget (the admins' "retry" action); any other
    state is left alone. Locks the rows. Returns the mails queued."""
    ids = [email.pk for email in emails]
    queued = list(OutboundEmail.objects.select_for_update().filter(pk__in=ids, state=MailState.FAILED))
    for email in queued:
        email.state = MailState.PENDING
        email.attempts = 0
        email.save(update_fields=["state", "attempts", "updated_at"])
        enqueue(MAIL_DELIVER_TASK, email.pk)
    return queued


@transaction.atomic
def mail_stale_sweep(*, older_than_seconds: int, limit: int = 500) -> int:
    """Queue again the pending mails nobody touched for `older_than_seconds`: their task was lost
    (a worker died mid-send, the broker was down at commit). Their attempts so far still count; a
    row a worker is sending right now is locked and skipped."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = list(
        OutboundEmail.objects.select_for_update(skip_locked=True)
        .filter(state=MailState.PENDING, updated_at__lt=cutoff)
        .order_by("created_at")[:limit]
    )
    for email in stale:
        email.save(update_fields=["updated_at"])
        enqueue(MAIL_DELIVER_TASK, email.pk)
    if stale:
        logger.warning("mail.requeued_stale count=%d", len(stale))
    return len(stale)


# ------------------------------------------------------------------ render
def site_url(path: str) -> str:
    """`path` on this site, absolute, for a mail's links: SITE_DOMAIN, over https in production
    (ACCOUNT_DEFAULT_HTTP_PROTOCOL, which allauth's own mails use too)."""
    scheme = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
    return f"{scheme}://{settings.SITE_DOMAIN}{path}"


def mail_render(template_prefix: str, context: dict[str, Any]) -> RenderedMail:
    """Render `<prefix>_subject.txt`, `<prefix>_message.txt` and, if it exists,
    `<prefix>_message.html` (which extends `mail/base.html`); without one, the HTML part is the text
    in the shared layout. The subject starts with the site's name ("[Coachwire] …"). Context gets
    `site_name`; pass `unsubscribe_url` for the layout's footer link."""
    context = {"site_name": settings.SITE_NAME, **context}
    subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", context).split())
    text = render_to_string(f"{template_prefix}_message.txt", context).strip()
    try:
        html = render_to_string(f"{template_prefix}_message.html", context).strip()
    except TemplateDoesNotExist:
        html = mail_html_from_text(text, context)
    return RenderedMail(subject=f"[{settings.SITE_NAME}] {subject}", text=text, html=html)


def mail_html_from_text(text: str, context: dict[str, Any] | None = None) -> str:
    """A text-only mail (allauth's are) as HTML in the shared layout: paragraphs, links made links."""
    context = {"site_name": settings.SITE_NAME, **(context or {}), "text": text}
    return render_to_string("mail/text_message.html", context)


# ------------------------------------------------------------------ deliver
def _is_permanent(error: Exception) -> bool:
    """A 5xx answer says the same next time (unknown mailbox, refused content)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_MAX]


def _message(email: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text_body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={str(name): str(value) for name, value in (email.headers or {}).items()},
    )
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    for attachment in email.attachments or ():
        message.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
    return message


def retry_countdown(attempts: int) -> float:
    """Seconds before the next try, after `attempts` failed ones: base * 2^(attempts - 1), capped."""
    return float(min(settings.MAIL_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.MAIL_RETRY_MAX_SECONDS))


def mail_deliver(*, email_id: int) -> OutboundEmail | None:
    """Send one pending mail through EMAIL_BACKEND. Locks the row (skipping it if another worker
    holds it) for the whole conversation, so a duplicate delivery never sends twice; a mail already
    sent or failed, or gone, returns None. A temporary failure counts the attempt and raises
    `MailRetry` until MAIL_MAX_RETRIES retries are used up; then, or on a 5xx answer, the mail is
    marked failed and logged."""
    with transaction.atomic():
        email = (
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=email_id, state=MailState.PENDING)
            .first()
        )
        if email is None:
            return None
        email.attempts += 1
        try:
            _message(email).send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            email.last_error = _describe(error)
            final = _is_permanent(error) or email.attempts > settings.MAIL_MAX_RETRIES
            email.state = MailState.FAILED if final else MailState.PENDING
            email.save(update_fields=["attempts", "last_error", "state", "updated_at"])
        except Exception as error:  # noqa: BLE001 - a mail that cannot even be built (a bad header, a bad address) fails for good
            email.last_error = _describe(error)
            final = True
            email.state = MailState.FAILED
            email.save(update_fields=["attempts", "last_error", "state", "updated_at"])
        else:
            email.state = MailState.SENT
            email.sent_at = timezone.now()
            fields = ["attempts", "state", "sent_at", "updated_at"]
            if email.holds_secret:
                # The attachments stay: mail_queue takes none that holds a secret.
                email.text_body = email.html_body = ""
                fields += ["text_body", "html_body"]
            email.save(update_fields=fields)
            transaction.on_commit(lambda: mail_settled.send(OutboundEmail, email=email))
            return email
    if final:
        logger.error("mail.failed id=%s tag=%s attempts=%d: %s", email.pk, email.tag, email.attempts, email.last_error)
        transaction.on_commit(lambda: mail_settled.send(OutboundEmail, email=email))
        return email
    raise MailRetry(email.pk, retry_countdown(email.attempts), email.last_error)
