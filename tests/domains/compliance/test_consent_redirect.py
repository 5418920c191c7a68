"""The consent page comes first on every page a signed-in person opens, except where sending them
away would lose or leak something."""

from __future__ import annotations

import pytest
from django.test import Client

from domains.compliance.services import policy_publish
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unconsented(client: Client) -> Client:
    policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy")
    client.force_login(UserFactory.create())
    return client


def test_a_page_sends_a_person_without_consent_to_the_consent_page(unconsented: Client) -> None:
    response = unconsented.get("/notes/")
    assert response.status_code == 302
    assert response["Location"].startswith("/consent/?next=/notes/")


@pytest.mark.parametrize("path", ["/accounts/google/login/callback/", "/accounts/oidc/sso/login/callback/"])
def test_a_provider_callback_is_not_sent_through_consent_with_its_code(unconsented: Client, path: str) -> None:
    """The callback's one-time code must not ride along as `next=` through the consent page."""
    response = unconsented.get(f"{path}?code=one-time-code&state=abc")
    assert "/consent/" not in response.get("Location", "")
    assert "one-time-code" not in response.get("Location", "")
