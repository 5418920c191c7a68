"""Platform operators reach Django's admin; every page a role sees renders."""

from __future__ import annotations

import pytest
from django.test import Client

from domains.accounts.models import Role
from domains.compliance.services import consent_record, policy_publish
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_operator_reaches_the_admin_and_organisation_staff_do_not(client: Client) -> None:
    """Django's admin is the platform operators' (superusers); organisation staff use /manage/
    (tests/domains/accounts/test_admin_sites.py)."""
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(operator)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/compliance/auditevent/").status_code == 200
    assert client.get("/admin/accounts/membership/").status_code == 200
    client.force_login(MembershipFactory.create(role=Role.STAFF).user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert client.get(response["Location"]).status_code == 403


@pytest.mark.parametrize("role", list(Role))
def test_each_roles_dashboard_renders_its_panel(client: Client, role: Role) -> None:
    membership = MembershipFactory.create(role=role)
    client.force_login(membership.user)
    response = client.get("/")
    assert response.status_code == 200
    assert f'data-role-panel="{role.value}"'.encode() in response.content


def test_mfa_and_policy_pages_render(client: Client) -> None:
    privacy = policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Hi\n\n<script>x</script>")
    page = client.get("/policies/privacy/")
    assert page.status_code == 200
    assert b"<script>x</script>" not in page.content
    assert client.get("/policies/nonsense/").status_code == 404
    user = UserFactory.create()
    consent_record(user=user, documents=[privacy], request=None)
    client.force_login(user)
    assert client.get("/accounts/2fa/").status_code == 200
