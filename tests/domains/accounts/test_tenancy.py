"""Organisation scoping: another organisation's objects answer exactly like missing ones."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from domains.accounts.models import Membership, Role
from domains.compliance.models import AuditEvent
from tests.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client) -> tuple[Client, Membership]:
    membership = MembershipFactory.create(role=Role.STAFF)
    client.force_login(membership.user)
    return client, membership


def test_a_member_of_another_organisation_is_404_like_a_missing_one(staff_client: tuple) -> None:
    client, _ = staff_client
    foreign = MembershipFactory.create(organisation=OrganisationFactory.create())
    assert client.get(f"/members/{foreign.user.pk}/").status_code == 404
    assert client.get("/members/999999/").status_code == 404
    assert client.post(f"/members/{foreign.user.pk}/", {"roles": ["staff"]}).status_code == 404
    assert not Membership.objects.filter(user=foreign.user, role=Role.STAFF).exists()


def test_staff_change_roles_and_the_change_is_audited(staff_client: tuple) -> None:
    client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.LEARNER).user
    response = client.post(f"/members/{member.pk}/", {"roles": ["learner", "mentor"]})
    assert response.status_code == 302
    assert set(member.memberships.values_list("role", flat=True)) == {"learner", "mentor"}
    event = AuditEvent.objects.get(action="membership.role_granted", target_id=str(member.pk))
    assert event.actor == staff.user
    assert event.organisation == staff.organisation
    assert event.details == {"role": "mentor"}


def test_bad_role_input_changes_nothing(staff_client: tuple) -> None:
    client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.LEARNER).user
    response = client.post(f"/members/{member.pk}/", {"roles": ["emperor"]})
    assert response.status_code == 200
    assert "roles" in response.context["form"].errors
    assert list(member.memberships.values_list("role", flat=True)) == ["learner"]


def test_a_learner_cannot_manage_members(client: Client) -> None:
    learner = MembershipFactory.create(role=Role.LEARNER)
    colleague = MembershipFactory.create(organisation=learner.organisation)
    client.force_login(learner.user)
    assert client.get("/members/").status_code == 403
    assert client.post(f"/members/{colleague.user.pk}/", {"roles": ["staff"]}).status_code == 403


def test_member_list_lists_only_this_organisation(
    staff_client: tuple, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client, staff = staff_client
    for _ in range(5):
        MembershipFactory.create(organisation=staff.organisation)
    outsider = MembershipFactory.create(organisation=OrganisationFactory.create())
    # constant, whatever the member count (the notifications badge on every page, and for staff
    # the deactivated members)
    with django_assert_max_num_queries(14):
        response = client.get("/members/")
    assert response.status_code == 200
    listed = [member.pk for member, _ in response.context["members"]]
    assert len(listed) == 6
    assert outsider.user.pk not in listed


def test_the_audit_log_shows_only_this_organisation(staff_client: tuple) -> None:
    client, staff = staff_client
    AuditEvent.objects.create(organisation=staff.organisation, action="mine.happened", actor_label="x")
    AuditEvent.objects.create(organisation=OrganisationFactory.create(), action="theirs.happened", actor_label="y")
    response = client.get("/audit/")
    assert b"mine.happened" in response.content
    assert b"theirs.happened" not in response.content


def test_switching_to_a_foreign_organisation_is_404(staff_client: tuple) -> None:
    client, _ = staff_client
    foreign = OrganisationFactory.create()
    assert client.post("/organisation/switch/", {"organisation_id": foreign.pk}).status_code == 404
    assert client.post("/organisation/switch/", {"organisation_id": "abc"}).status_code == 404


def test_member_email_is_shown_to_staff_and_the_person_not_to_mentors(client: Client) -> None:
    """A member's email address is for staff (they run members) and for the person themself;
    a mentor sees the public name only, on the member page and in the list."""
    learner = MembershipFactory.create(
        role=Role.LEARNER, user__email="private-address@example.test", user__display_name="Pat Private"
    )
    organisation = learner.organisation
    mentor = MembershipFactory.create(organisation=organisation, role=Role.MENTOR).user
    staff = MembershipFactory.create(organisation=organisation, role=Role.STAFF).user
    page = f"/members/{learner.user.pk}/"

    client.force_login(mentor)
    mentor_page, mentor_list = client.get(page), client.get("/members/")
    client.force_login(staff)
    staff_page, staff_list = client.get(page), client.get("/members/")
    client.force_login(mentor)
    own_page = client.get(f"/members/{mentor.pk}/")

    assert mentor_page.status_code == mentor_list.status_code == 200
    assert b"private-address@example.test" not in mentor_page.content
    assert b"private-address@example.test" not in mentor_list.content
    assert b"Pat Private" in mentor_page.content
    assert b"private-address@example.test" in staff_page.content
    assert b"private-address@example.test" in staff_list.content
    assert mentor.email.encode() in own_page.content
