"""The organisation settings page: staff only, scoped to the session's organisation, every field
validated, all sections saved together or not at all, the sign-up policy enforced."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from domains.accounts import services
from domains.accounts import settings_sections as settings_sections_module
from domains.accounts.models import Organisation, OrganisationSettings, Role, SignupPolicy, User
from domains.accounts.services import contrast_with_white
from domains.accounts.settings_sections import settings_sections
from domains.ai.models import AIFeatureConfig
from domains.ai.selectors import ai_feature_settings
from domains.common.errors import Refusal
from domains.common.uploads import store_upload
from domains.compliance.models import AuditEvent
from domains.compliance.services import policy_publish
from tests.domains.common.test_uploads import EXE_BYTES, HTML_BYTES, JPEG_BYTES, SVG_BYTES, png_bytes
from tests.factories import MembershipFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

URL = "/organisation/settings/"


def _form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "general-name": "Alpha Academy",
        "general-primary_colour": "#1f3a5f",
        "general-accent_colour": "#2457c5",
        "general-signup_policy": "open",
        "general-signup_email_domain": "",
        "general-time_zone": "Europe/Berlin",
        "ai-provider": "anthropic",
        "ai-model": "claude-sonnet-4-5",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def staff_a(client: Client) -> tuple[Client, User, Organisation]:
    membership = MembershipFactory.create(role=Role.STAFF, organisation=OrganisationFactory.create(name="Alpha"))
    client.force_login(membership.user)
    return client, membership.user, membership.organisation


def _snapshot(organisation: Organisation) -> tuple:
    organisation.refresh_from_db()
    row = OrganisationSettings.objects.filter(organisation=organisation).values().first()
    ai = list(AIFeatureConfig.objects.filter(organisation=organisation).values("feature", "provider", "model"))
    return organisation.name, {k: v for k, v in (row or {}).items() if k != "updated_at"}, ai


def test_staff_edit_every_section_in_one_save_and_it_is_audited(staff_a) -> None:
    client, staff, org = staff_a
    assert client.get(URL).status_code == 200

    response = client.post(URL, _form())

    assert response.status_code == 302
    org.refresh_from_db()
    row = OrganisationSettings.objects.get(organisation=org)
    assert org.name == "Alpha Academy"
    assert (row.primary_colour, row.accent_colour, row.signup_policy, row.time_zone) == (
        "#1f3a5f",
        "#2457c5",
        "open",
        "Europe/Berlin",
    )
    resolved = ai_feature_settings(organisation=org, feature="coach")  # the AI layer reads the section's row
    assert (resolved.provider, resolved.model) == ("anthropic", "claude-sonnet-4-5")
    event = AuditEvent.objects.get(action="organisation.settings_changed")
    assert (event.actor, event.organisation) == (staff, org)
    assert event.details["changed"]["general"]["name"] == ["Alpha", "Alpha Academy"]
    assert event.details["changed"]["ai"] == {"provider": ["", "anthropic"], "model": ["", "claude-sonnet-4-5"]}

    page = client.get("/")
    assert page.context["organisation"].name == "Alpha Academy"
    theme_url = page.context["organisation_brand"]["theme_url"]
    assert theme_url.startswith(f"/o/{org.slug}/theme.css?v=")
    css = client.get(theme_url)
    assert css["Content-Type"].startswith("text/css")
    assert b"--brand: #1f3a5f;" in css.content
    assert b"--accent: #2457c5;" in css.content


def test_saving_unchanged_settings_records_no_audit_event(staff_a) -> None:
    client, _, _ = staff_a
    client.post(URL, _form())
    client.post(URL, _form())
    assert AuditEvent.objects.filter(action="organisation.settings_changed").count() == 1


def test_a_logo_is_stored_under_a_generated_name_served_safely_and_shown_in_the_header(
    staff_a, django_capture_on_commit_callbacks
) -> None:
    client, _, org = staff_a
    logo = SimpleUploadedFile("My Logo<script>.png", png_bytes(), content_type="image/png")

    assert client.post(URL, _form(**{"general-logo": logo})).status_code == 302

    row = OrganisationSettings.objects.get(organisation=org)
    assert row.logo.name is not None
    assert row.logo.name.startswith(f"organisations/{org.pk}/logo/")
    assert row.logo.name.endswith(".png")
    assert "script" not in row.logo.name
    page = client.get("/")
    logo_url = page.context["organisation_brand"]["logo_url"]
    assert f'<img class="brand-logo" src="{logo_url}"' in page.content.decode()
    served = client.get(logo_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == png_bytes()

    old = row.logo.name or ""
    replacement = SimpleUploadedFile("new.jpg", JPEG_BYTES, content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(URL, _form(**{"general-logo": replacement})).status_code == 302
    row.refresh_from_db()
    assert (row.logo.name or "").endswith(".jpg")
    assert not default_storage.exists(old)  # the replaced file is removed after commit

    assert client.post(URL, _form(**{"general-logo_clear": "on"})).status_code == 302
    row.refresh_from_db()
    assert not row.logo
    assert client.get(f"/o/{org.slug}/logo").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"general-name": ""}, "general-name"),
        ({"general-name": "x"}, "general-name"),
        ({"general-name": "N" * 121}, "general-name"),
        ({"general-primary_colour": "blue"}, "general-primary_colour"),
        ({"general-primary_colour": "#12345"}, "general-primary_colour"),
        ({"general-primary_colour": "#ffff00"}, "general-primary_colour"),  # too light for white text
        ({"general-accent_colour": "#gggggg"}, "general-accent_colour"),
        ({"general-accent_colour": "#fafafa"}, "general-accent_colour"),
        ({"general-signup_policy": "anyone"}, "general-signup_policy"),
        ({"general-signup_policy": "email_domain", "general-signup_email_domain": ""}, "general-signup_email_domain"),
        (
            {"general-signup_policy": "email_domain", "general-signup_email_domain": "not a domain"},
            "general-signup_email_domain",
        ),
        ({"general-signup_email_domain": "localhost"}, "general-signup_email_domain"),
        ({"general-signup_email_domain": "-bad-.org"}, "general-signup_email_domain"),
        ({"general-time_zone": "Mars/Olympus"}, "general-time_zone"),
        ({"general-time_zone": ""}, "general-time_zone"),
        ({"ai-provider": "skynet"}, "ai-provider"),
        ({"ai-model": "bad model name!"}, "ai-model"),
        ({"ai-model": "m" * 101}, "ai-model"),
    ],
)
def test_every_field_validates_and_one_bad_field_changes_nothing_in_any_section(staff_a, overrides, field) -> None:
    client, _, org = staff_a
    client.post(URL, _form(**{"general-name": "Before", "ai-model": "before-model"}))
    before = _snapshot(org)
    events = AuditEvent.objects.count()

    response = client.post(URL, _form(**overrides))

    assert response.status_code == 400
    section, name = field.split("-", 1)
    forms = {s.key: f for s, f in response.context["sections"]}
    assert name in forms[section].errors
    assert _snapshot(org) == before
    assert AuditEvent.objects.count() == events
    assert "Nothing was saved." in response.content.decode()


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("logo.png", HTML_BYTES, "image/png"),
        ("logo.png", EXE_BYTES, "image/png"),
        ("logo.svg", SVG_BYTES, "image/svg+xml"),
        ("logo.png", JPEG_BYTES, "image/png"),
    ],
)
def test_a_disguised_or_scriptable_logo_is_refused_and_nothing_is_stored(staff_a, name, content, content_type) -> None:
    client, _, org = staff_a
    upload = SimpleUploadedFile(name, content, content_type=content_type)

    response = client.post(URL, _form(**{"general-logo": upload}))

    assert response.status_code == 400
    forms = {s.key: f for s, f in response.context["sections"]}
    assert "logo" in forms["general"].errors
    assert not OrganisationSettings.objects.filter(organisation=org).exists()
    assert not AIFeatureConfig.objects.filter(organisation=org).exists()


@override_settings(ORGANISATION_LOGO_MAX_BYTES=100)
def test_an_oversize_logo_is_refused(staff_a) -> None:
    client, _, org = staff_a
    big = png_bytes(64, 64)
    assert len(big) > 100
    response = client.post(URL, _form(**{"general-logo": SimpleUploadedFile("logo.png", big, "image/png")}))
    assert response.status_code == 400
    forms = {s.key: f for s, f in response.context["sections"]}
    assert "larger than" in forms["general"].errors["logo"][0]
    assert not OrganisationSettings.objects.filter(organisation=org).exists()


def test_a_refusal_in_a_later_section_rolls_back_the_earlier_ones_and_their_files(staff_a, monkeypatch) -> None:
    """The service, not only the forms, is all or nothing: General saves (and stores a logo), then
    AI refuses; neither change stays and the stored logo is removed."""
    client, _, org = staff_a

    def refuse(*, organisation: Organisation, data: Any) -> dict:
        raise Refusal("invalid_model", "The provider does not know this model.", field="model")

    ai = next(section for section in settings_sections() if section.key == "ai")
    monkeypatch.setitem(settings_sections_module._SECTIONS, "ai", dataclasses.replace(ai, save=refuse))
    stored: list[str] = []

    def store_and_note(*args: Any, **kwargs: Any) -> str:
        stored.append(store_upload(*args, **kwargs))
        return stored[-1]

    monkeypatch.setattr(services, "store_upload", store_and_note)

    response = client.post(URL, _form(**{"general-logo": SimpleUploadedFile("l.png", png_bytes(), "image/png")}))

    assert response.status_code == 400
    forms = {s.key: f for s, f in response.context["sections"]}
    assert forms["ai"].errors["model"] == ["The provider does not know this model."]
    org.refresh_from_db()
    assert org.name == "Alpha"
    assert not OrganisationSettings.objects.filter(organisation=org).exists()
    assert len(stored) == 1  # General ran and stored the logo before AI refused
    assert not default_storage.exists(stored[0])


def test_a_learner_of_the_organisation_is_refused_like_on_the_members_page(client: Client) -> None:
    learner = MembershipFactory.create(role=Role.LEARNER)
    client.force_login(learner.user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, _form()).status_code == 403
    assert not OrganisationSettings.objects.exists()


def test_a_mentor_is_refused_too(client: Client) -> None:
    mentor = MembershipFactory.create(role=Role.MENTOR)
    client.force_login(mentor.user)
    assert client.post(URL, _form()).status_code == 403


def test_a_person_in_no_organisation_gets_404(client: Client) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory.create())
    assert client.get(URL).status_code == 404


def test_staff_of_another_organisation_edit_only_their_own(staff_a, client: Client) -> None:
    """There is no organisation id to forge: staff of B reach only B's settings, whatever they post,
    and A's are untouched."""
    _, _, org_a = staff_a
    other = Client()
    staff_b = MembershipFactory.create(role=Role.STAFF, organisation=OrganisationFactory.create(name="Beta"))
    other.force_login(staff_b.user)
    before_a = _snapshot(org_a)

    response = other.post(URL + f"?organisation_id={org_a.pk}", {**_form(), "organisation_id": org_a.pk})

    assert response.status_code == 302
    assert _snapshot(org_a) == before_a
    staff_b.organisation.refresh_from_db()
    assert staff_b.organisation.name == "Alpha Academy"
    assert AuditEvent.objects.get(action="organisation.settings_changed").organisation == staff_b.organisation


def test_an_unknown_or_inactive_slug_gets_an_empty_theme_and_no_logo(client: Client) -> None:
    """The theme answers the same for a slug that names no organisation as for one without colours,
    so it tells no one which organisations exist; an inactive one's colours are not served."""
    inactive = OrganisationFactory.create(is_active=False)
    OrganisationSettings.objects.create(organisation=inactive, primary_colour="#1f3a5f")
    plain = OrganisationFactory.create()
    for slug in (inactive.slug, "no-such-org", plain.slug):
        response = client.get(f"/o/{slug}/theme.css")
        assert (response.status_code, response.content) == (200, b"")
    assert client.get("/o/no-such-org/logo").status_code == 404
    assert client.get(f"/o/{inactive.slug}/logo").status_code == 404


def test_colour_contrast_is_measured_against_white() -> None:
    assert contrast_with_white("#ffffff") == pytest.approx(1.0)
    assert contrast_with_white("#000000") == pytest.approx(21.0)
    assert contrast_with_white("#2457c5") > 4.5


# ---------------------------------------------------------------- the sign-up policy
@pytest.fixture
def signup_org() -> Organisation:
    policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy")
    policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms")
    return Organisation.objects.create(name="Coachwire Demo", slug="coachwire-demo")


def _signup(client: Client, email: str) -> Any:
    return client.post(
        "/accounts/signup/",
        {
            "display_name": "Ada",
            "email": email,
            "password1": "correct horse battery",
            "password2": "correct horse battery",
            "accept_policies": "on",
        },
    )


def test_open_sign_up_joins_as_today(client: Client, signup_org: Organisation) -> None:
    OrganisationSettings.objects.create(organisation=signup_org, signup_policy=SignupPolicy.OPEN)
    assert _signup(client, "ada@anywhere.test").status_code == 302
    assert User.objects.get(email="ada@anywhere.test").memberships.filter(organisation=signup_org).exists()


def test_invite_only_refuses_sign_up_with_a_clear_message(client: Client, signup_org: Organisation) -> None:
    OrganisationSettings.objects.create(organisation=signup_org, signup_policy=SignupPolicy.INVITE_ONLY)
    response = _signup(client, "ada@example.test")
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "Coachwire Demo is invite only: ask its staff for an invitation."
    ]
    assert not User.objects.exists()


def test_email_domain_admits_only_matching_addresses(client: Client, signup_org: Organisation) -> None:
    OrganisationSettings.objects.create(
        organisation=signup_org, signup_policy=SignupPolicy.EMAIL_DOMAIN, signup_email_domain="school.example"
    )
    refused = _signup(client, "ada@elsewhere.example")
    assert "school.example" in refused.context["form"].errors["email"][0]
    refused_sub = _signup(client, "ada@evil.school.example.attacker.test")
    assert "email" in refused_sub.context["form"].errors
    assert not User.objects.exists()

    assert _signup(client, "Ada@School.Example").status_code == 302
    user = User.objects.get()
    assert user.memberships.filter(organisation=signup_org, role=Role.LEARNER).exists()


def test_staff_set_the_policy_on_the_page_and_sign_up_follows_it(client: Client, signup_org: Organisation) -> None:
    staff = MembershipFactory.create(role=Role.STAFF, organisation=signup_org)
    client.force_login(staff.user)
    assert client.post(URL, _form(**{"general-signup_policy": "invite_only"})).status_code == 302
    client.logout()
    assert "email" in _signup(client, "ada@example.test").context["form"].errors


def test_mail_sent_for_the_organisation_carries_its_name_logo_and_colour(staff_a) -> None:
    """An invitation is the organisation's mail: its header shows the organisation's logo (an
    absolute address) and name, ruled in its primary colour; account mail keeps the site's name."""
    from domains.invitations.services import invitation_create
    from domains.mail.models import OutboundEmail
    from domains.mail.services import site_url

    client, staff, org = staff_a
    logo = SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png")
    assert client.post(URL, _form(**{"general-logo": logo})).status_code == 302
    org.refresh_from_db()

    invitation_create(organisation=org, inviter=staff, email="brand@example.com", role=Role.LEARNER)

    html = OutboundEmail.objects.get(to="brand@example.com").html_body
    assert f'<img src="{site_url(f"/o/{org.slug}/logo?v=")}' in html
    assert ">Alpha Academy</p>" in html
    assert "border-top:4px solid #1f3a5f" in html
