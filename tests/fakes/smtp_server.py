"""A loopback SMTP server (aiosmtpd) that records what it receives and can be told to refuse.

Registered as a pytest plugin in tests/conftest.py. The `smtp_server` fixture starts one on
127.0.0.1 and points Django's SMTP backend at it, so a test exercises real SMTP end to end:

    def test_it_arrives(smtp_server):
        ...
        assert smtp_server.messages[0]["Subject"] == "[Coachwire] Hello"

    smtp_server.fail_next(2)           # the next two messages get 451 at DATA, then it accepts
    smtp_server.fail_next(1, "550 5.1.1 No such mailbox")   # a permanent refusal
    smtp_server.fail_always()          # every message gets 451 until `reset()`

With eager tasks (project/settings/test.py) a failing send is retried at once, without waiting
for the countdown (`mail_eager_retries`).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

TEMPORARY = "451 4.3.0 Try again later"


class _Handler:
    def __init__(self, server: LoopbackSMTP) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.server._take_refusal()
        if refusal is not None:
            return refusal
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.server._record(parsed, envelope)
        return "250 Message accepted for delivery"


class LoopbackSMTP:
    """The server: `messages` (parsed, `email.message.EmailMessage`), `envelopes` (mail from, rcpt
    tos), `refused` (how many DATA commands it refused)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str | None, list[str]]] = []
        self.refused = 0
        self._refusals: list[str] = []
        self._always: str | None = None
        self.port = _free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._running = False

    def start(self) -> LoopbackSMTP:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop listening (a test may do so to play a server that is down); idempotent."""
        if self._running:
            self._running = False
            self._controller.stop()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.refused = 0
            self._refusals.clear()
            self._always = None

    def fail_next(self, count: int, reply: str = TEMPORARY) -> None:
        """Answer `reply` to the DATA of the next `count` messages, then accept again."""
        with self._lock:
            self._refusals.extend([reply] * count)

    def fail_always(self, reply: str = TEMPORARY) -> None:
        with self._lock:
            self._always = reply

    def _take_refusal(self) -> str | None:
        with self._lock:
            reply = self._refusals.pop(0) if self._refusals else self._always
            if reply is not None:
                self.refused += 1
            return reply

    def _record(self, message: EmailMessage, envelope: Envelope) -> None:
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def parts(message: EmailMessage) -> dict[str, str]:
    """The text bodies of a received message by content type ("text/plain", "text/html")."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text" and isinstance(part, EmailMessage):
            found.setdefault(part.get_content_type(), str(part.get_content()))
    return found


@pytest.fixture
def mail_eager_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eager mail deliveries run their retries at once, as Celery's eager mode means to (the
    countdown is ignored: no sleeping). With `task_eager_propagates` on (project/settings/celery.py),
    Celery 5.7 re-raises the task's `Retry` to the caller instead (celery/app/trace.py `on_error`),
    so for the mail task alone `apply` gets `throw=False`. The outcome is on the row."""
    from workers.tasks.mail import mail_deliver_task

    apply = mail_deliver_task.apply
    monkeypatch.setattr(mail_deliver_task, "apply", lambda *args, **kwargs: apply(*args, **{**kwargs, "throw": False}))


@pytest.fixture
def smtp_server(settings: Any, mail_eager_retries: None) -> Iterator[LoopbackSMTP]:
    """A fresh loopback SMTP server; Django's SMTP backend points at it for the test, and eager
    mail retries run at once (`mail_eager_retries`)."""
    server = LoopbackSMTP().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()
