"""allauth's mails (password reset, verification) go through `mail_queue` and the task like every
other: the request only writes a row, and the loopback SMTP server receives text and HTML."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from domains.accounts.models import Organisation
from domains.compliance.services import policy_publish
from domains.mail.models import MailState, OutboundEmail
from tests.factories import UserFactory
from tests.fakes.smtp_server import LoopbackSMTP, parts

pytestmark = pytest.mark.django_db


@pytest.fixture
def person() -> Any:
    user = UserFactory.create(email="reset@example.test")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def test_a_password_reset_is_queued_and_arrives_naming_the_site(
    client: Client,
    person: Any,
    smtp_server: LoopbackSMTP,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/reset/", {"email": "reset@example.test"})

    assert response.status_code == 302
    email = OutboundEmail.objects.get()
    assert (email.tag, email.user, email.organisation, email.to) == (
        "account.password_reset_key",
        person,
        None,
        "reset@example.test",
    )
    assert (email.state, email.attempts) == (MailState.SENT, 1)
    assert (email.text_body, email.html_body) == ("", "")  # the reset key is not kept once sent
    [received] = smtp_server.messages
    assert received["Subject"].startswith("[Coachwire] ")
    body = parts(received)
    assert set(body) == {"text/plain", "text/html"}
    assert "Hello from Coachwire!" in body["text/plain"]
    assert "/accounts/password/reset/key/" in body["text/plain"]
    assert '<a href="http://testserver/accounts/password/reset/key/' in body["text/html"]
    assert "example.com" not in received.as_string()


def test_the_reset_page_answers_without_waiting_on_a_failing_server(
    settings: Any,
    client: Client,
    person: Any,
    smtp_server: LoopbackSMTP,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """The request makes no SMTP contact at all: the send runs after commit, in the task."""
    settings.MAIL_MAX_RETRIES = 1
    smtp_server.fail_always()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/accounts/password/reset/", {"email": "reset@example.test"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert smtp_server.refused == 0  # nothing was attempted while answering
    assert OutboundEmail.objects.get().state == MailState.PENDING

    for callback in callbacks:
        callback()

    email = OutboundEmail.objects.get()
    assert (email.state, email.attempts) == (MailState.FAILED, 2)
    assert "451" in email.last_error
    assert email.text_body  # kept while it has not gone out, so it can be retried


def test_signing_up_queues_the_verification_mail(
    client: Client, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    Organisation.objects.create(name="Coachwire Demo", slug="coachwire-demo")
    policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy")
    policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {
                "display_name": "Ada Lovelace",
                "email": "ada@example.test",
                "password1": "correct horse battery",
                "password2": "correct horse battery",
                "accept_policies": "on",
            },
        )

    assert response.status_code == 302
    email = OutboundEmail.objects.get(tag="account.email_confirmation_signup")
    assert email.state == MailState.SENT
    [received] = [m for m in smtp_server.messages if m["To"] == "ada@example.test"]
    assert "/accounts/confirm-email/" in parts(received)["text/plain"]
