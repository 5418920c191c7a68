"""Every mail is a row written in the sender's transaction and delivered by a task over real SMTP
(the loopback server, tests/fakes/smtp_server.py), retried with a bound, and visible when it fails."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from domains.mail.models import MailState, OutboundEmail
from domains.mail.services import mail_deliver, mail_queue, mail_render, mail_stale_sweep, retry_countdown
from tests.factories import OrganisationFactory, UserFactory
from tests.fakes.smtp_server import LoopbackSMTP, parts
from workers.celery import app
from workers.tasks.mail import mail_deliver_task

pytestmark = pytest.mark.django_db


class RolledBackError(Exception):
    pass


def _queue_then_fail() -> None:
    with transaction.atomic():
        _queue()
        raise RolledBackError


def _queue(**overrides: Any) -> OutboundEmail:
    values: dict[str, Any] = {"to": "ada@example.test", "subject": "[Coachwire] Hi", "text": "Hello.", "tag": "test"}
    return mail_queue(**{**values, **overrides})


def test_a_mail_queued_in_a_rolled_back_transaction_is_neither_kept_nor_sent(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RolledBackError):
        _queue_then_fail()

    assert callbacks == []
    assert not OutboundEmail.objects.exists()
    assert smtp_server.messages == []


def test_a_queued_mail_arrives_over_smtp_with_text_html_the_site_name_and_its_headers(
    smtp_server: LoopbackSMTP, mail_templates: None, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    organisation = OrganisationFactory.create()
    user = UserFactory.create(email="ada@example.test")
    subject, text, html = mail_render(
        "mailtest/hello",
        {"name": "Ada", "link": "https://coachwire.test/n/1", "unsubscribe_url": "https://coachwire.test/u/x"},
    )

    with django_capture_on_commit_callbacks(execute=True):
        email = mail_queue(
            to=user.email,
            subject=subject,
            text=text,
            html=html,
            tag="notification.test",
            user=user,
            organisation=organisation,
            headers={"List-Unsubscribe": "<https://coachwire.test/u/x>"},
        )
        assert smtp_server.messages == []  # nothing leaves before commit

    [received] = smtp_server.messages
    assert received["Subject"] == "[Coachwire] Hello Ada"
    assert received["From"] == settings.DEFAULT_FROM_EMAIL
    assert received["To"] == "ada@example.test"
    assert received["List-Unsubscribe"] == "<https://coachwire.test/u/x>"
    body = parts(received)
    assert set(body) == {"text/plain", "text/html"}
    assert "Dear Ada," in body["text/plain"]
    assert "https://coachwire.test/n/1" in body["text/plain"]
    assert '<a href="https://coachwire.test/n/1">a note</a>' in body["text/html"]
    assert "Coachwire" in body["text/html"]
    assert 'href="https://coachwire.test/u/x"' in body["text/html"]  # the layout's unsubscribe footer
    assert "example.com" not in received.as_string()
    email.refresh_from_db()
    assert (email.state, email.attempts, email.last_error) == (MailState.SENT, 1, "")
    assert email.sent_at is not None
    assert (email.organisation, email.user, email.text_body) == (organisation, user, text)


def test_a_text_only_template_still_sends_html_in_the_shared_layout(mail_templates: None) -> None:
    rendered = mail_render("mailtest/plain", {})

    assert rendered.subject == "[Coachwire] Plain"
    assert rendered.text == "Only text, with a link: https://coachwire.test/notes/1/ & more."
    assert '<a href="https://coachwire.test/notes/1/"' in rendered.html
    assert "&amp; more." in rendered.html
    assert "Unsubscribe" not in rendered.html  # no unsubscribe_url, no footer link


def test_a_server_that_refuses_twice_is_retried_and_the_third_attempt_is_sent(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Eager tasks run a retry at once (Celery ignores the countdown in eager mode): no sleeping."""
    smtp_server.fail_next(2)

    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()

    email.refresh_from_db()
    assert (email.state, email.attempts) == (MailState.SENT, 3)
    assert "451" in email.last_error  # what the last failed attempt heard
    assert smtp_server.refused == 2
    assert len(smtp_server.messages) == 1


def test_a_server_that_always_refuses_leaves_the_mail_failed_after_the_bounded_retries(
    settings: Any,
    smtp_server: LoopbackSMTP,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.MAIL_MAX_RETRIES = 2
    smtp_server.fail_always()

    with (
        caplog.at_level(logging.ERROR, logger="domains.mail.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        email = _queue()

    email.refresh_from_db()
    assert (email.state, email.attempts, email.sent_at) == (MailState.FAILED, 3, None)
    assert "SMTPDataError" in email.last_error
    assert "451" in email.last_error
    assert smtp_server.refused == 3
    assert smtp_server.messages == []
    assert any("mail.failed" in record.getMessage() for record in caplog.records)


def test_a_permanent_refusal_is_not_retried(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    smtp_server.fail_always("550 5.1.1 No such mailbox")

    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()

    email.refresh_from_db()
    assert (email.state, email.attempts) == (MailState.FAILED, 1)
    assert "550" in email.last_error


def test_a_mail_that_cannot_be_built_fails_at_once_instead_of_staying_pending(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Not an SMTP error (here, a header with a line break: Django's BadHeaderError): the mail is
    marked failed and shown, never left pending for the sweep to queue again forever."""
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(headers={"X-Note": "one\nBcc: someone@evil.test"})

    email.refresh_from_db()
    assert (email.state, email.attempts) == (MailState.FAILED, 1)
    assert email.last_error
    assert smtp_server.messages == []


def test_a_server_that_is_not_there_counts_as_a_temporary_failure(
    settings: Any, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    settings.MAIL_MAX_RETRIES = 1
    smtp_server.stop()

    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()

    email.refresh_from_db()
    assert (email.state, email.attempts) == (MailState.FAILED, 2)
    assert "ConnectionRefusedError" in email.last_error


def test_a_mail_already_sent_is_not_sent_again(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()

    assert mail_deliver(email_id=email.pk) is None
    mail_deliver_task.apply(args=[email.pk])
    mail_deliver_task.apply(args=[987654321])  # gone: returns quietly

    email.refresh_from_db()
    assert (email.state, email.attempts) == (MailState.SENT, 1)
    assert len(smtp_server.messages) == 1


def test_an_account_mail_with_a_secret_keeps_no_body_once_sent(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(text="Your key: 123456", html="<p>Your key: 123456</p>", holds_secret=True)

    email.refresh_from_db()
    assert (email.state, email.text_body, email.html_body) == (MailState.SENT, "", "")
    assert "123456" in parts(smtp_server.messages[0])["text/plain"]


def test_the_retry_waits_grow_exponentially_and_stay_under_the_broker_visibility_timeout(settings: Any) -> None:
    settings.MAIL_RETRY_BASE_SECONDS = 30
    settings.MAIL_RETRY_MAX_SECONDS = 1800

    assert [retry_countdown(n) for n in (1, 2, 3, 4, 5, 10)] == [30, 60, 120, 240, 480, 1800]
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.MAIL_RETRY_MAX_SECONDS
    assert settings.MAIL_STALE_SECONDS > settings.MAIL_RETRY_MAX_SECONDS


def test_the_sweep_queues_again_a_pending_mail_whose_task_was_lost(
    settings: Any, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """A row written without its task (a lost enqueue) goes out on the sweep after it; a fresh one waits."""
    lost = OutboundEmail.objects.create(to="lost@example.test", subject="Lost", text_body="x", tag="test")
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.MAIL_STALE_SECONDS + 1)):
        fresh = OutboundEmail.objects.create(to="fresh@example.test", subject="Fresh", text_body="x", tag="test")
        with django_capture_on_commit_callbacks(execute=True):
            swept = mail_stale_sweep(older_than_seconds=settings.MAIL_STALE_SECONDS)

    assert swept == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.state, fresh.state) == (MailState.SENT, MailState.PENDING)
    assert [message["To"] for message in smtp_server.messages] == ["lost@example.test"]


@pytest.mark.parametrize(
    ("task", "queue"),
    [("workers.tasks.mail.mail_deliver_task", "default"), ("workers.tasks.mail.mail_stale_sweep_task", "beat")],
)
def test_mail_tasks_go_to_their_queues(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue
