"""Pages a visitor and a user expect: the landing page, styled error pages (never Django's debug
pages unless DEBUG_PAGES), account settings, a legible email-addresses page, consent links, and
mail that carries the product's name."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.sites.models import Site
from django.db import connection
from django.test import Client, RequestFactory

from domains.accounts.models import Role, User
from project.api import server_error
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client: Client) -> User:
    """A signed-in learner of one organisation (no policies published, so no consent page)."""
    user: User = MembershipFactory.create(role=Role.LEARNER, user__display_name="Lena Learner").user
    client.force_login(user)
    return user


# ---------------------------------------------------------------- landing page


def test_a_visitor_at_the_root_gets_the_landing_page_with_sign_in_and_sign_up(client: Client) -> None:
    """An anonymous visitor reads what Coachwire is, for whom and what works today, and can sign in or up."""
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "What works today" in html
    for words in ("AI coach", "Lounges", "Notes", "private coach", "Learners", "Candidates", "Mentors", "Staff"):
        assert words in html, words
    assert "interviews" in html
    assert "billing" in html
    assert 'href="/accounts/signup/"' in html
    assert 'href="/accounts/login/"' in html
    assert 'name="password"' not in html  # no longer a bare sign-in form


def test_a_signed_in_person_keeps_their_dashboard(client: Client, member: User) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b"Welcome, Lena Learner" in response.content
    assert b"What works today" not in response.content


# ---------------------------------------------------------------- error pages


def test_an_unknown_address_gets_the_styled_404_not_the_route_list(client: Client, member: User) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "We could not find that page" in html
    assert 'href="/settings/"' in html  # the site's own header, signed in
    assert "URLconf" not in html


def test_the_api_still_answers_404_in_json(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_a_forbidden_page_says_what_to_do_instead(client: Client, member: User) -> None:
    """A learner opening the members page (staff and mentors only) learns why and what to do."""
    response = client.get("/members/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You do not have access to this page" in html
    assert "switch organisation" in html
    assert "Ask your organisation" in html
    assert "learner" in html


def test_the_500_page_renders_without_any_context() -> None:
    response = server_error(RequestFactory().get("/broken/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"/static/css/app.css" in response.content


@pytest.mark.parametrize(
    ("env", "debug"),
    [({}, False), ({"DEBUG": "1"}, False), ({"DEBUG_PAGES": "1"}, True)],
)
def test_make_run_shows_debug_pages_only_under_debug_pages(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], debug: bool
) -> None:
    """`make run` (project.settings.dev) keeps DEBUG off, so the styled pages show, unless DEBUG_PAGES."""
    for name in ("DEBUG", "DEBUG_PAGES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dev = importlib.reload(importlib.import_module("project.settings.dev"))
    assert dev.DEBUG is debug
    assert dev.DEBUG_PAGES is debug
    assert dev.WHITENOISE_AUTOREFRESH is True


# ---------------------------------------------------------------- account settings


def test_the_name_in_the_header_links_to_account_settings(client: Client, member: User) -> None:
    html = client.get("/").content.decode()
    assert '<a href="/settings/" title="Account settings">Lena Learner</a>' in html
    page = client.get("/settings/").content.decode()
    for link in ('href="/accounts/email/"', 'href="/accounts/password/change/"', 'href="/accounts/2fa/"'):
        assert link in page, link


def test_account_settings_save_the_name_and_time_zone(client: Client, member: User) -> None:
    response = client.post("/settings/", {"display_name": "  Lena   L. ", "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    member.refresh_from_db()
    assert (member.display_name, member.time_zone) == ("Lena L.", "Europe/Berlin")
    page = client.get("/settings/").content.decode()
    assert "Your settings are saved." in page
    assert '<option value="Europe/Berlin" selected>' in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"display_name": "New Name", "time_zone": "Mars/Olympus"}, "time_zone", "Choose a time zone from the list."),
        ({"display_name": "   ", "time_zone": "Europe/Berlin"}, "display_name", ""),
    ],
)
def test_bad_account_settings_get_a_field_error_and_save_nothing(
    client: Client, member: User, data: dict[str, str], field: str, message: str
) -> None:
    response = client.post("/settings/", data)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert list(response.context["form"].errors) == [field]
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert message in html
    assert "Nothing was saved." in html
    assert ">Lena Learner</a>" in html  # the header still shows the saved name
    member.refresh_from_db()
    assert (member.display_name, member.time_zone) == ("Lena Learner", "UTC")


def test_account_settings_need_a_signed_in_person(client: Client) -> None:
    response = client.get("/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# ---------------------------------------------------------------- email addresses


def _email_page(client: Client) -> str:
    response = client.get("/accounts/email/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_email_page_with_one_address_offers_no_radio_no_make_primary_and_no_remove(
    client: Client, member: User
) -> None:
    EmailAddress.objects.create(user=member, email=member.email, primary=True, verified=True)
    html = _email_page(client)
    assert member.email in html
    assert "Primary" in html
    assert 'type="radio"' not in html
    assert "action_primary" not in html
    assert "action_remove" not in html
    assert 'href="/settings/"' in html
    assert 'aria-label="Account settings"' in html


def test_a_second_address_can_be_made_primary_and_removed_only_after_confirming(client: Client, member: User) -> None:
    EmailAddress.objects.create(user=member, email=member.email, primary=True, verified=True)
    EmailAddress.objects.create(user=member, email="second@example.test", primary=False, verified=True)
    html = _email_page(client)
    assert html.count('name="action_primary"') == 1
    assert html.count('name="action_remove"') == 1
    # The destructive button sits inside a closed disclosure that names the address again.
    confirm = html.split('<details class="confirm">')[1].split("</details>")[0]
    assert 'name="action_remove"' in confirm
    assert "second@example.test" in confirm
    assert 'class="danger"' in confirm
    response = client.post("/accounts/email/", {"email": "second@example.test", "action_remove": ""})
    assert response.status_code == 302
    assert list(EmailAddress.objects.filter(user=member).values_list("email", flat=True)) == [member.email]


# ---------------------------------------------------------------- sign-up consent, mail


def test_the_consent_checkbox_links_to_the_policies_it_accepts(client: Client) -> None:
    html = client.get("/accounts/signup/").content.decode()
    label = html.split('<label for="id_accept_policies">')[1].split("</label>")[0]
    assert 'href="/policies/privacy/"' in label
    assert 'href="/policies/terms/"' in label


def _site_migration() -> Any:
    return importlib.import_module("domains.accounts.migrations.0002_site_name")


@pytest.mark.parametrize("existing", [None, "example.com", "coach.example.org"])
def test_the_site_migration_names_the_site_after_the_product(existing: str | None) -> None:
    """Django's default "example.com" row (or none) becomes Coachwire; a row an operator set is kept."""
    Site.objects.all().delete()
    if existing:
        Site.objects.create(pk=1, domain=existing, name=existing)
    _site_migration().name_site(apps, SimpleNamespace(connection=connection))
    site = Site.objects.get(pk=1)
    if existing == "coach.example.org":
        assert (site.name, site.domain) == ("coach.example.org", "coach.example.org")
    else:
        assert (site.name, site.domain) == ("Coachwire", "localhost:8000")
    Site.objects.clear_cache()


def test_a_password_reset_mail_carries_the_products_name(
    client: Client, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    Site.objects.update_or_create(pk=1, defaults={"domain": "example.com", "name": "example.com"})
    _site_migration().name_site(apps, SimpleNamespace(connection=connection))
    Site.objects.clear_cache()
    user = UserFactory.create(email="reset@example.test")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)

    with django_capture_on_commit_callbacks(execute=True):  # the mail is sent by a task after commit
        response = client.post("/accounts/password/reset/", {"email": "reset@example.test"})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject.startswith("[Coachwire] ")
    assert "Hello from Coachwire!" in mail.body
    assert "example.com" not in mail.subject + mail.body
