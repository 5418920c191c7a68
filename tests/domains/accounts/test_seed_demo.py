"""The demo seed is idempotent and gives every role a working login."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from domains.accounts.demo import DEMO_PASSWORD, DEMO_USERS, demo_email
from domains.accounts.models import Membership, Organisation, User
from domains.compliance.models import Consent, PolicyDocument
from domains.lounges.models import Lounge, LoungeMembership

pytestmark = pytest.mark.django_db


def test_seed_twice_changes_nothing_the_second_time() -> None:
    call_command("seed_demo")
    counts = [
        m.objects.count() for m in (Organisation, User, Membership, PolicyDocument, Consent, Lounge, LoungeMembership)
    ]
    call_command("seed_demo")
    assert [
        m.objects.count() for m in (Organisation, User, Membership, PolicyDocument, Consent, Lounge, LoungeMembership)
    ] == counts
    assert counts[1] == len(DEMO_USERS)


@pytest.mark.parametrize(("role", "name"), DEMO_USERS)
def test_every_demo_login_reaches_its_dashboard(role: str, name: str) -> None:
    call_command("seed_demo")
    client = Client()
    response = client.post("/accounts/login/", {"login": demo_email(role), "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert f'data-role-panel="{role}"'.encode() in page.content
