"""Self-serve organisations: creating one, and the header's switcher."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from domains.accounts.models import Membership, Organisation, OrganisationSettings, Role
from domains.accounts.selectors import ORGANISATION_SESSION_KEY
from domains.compliance.models import AuditEvent
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/organisations/new/"


def test_a_signed_in_person_creates_an_organisation_becomes_its_staff_and_works_in_it(client: Client) -> None:
    """Given a learner of one organisation, when they create another, then they are its staff, it is
    on the free plan, the session is switched to it and the dashboard shows it."""
    learner = MembershipFactory.create(role=Role.LEARNER)
    client.force_login(learner.user)

    response = client.post(URL, {"name": "  Night   School ", "slug": "Night-School"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    organisation = Organisation.objects.get(slug="night-school")
    assert organisation.name == "Night School"
    assert organisation.plan == "free"
    assert set(Membership.objects.filter(organisation=organisation).values_list("user", "role")) == {
        (learner.user.pk, Role.STAFF)
    }
    assert client.session[ORGANISATION_SESSION_KEY] == organisation.pk
    assert OrganisationSettings.objects.get(organisation=organisation).time_zone == learner.user.time_zone
    created = AuditEvent.objects.get(action="organisation.created")
    assert (created.actor, created.organisation, created.details) == (
        learner.user,
        organisation,
        {"slug": "night-school", "plan": "free"},
    )
    dashboard = client.get("/")
    assert dashboard.context["organisation"] == organisation
    assert "staff" in dashboard.context["roles"]


def test_a_person_with_no_organisation_can_start_one(client: Client) -> None:
    user = UserFactory.create()
    client.force_login(user)
    assert client.get(URL).status_code == 200
    assert client.post(URL, {"name": "Solo", "slug": "solo-team"}).status_code == 302
    assert client.session[ORGANISATION_SESSION_KEY] == Organisation.objects.get(slug="solo-team").pk


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Taken", "slug": "taken-org"}, "slug"),  # duplicate
        ({"name": "Reserved", "slug": "admin"}, "slug"),
        ({"name": "Reserved", "slug": "new"}, "slug"),
        ({"name": "Short", "slug": "ab"}, "slug"),
        ({"name": "Spaces", "slug": "two words"}, "slug"),
        ({"name": "Hyphens", "slug": "-edge-"}, "slug"),
        ({"name": "Long", "slug": "a" * 61}, "slug"),
        ({"name": "x", "slug": "fine-slug"}, "name"),
        ({"name": "   ", "slug": "fine-slug"}, "name"),
        ({"name": "N" * 121, "slug": "fine-slug"}, "name"),
    ],
)
def test_bad_names_and_slugs_are_refused_field_by_field_and_nothing_is_created(
    client: Client, data: dict, field: str
) -> None:
    OrganisationFactory.create(slug="taken-org")
    user = UserFactory.create()
    client.force_login(user)

    response = client.post(URL, data)

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert response.context["form"]["name"].value() == data["name"]  # what was typed is kept
    assert Organisation.objects.count() == 1
    assert not Membership.objects.filter(user=user).exists()


def test_unstorable_text_is_refused_before_the_view_and_nothing_is_created(client: Client) -> None:
    client.force_login(UserFactory.create())
    assert client.post(URL, {"name": "Nul\x00", "slug": "fine-slug"}).status_code == 400
    assert not Organisation.objects.exists()


def test_the_service_refuses_a_taken_slug_too(client: Client) -> None:
    from domains.accounts.services import organisation_create
    from domains.common.errors import Refusal

    OrganisationFactory.create(slug="taken-org")
    with pytest.raises(Refusal) as refusal:
        organisation_create(user=UserFactory.create(), name="Again", slug="TAKEN-org")
    assert refusal.value.code == "invalid_organisation"
    assert refusal.value.field_errors() == {"slug": ["That address is taken. Please choose another."]}


@override_settings(ORGANISATION_CREATE_PER_DAY=2)
def test_creation_is_rate_limited_per_person(client: Client) -> None:
    user = UserFactory.create()
    client.force_login(user)
    assert client.post(URL, {"name": "One", "slug": "one-org"}).status_code == 302
    assert client.post(URL, {"name": "Two", "slug": "two-org"}).status_code == 302

    refused = client.post(URL, {"name": "Three", "slug": "three-org"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert not Organisation.objects.filter(slug="three-org").exists()
    other = UserFactory.create()  # the limit is per person
    client.force_login(other)
    assert client.post(URL, {"name": "Three", "slug": "three-org"}).status_code == 302


def test_a_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.post(URL, {"name": "Anon", "slug": "anon-org"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not Organisation.objects.exists()


def test_the_switcher_lists_only_the_users_organisations_and_switches_by_post(client: Client) -> None:
    """The header lists exactly the person's active organisations, each a POST to the switch endpoint."""
    mine = MembershipFactory.create(role=Role.LEARNER, organisation=OrganisationFactory.create(name="Alpha"))
    second = MembershipFactory.create(
        user=mine.user, role=Role.MENTOR, organisation=OrganisationFactory.create(name="Beta")
    )
    OrganisationFactory.create(name="Gamma Foreign")
    client.force_login(mine.user)

    page = client.get("/notes/")

    assert [org.name for org in page.context["organisations"]] == ["Alpha", "Beta"]
    html = page.content.decode()
    assert 'popovertarget="org-menu"' in html
    assert f'name="organisation_id" value="{second.organisation.pk}"' in html
    assert "Gamma Foreign" not in html
    assert 'href="/organisations/new/"' in html

    assert client.post("/organisation/switch/", {"organisation_id": second.organisation.pk}).status_code == 302
    assert client.get("/").context["organisation"] == second.organisation


def test_switching_to_a_foreign_organisation_is_refused(client: Client) -> None:
    mine = MembershipFactory.create(role=Role.STAFF)
    foreign = OrganisationFactory.create()
    client.force_login(mine.user)
    assert client.post("/organisation/switch/", {"organisation_id": foreign.pk}).status_code == 404
    assert client.get("/").context["organisation"] == mine.organisation


def test_the_switcher_costs_no_query_per_organisation(client: Client) -> None:
    """The middleware loads the person's organisations (and their settings) in the one query it
    already made; a person in four organisations costs what a person in one does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_dashboard(organisations: int) -> int:
        user = UserFactory.create()
        for _ in range(organisations):
            org = OrganisationFactory.create()
            OrganisationSettings.objects.create(organisation=org, primary_colour="#1f3a5f")
            MembershipFactory.create(user=user, organisation=org, role=Role.LEARNER)
        client.force_login(user)
        client.get("/")  # the first request fills per-session caches
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/")
        assert len(page.context["organisations"]) == organisations
        return len(queries)

    assert queries_for_dashboard(1) == queries_for_dashboard(4)
