"""Mail attachments: text files (an .ics) stored on the row and sent over real SMTP (the loopback
server) beside the text and HTML bodies; kept when a secret-holding mail's bodies are blanked."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks

from domains.mail.models import MailState, OutboundEmail
from domains.mail.services import mail_queue
from tests.fakes.smtp_server import LoopbackSMTP, parts

pytestmark = pytest.mark.django_db

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:t-1@test\r\n"
    "DTSTAMP:20260301T000000Z\r\nDTSTART:20260302T090000Z\r\nDTEND:20260303T090000Z\r\n"
    "SUMMARY:Héllo\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _queue(**overrides: Any) -> OutboundEmail:
    values: dict[str, Any] = {
        "to": "ada@example.test",
        "subject": "[Coachwire] Hi",
        "text": "Hello.",
        "html": "<p>Hello.</p>",
        "tag": "test",
        "attachments": [("event.ics", ICS, "text/calendar")],
    }
    return mail_queue(**{**values, **overrides})


def _attachments(message: EmailMessage) -> list[tuple[str | None, str, str]]:
    return [
        (part.get_filename(), part.get_content_type(), str(part.get_content()))
        for part in message.iter_attachments()
        if isinstance(part, EmailMessage)
    ]


def test_an_attachment_is_stored_and_arrives_beside_the_bodies(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Given a mail queued with an .ics, when it is delivered, then the row keeps the file and the
    message carries the text and HTML bodies plus the calendar, which parses back to its event."""
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()

    email.refresh_from_db()
    assert email.state == MailState.SENT
    assert email.attachments == [{"filename": "event.ics", "content": ICS, "mimetype": "text/calendar"}]
    [received] = smtp_server.messages
    assert set(parts(received)) >= {"text/plain", "text/html"}
    [(filename, mimetype, content)] = _attachments(received)
    assert (filename, mimetype) == ("event.ics", "text/calendar")
    (event,) = icalendar.Calendar.from_ical(content).events
    assert str(event["SUMMARY"]) == "Héllo"
    assert event.start.isoformat() == "2026-03-02T09:00:00+00:00"


def test_a_secret_holding_mail_is_blanked_but_keeps_its_attachments(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Given a mail holding a secret (an invitation link) with an .ics, when it is sent, then its
    bodies are blanked and the attachment, which holds no secret, stays on the row."""
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(holds_secret=True, text="Your link: https://x.test/secret")

    email.refresh_from_db()
    assert (email.state, email.text_body, email.html_body) == (MailState.SENT, "", "")
    assert [item["filename"] for item in email.attachments] == ["event.ics"]
    assert "secret" in parts(smtp_server.messages[0])["text/plain"]


def test_a_mail_without_attachments_has_none(
    smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Given a mail queued without attachments, then the row holds [] and the message has none."""
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue(attachments=None)
    email.refresh_from_db()
    assert email.attachments == []
    assert _attachments(smtp_server.messages[0]) == []


@pytest.mark.parametrize(
    "attachment",
    [
        ("../event.ics", ICS, "text/calendar"),
        ("event\r\n.ics", ICS, "text/calendar"),
        ("", ICS, "text/calendar"),
        ("event.ics", ICS, "text/calendar; method=PUBLISH"),
        ("event.ics", ICS, "Text/Calendar"),
        ("event.ics", b"bytes", "text/calendar"),
        ("event.ics", "x" * 1_000_001, "text/calendar"),
    ],
)
def test_a_malformed_attachment_is_refused_and_nothing_is_queued(attachment: tuple[Any, Any, Any]) -> None:
    """Given a path or a line break in the name, an empty name, a mimetype with parameters or in
    capitals, bytes, or an oversize text, then ValueError and no row."""
    with pytest.raises(ValueError, match="attachment"):
        _queue(attachments=[attachment])
    assert not OutboundEmail.objects.exists()


def test_more_than_ten_attachments_are_refused() -> None:
    """Given eleven files, then ValueError and no row."""
    with pytest.raises(ValueError, match="attachments"):
        _queue(attachments=[(f"f{n}.ics", ICS, "text/calendar") for n in range(11)])
    assert not OutboundEmail.objects.exists()
