"""A mail that could not be delivered shows to its organisation's staff in /manage/ (and to the
operator in /admin/), never to another organisation's; staff can queue it again."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from domains.accounts.models import Role, User
from domains.compliance.models import AuditEvent
from domains.mail.models import MailState, OutboundEmail
from domains.mail.services import mail_queue
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.fakes.smtp_server import LoopbackSMTP

pytestmark = pytest.mark.django_db

CHANGELIST = "/manage/mail/outboundemail/"
# The request's own: the session's user, organisation and roles, the two policy checks (consent),
# the notifications badge, the session save (savepoint, update, release): 9. The list's: the
# filtered and the total count, the page, the date hierarchy's bounds and its days, the tag
# filter's choices: 6.
MAIL_LIST_QUERIES = 15


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def failed(
    settings: Any, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> OutboundEmail:
    """A notification mail of organisation A that the server refused until the retries ran out."""
    settings.MAIL_MAX_RETRIES = 1
    smtp_server.fail_always()
    organisation = OrganisationFactory.create(name="Alpha School")
    learner = MembershipFactory.create(organisation=organisation, role=Role.LEARNER).user
    with django_capture_on_commit_callbacks(execute=True):
        email = mail_queue(
            to=learner.email,
            subject="[Coachwire] alpha-canary-subject",
            text="Body with https://coachwire.test/unsubscribe/secret-token",
            tag="notification.test",
            user=learner,
            organisation=organisation,
        )
    email.refresh_from_db()
    assert email.state == MailState.FAILED
    smtp_server.reset()
    return email


def test_organisation_staff_see_their_failed_mail_and_why(failed: OutboundEmail) -> None:
    assert failed.organisation is not None
    staff = MembershipFactory.create(organisation=failed.organisation, role=Role.STAFF).user

    listing = _as(staff).get(CHANGELIST, {"state__exact": "failed"})
    detail = _as(staff).get(f"{CHANGELIST}{failed.pk}/change/")

    assert listing.status_code == 200
    page = listing.content.decode()
    assert "alpha-canary-subject" in page
    assert "SMTPDataError" in page  # last_error is on the list
    assert detail.status_code == 200
    assert "secret-token" not in detail.content.decode()  # bodies carry the person's own links


def test_another_organisations_staff_do_not_see_it(failed: OutboundEmail) -> None:
    other_staff = MembershipFactory.create(organisation=OrganisationFactory.create(), role=Role.STAFF).user
    client = _as(other_staff)

    listing = client.get(CHANGELIST)
    detail = client.get(f"{CHANGELIST}{failed.pk}/change/")
    missing = client.get(f"{CHANGELIST}987654321/change/")

    assert listing.status_code == 200
    assert "alpha-canary-subject" not in listing.content.decode()
    assert (detail.status_code, detail["Location"]) == (missing.status_code, missing["Location"])


def test_staff_retry_a_failed_mail_and_it_goes_out(
    failed: OutboundEmail, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    assert failed.organisation is not None
    staff = MembershipFactory.create(organisation=failed.organisation, role=Role.STAFF).user

    with django_capture_on_commit_callbacks(execute=True):
        response = _as(staff).post(CHANGELIST, {"action": "retry_failed", "_selected_action": [failed.pk]})

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (MailState.SENT, 1)
    assert [message["Subject"] for message in smtp_server.messages] == ["[Coachwire] alpha-canary-subject"]
    assert AuditEvent.objects.filter(action="admin.outboundemail_changed", actor=staff).count() == 1


def test_the_operator_sees_every_mail_account_mail_included(failed: OutboundEmail) -> None:
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    account_mail = OutboundEmail.objects.create(
        to="x@example.test", subject="account-canary", text_body="x", tag="account.password_reset_key"
    )

    page = _as(operator).get("/admin/mail/outboundemail/").content.decode()

    assert "alpha-canary-subject" in page
    assert account_mail.subject in page


@pytest.mark.parametrize("count", [1, 6])
def test_the_organisation_mail_list_costs_a_fixed_number_of_queries(count: int, django_assert_num_queries: Any) -> None:
    """The list shows only the row's own columns (no organisation, no user): no query per row."""
    organisation = OrganisationFactory.create()
    staff = MembershipFactory.create(organisation=organisation, role=Role.STAFF).user
    OutboundEmail.objects.bulk_create(
        OutboundEmail(organisation=organisation, to=f"p{n}@example.test", subject=f"s{n}", text_body="x", tag="t")
        for n in range(count)
    )
    client = _as(staff)

    with django_assert_num_queries(MAIL_LIST_QUERIES):
        response = client.get(CHANGELIST)

    assert response.status_code == 200
