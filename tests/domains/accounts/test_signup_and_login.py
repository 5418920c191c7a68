"""Sign-up with consent, login, and bad input over real HTTP views."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from domains.accounts.models import Membership, Organisation, User
from domains.compliance.models import AuditEvent, Consent
from domains.compliance.services import policy_publish
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def policies() -> list:
    return [
        policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy"),
        policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms"),
    ]


@pytest.fixture
def signup_org() -> Organisation:
    return Organisation.objects.create(name="Coachwire Demo", slug="coachwire-demo")


def _signup_data(**overrides: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "display_name": "Ada Lovelace",
        "email": "ada@example.test",
        "password1": "correct horse battery",
        "password2": "correct horse battery",
        "accept_policies": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_signup_records_consent_joins_the_organisation_and_lands_on_the_dashboard(
    client: Client, policies: list, signup_org: Organisation
) -> None:
    response = client.post("/accounts/signup/", _signup_data(HTTP_USER_AGENT="pytest-browser"))
    assert response.status_code == 302
    user = User.objects.get(email="ada@example.test")
    assert user.display_name == "Ada Lovelace"
    consents = Consent.objects.filter(user=user)
    assert {c.document.kind for c in consents} == {"privacy", "terms"}
    assert {c.document.version for c in consents} == {"1.0"}
    assert all(c.ip_address == "127.0.0.1" for c in consents)
    assert Membership.objects.filter(user=user, organisation=signup_org, role="learner").exists()
    assert AuditEvent.objects.filter(action="consent.accepted", actor=user).count() == 2
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert b"Welcome, Ada Lovelace" in dashboard.content


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"accept_policies": None}, "accept_policies"),
        ({"email": "not-an-email"}, "email"),
        ({"password2": "something else entirely"}, "password2"),
        ({"password1": "short", "password2": "short"}, "password1"),
        ({"display_name": "   "}, "display_name"),
    ],
)
def test_bad_signup_gets_field_errors_and_creates_nothing(
    client: Client, policies: list, signup_org: Organisation, overrides: dict, field: str
) -> None:
    response = client.post("/accounts/signup/", _signup_data(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not User.objects.exists()
    assert not Consent.objects.exists()


def test_signup_with_an_existing_email_is_refused(client: Client, policies: list, signup_org: Organisation) -> None:
    UserFactory.create(email="ada@example.test")
    response = client.post("/accounts/signup/", _signup_data())
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert User.objects.count() == 1


def test_login_is_audited_and_failed_logins_too(client: Client, policies: list) -> None:
    user = UserFactory.create()
    bad = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    assert bad.status_code == 200
    assert bad.context["form"].errors
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_label=user.email).count() == 1
    good = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert good.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor=user).count() == 1


def test_login_with_empty_fields_gets_field_errors(client: Client) -> None:
    response = client.post("/accounts/login/", {"login": "", "password": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"login", "password"}


def test_a_new_policy_version_asks_again_before_any_page(
    client: Client, policies: list, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    user = UserFactory.create()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/consent/")
    refused = client.post("/consent/", {"next": "/"})
    assert refused.status_code == 200
    assert "accept_policies" in refused.context["form"].errors
    assert not Consent.objects.filter(user=user).exists()
    accepted = client.post("/consent/", {"accept_policies": "on", "next": "/"})
    assert accepted.status_code == 302
    assert client.get("/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        policy_publish(kind="terms", version="2.0", title="Terms of use", body="# Terms v2")
    again = client.get("/")
    assert again.status_code == 302
    assert again["Location"].startswith("/consent/")


def test_consent_redirect_refuses_an_outside_next(client: Client, policies: list) -> None:
    client.force_login(UserFactory.create())
    response = client.post("/consent/", {"accept_policies": "on", "next": "https://evil.example/"})
    assert response["Location"] == "/"
