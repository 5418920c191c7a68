"""Two admin sites: /manage/ for organisation staff, scoped to the session's organisation, and
Django's /admin/ for platform operators (superusers) only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

import pytest
from django.test import Client
from django.test.client import RequestFactory

from domains.accounts.http import OrganisationRequest
from domains.accounts.models import Membership, Organisation, Role, User
from domains.ai.models import AIFeatureConfig
from domains.compliance.models import AuditEvent
from domains.lounges.models import Lounge, Message, Report
from project.admin_site import org_admin_site
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory, LoungeMembershipFactory, MessageFactory

pytestmark = pytest.mark.django_db

MISSING = 987654321


@dataclass
class Tenants:
    """Organisation A (staff, mentor, learner, a lounge with a message, a report, an audit event)
    and organisation B with the same, its texts marked so a leak is visible."""

    org_a: Organisation
    staff: User
    mentor: User
    learner: User
    lounge_a: Lounge
    message_a: Message
    report_a: Report
    audit_a: AuditEvent
    org_b: Organisation
    outsider: User
    membership_b: Membership
    lounge_b: Lounge
    message_b: Message
    report_b: Report
    audit_b: AuditEvent
    config_b: AIFeatureConfig


@pytest.fixture
def tenants() -> Tenants:
    org_a, org_b = OrganisationFactory.create(name="Alpha School"), OrganisationFactory.create(name="Beta Corp")
    staff = MembershipFactory.create(organisation=org_a, role=Role.STAFF).user
    mentor = MembershipFactory.create(organisation=org_a, role=Role.MENTOR).user
    learner = MembershipFactory.create(
        organisation=org_a, role=Role.LEARNER, user__email="alpha-learner@example.test"
    ).user
    outsider = UserFactory.create(email="beta-only@example.test", display_name="Beatrix Beta")
    membership_b = MembershipFactory.create(organisation=org_b, user=outsider, role=Role.LEARNER)
    lounge_a = LoungeFactory.create(organisation=org_a, title="Alpha lounge")
    lounge_b = LoungeFactory.create(organisation=org_b, title="Beta secret lounge")
    LoungeMembershipFactory.create(lounge=lounge_a, user=learner)
    LoungeMembershipFactory.create(lounge=lounge_b, user=outsider)
    message_a = MessageFactory.create(lounge=lounge_a, author=learner, body="alpha-visible-text")
    message_b = MessageFactory.create(lounge=lounge_b, author=outsider, body="beta-canary-text")
    report_a = Report.objects.create(
        lounge=lounge_a, message=message_a, reporter=learner, reason="r", reported_body="x"
    )
    report_b = Report.objects.create(
        lounge=lounge_b, message=message_b, reporter=outsider, reason="r", reported_body="beta-canary-text"
    )
    audit_a = AuditEvent.objects.create(organisation=org_a, action="alpha.happened", actor_label="a")
    audit_b = AuditEvent.objects.create(organisation=org_b, action="beta.canary", actor_label="b")
    config_b = AIFeatureConfig.objects.create(organisation=org_b, feature="", model="beta-canary-model")
    return Tenants(
        org_a,
        staff,
        mentor,
        learner,
        lounge_a,
        message_a,
        report_a,
        audit_a,
        org_b,
        outsider,
        membership_b,
        lounge_b,
        message_b,
        report_b,
        audit_b,
        config_b,
    )


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _answer(client: Client, url: str, object_id: int) -> tuple[int, str, list[str]]:
    """Status, redirect target and flashed messages, with the id itself blanked out."""
    response = client.get(url, follow=False)
    location = response.get("Location", "")
    followed = client.get(location) if response.status_code == 302 else response
    messages = (
        [re.sub(rf"\b{object_id}\b", "<id>", str(m)) for m in followed.context["messages"]] if followed.context else []
    )
    return response.status_code, location, messages


def test_every_admin_on_the_organisation_site_passes_djangos_checks() -> None:
    """The site is built when project.urls loads, not at app start, so `manage.py check` reaches its
    admins only if the URL check happens to run first; this runs the admin checks on it directly."""
    assert org_admin_site._registry, "the organisation site has admins"
    assert org_admin_site.check(None) == []


def test_org_staff_reach_the_organisation_admin_and_the_nav_links_it(tenants: Tenants) -> None:
    """Staff of the session's organisation use /manage/ (no Django flags needed); the nav links it."""
    client = _as(tenants.staff)
    assert not tenants.staff.is_staff
    assert not tenants.staff.is_superuser

    index = client.get("/manage/")
    home = client.get("/")

    assert index.status_code == 200
    for model in ("lounge", "message", "report", "membership", "user", "auditevent", "aifeatureconfig"):
        assert re.search(rf'href="/manage/\w+/{model}/"', index.content.decode()), model
    assert b'href="/manage/"' in home.content


@pytest.mark.parametrize(
    "path",
    [
        "lounges/lounge/",
        "lounges/message/",
        "lounges/report/",
        "accounts/membership/",
        "accounts/user/",
        "compliance/auditevent/",
        "ai/aifeatureconfig/",
    ],
)
def test_lists_show_only_the_sessions_organisation(tenants: Tenants, path: str) -> None:
    """Every list on /manage/ shows organisation A's rows only: B's texts, names and titles never
    appear (list filters included)."""
    response = _as(tenants.staff).get(f"/manage/{path}")

    assert response.status_code == 200
    body = response.content.decode()
    for canary in (
        "beta-canary",
        "beta.canary",
        "Beta secret lounge",
        "beta-only@example.test",
        "Beatrix Beta",
        "Beta Corp",
    ):
        assert canary not in body, canary


def test_lists_show_the_own_rows(tenants: Tenants) -> None:
    """The message list shows A's message text, the audit list A's events, the members A's people."""
    client = _as(tenants.staff)
    assert b"alpha-visible-text" in client.get("/manage/lounges/message/").content
    assert b"alpha.happened" in client.get("/manage/compliance/auditevent/").content
    assert b"alpha-learner@example.test" in client.get("/manage/accounts/user/").content
    assert b"Alpha lounge" in client.get("/manage/lounges/lounge/").content


@pytest.mark.parametrize(
    ("path", "attribute"),
    [
        ("lounges/lounge", "lounge_b"),
        ("lounges/message", "message_b"),
        ("lounges/report", "report_b"),
        ("accounts/membership", "membership_b"),
        ("accounts/user", "outsider"),
        ("compliance/auditevent", "audit_b"),
        ("ai/aifeatureconfig", "config_b"),
    ],
)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_another_organisations_object_answers_like_a_missing_one(
    tenants: Tenants, path: str, attribute: str, view: str
) -> None:
    """Change, delete and history pages of B's objects answer exactly as a missing id does: the same
    redirect and the same message (or, deleting what staff may never delete, the same 403)."""
    client = _as(tenants.staff)
    foreign = getattr(tenants, attribute).pk

    foreign_answer = _answer(client, f"/manage/{path}/{foreign}/{view}/", foreign)
    missing_answer = _answer(client, f"/manage/{path}/{MISSING}/{view}/", MISSING)

    assert foreign_answer == missing_answer
    if foreign_answer[0] != 403:  # deleting a read-only model is refused before any lookup
        assert foreign_answer[0] == 302
        assert foreign_answer[1] == "/manage/"
        assert "doesn\u2019t exist" in foreign_answer[2][0]


def test_own_change_pages_open(tenants: Tenants) -> None:
    client = _as(tenants.staff)
    assert client.get(f"/manage/lounges/lounge/{tenants.lounge_a.pk}/change/").status_code == 200
    message_page = client.get(f"/manage/lounges/message/{tenants.message_a.pk}/change/")
    assert message_page.status_code == 200
    assert b"alpha-visible-text" in message_page.content


def test_form_choices_offer_only_the_organisations_people_and_lounges(tenants: Tenants) -> None:
    """Foreign-key choices (forms and autocomplete) come from the session's organisation only."""
    client = _as(tenants.staff)

    add = client.get("/manage/accounts/membership/add/")
    users = add.context["adminform"].form.fields["user"].queryset
    report = client.get(f"/manage/lounges/report/{tenants.report_a.pk}/change/")
    handlers = report.context["adminform"].form.fields["handled_by"].queryset
    search = client.get(
        "/manage/autocomplete/",
        {"app_label": "accounts", "model_name": "membership", "field_name": "user", "term": "beta"},
    )
    own_search = client.get(
        "/manage/autocomplete/",
        {"app_label": "accounts", "model_name": "membership", "field_name": "user", "term": "alpha-learner"},
    )
    request = cast(OrganisationRequest, RequestFactory().get("/manage/"))
    request.user, request.organisation, request.roles = tenants.staff, tenants.org_a, frozenset({Role.STAFF})
    report_admin = org_admin_site.get_model_admin(Report)
    lounge_field = report_admin.formfield_for_foreignkey(Report._meta.get_field("lounge"), request)
    assert lounge_field is not None
    assert lounge_field.queryset is not None

    for queryset in (users, handlers):
        assert tenants.outsider not in queryset
        assert {tenants.staff, tenants.mentor, tenants.learner} <= set(queryset)
    assert search.json()["results"] == []
    assert [r["id"] for r in own_search.json()["results"]] == [str(tenants.learner.pk)]
    assert list(lounge_field.queryset) == [tenants.lounge_a]


def test_a_foreign_user_cannot_be_given_a_role(tenants: Tenants) -> None:
    """Posting another organisation's user id is a field error; nothing is granted."""
    response = _as(tenants.staff).post(
        "/manage/accounts/membership/add/", {"user": tenants.outsider.pk, "role": "staff"}
    )

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=tenants.outsider, role=Role.STAFF).exists()


def test_a_role_granted_on_manage_goes_through_the_service(tenants: Tenants) -> None:
    """The new membership belongs to the session's organisation and is audited there."""
    response = _as(tenants.staff).post(
        "/manage/accounts/membership/add/", {"user": tenants.learner.pk, "role": "mentor"}
    )

    assert response.status_code == 302
    assert Membership.objects.filter(user=tenants.learner, organisation=tenants.org_a, role=Role.MENTOR).exists()
    event = AuditEvent.objects.get(action="membership.role_granted", target_id=str(tenants.learner.pk))
    assert (event.organisation, event.actor) == (tenants.org_a, tenants.staff)


def test_a_new_lounge_belongs_to_the_sessions_organisation(tenants: Tenants) -> None:
    """No organisation field to choose: the lounge is A's; a slug taken in A is a form error, not a 500."""
    client = _as(tenants.staff)
    form = client.get("/manage/lounges/lounge/add/")
    fields = {
        "title": "New room",
        "slug": "new-room",
        "access": "open",
        "slow_mode_seconds": 0,
        "coach_name": "Coach",
        "coach_system_prompt": "Be kind.",
        "coach_temperature": 0.4,
        "coach_max_tokens": 600,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }

    created = client.post("/manage/lounges/lounge/add/", fields)
    duplicate = client.post("/manage/lounges/lounge/add/", {**fields, "title": "Again"})

    assert "organisation" not in form.context["adminform"].form.fields
    assert created.status_code == 302
    lounge = Lounge.objects.get(slug="new-room")
    assert (lounge.organisation, lounge.created_by) == (tenants.org_a, tenants.staff)
    assert duplicate.status_code == 200
    assert duplicate.context["adminform"].form.errors
    assert Lounge.objects.filter(slug="new-room").count() == 1


def test_messages_and_audit_events_are_read_only(tenants: Tenants) -> None:
    client = _as(tenants.staff)
    assert client.get("/manage/lounges/message/add/").status_code == 403
    assert client.get("/manage/compliance/auditevent/add/").status_code == 403
    assert client.post(f"/manage/lounges/message/{tenants.message_a.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("who", ["mentor", "learner"])
def test_members_without_the_staff_role_are_refused_the_organisation_admin(tenants: Tenants, who: str) -> None:
    client = _as(getattr(tenants, who))

    response = client.get("/manage/", follow=True)

    assert response.status_code == 403
    assert client.get(f"/manage/lounges/message/{tenants.message_a.pk}/change/", follow=True).status_code == 403
    assert b'href="/manage/"' not in client.get("/").content


def test_the_organisation_admin_sends_visitors_to_the_login() -> None:
    response = Client().get("/manage/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_org_staff_are_refused_the_operator_admin(tenants: Tenants) -> None:
    """Organisation staff are not platform operators: /admin/ is refused, its lists too."""
    client = _as(tenants.staff)
    assert client.get("/admin/", follow=True).status_code == 403
    assert client.get("/admin/lounges/message/", follow=True).status_code == 403


def test_the_operator_uses_the_operator_admin_over_every_organisation(tenants: Tenants) -> None:
    """A superuser in no organisation runs /admin/ (every organisation's rows) but not /manage/."""
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    client = _as(operator)

    lounges = client.get("/admin/lounges/lounge/")

    assert lounges.status_code == 200
    assert b"Beta secret lounge" in lounges.content
    assert b"Alpha lounge" in lounges.content
    assert client.get(f"/admin/lounges/lounge/{tenants.lounge_b.pk}/change/").status_code == 200
    assert client.get("/manage/", follow=True).status_code == 403
    assert b'href="/admin/"' in client.get("/").content


# ---------------------------------------------------------------- what a review found


@pytest.mark.parametrize(
    "query",
    [
        "password__startswith=pbkdf2_sha256",
        "password__regex=^p",
        "is_superuser=1",
        "memberships__id=1",
        "lounge_memberships__isnull=False",
    ],
)
def test_member_lists_refuse_filters_that_are_not_the_lists_own(tenants: Tenants, query: str) -> None:
    """Only the list's own filters are accepted: a lookup on the password hash would answer, one
    character at a time, whether a member's hash starts with a guess."""
    client = _as(tenants.staff)

    refused = client.get(f"/manage/accounts/user/?{query}")
    allowed = client.get("/manage/accounts/user/?is_active__exact=1")

    assert refused.status_code == 400
    assert allowed.status_code == 200


def test_a_members_history_shows_only_what_this_organisations_people_did(tenants: Tenants) -> None:
    """An operator's edit in /admin/ may name the member's rows in other organisations; the history
    on /manage/ lists only entries written by people of the session's organisation."""
    from django.contrib.admin.models import CHANGE, LogEntry

    shared = tenants.learner
    MembershipFactory.create(organisation=tenants.org_b, user=shared, role=Role.STAFF)
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    LogEntry.objects.log_actions(
        user_id=operator.pk,
        queryset=[shared],
        action_flag=CHANGE,
        change_message=[{"added": {"name": "membership", "object": "learner · staff @ Beta Corp"}}],
        single_object=True,
    )
    LogEntry.objects.log_actions(
        user_id=tenants.staff.pk, queryset=[shared], action_flag=CHANGE, change_message="alpha-staff-edit"
    )

    page = _as(tenants.staff).get(f"/manage/accounts/user/{shared.pk}/history/").content.decode()

    assert "alpha-staff-edit" in page
    assert "Beta Corp" not in page


def test_lounge_memberships_and_ai_settings_are_read_only_and_lounges_not_deleted(tenants: Tenants) -> None:
    """Lounge membership changes go through the lounge services (audited, live to sockets); the AI
    settings spend the installation's keys; deleting a lounge would cascade to shared notes."""
    client = _as(tenants.staff)
    config_a = AIFeatureConfig.objects.create(organisation=tenants.org_a, feature="", model="alpha-model")

    lounge_form = client.get(f"/manage/lounges/lounge/{tenants.lounge_a.pk}/change/")
    ai_change = client.post(
        f"/manage/ai/aifeatureconfig/{config_a.pk}/change/", {"feature": "", "tokens_per_day_per_org": 0}
    )
    delete = client.post(f"/manage/lounges/lounge/{tenants.lounge_a.pk}/delete/", {"post": "yes"})

    inline = lounge_form.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert not inline.has_delete_permission
    assert "coach_model" not in lounge_form.context["adminform"].form.fields
    assert ai_change.status_code == 403
    config_a.refresh_from_db()
    assert config_a.tokens_per_day_per_org is None
    assert delete.status_code == 403
    assert Lounge.objects.filter(pk=tenants.lounge_a.pk).exists()


def test_changes_made_on_manage_are_in_the_audit_log(tenants: Tenants) -> None:
    """Every add, change and delete on /manage/ also lands in the organisation's audit log."""
    client = _as(tenants.staff)
    lounge = tenants.lounge_a
    fields = {
        "title": "Renamed lounge",
        "slug": lounge.slug,
        "access": lounge.access,
        "slow_mode_seconds": 0,
        "coach_name": "Coach",
        "coach_system_prompt": "Be kind.",
        "coach_temperature": 0.4,
        "memberships-TOTAL_FORMS": 1,
        "memberships-INITIAL_FORMS": 1,
        "memberships-0-id": lounge.memberships.get().pk,
        "memberships-0-lounge": lounge.pk,
    }

    response = client.post(f"/manage/lounges/lounge/{lounge.pk}/change/", fields)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    event = AuditEvent.objects.get(action="admin.lounge_changed", target_id=str(lounge.pk))
    assert (event.organisation, event.actor) == (tenants.org_a, tenants.staff)
