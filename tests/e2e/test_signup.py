"""Key journeys in a real browser: sign up, land on a live dashboard, receive a notification."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import expect

from domains.accounts.models import Membership, Organisation, Role, User
from domains.compliance.models import Consent
from domains.compliance.services import policy_publish
from domains.lounges.notices import LOUNGE_MENTION
from domains.notifications.services import notify
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"
SCREENSHOT = "/tmp/dashboard.png"


def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `fn` in a fresh thread. Playwright's loop counts as running in the test's thread, and
    async_to_sync (the channel-layer send after commit) refuses to run beside a running loop."""

    def call() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()  # that thread's connection must not outlive the test

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=30)


def seed_signup_prerequisites() -> Organisation:
    policy_publish(kind="privacy", version="1", title="Privacy policy", body="We keep little.")
    policy_publish(kind="terms", version="1", title="Terms of use", body="Be kind.")
    return Organisation.objects.create(name="Coachwire Demo", slug=settings.SIGNUP_ORGANISATION_SLUG)


def signup_form(page: Any) -> Any:
    return page.locator("form").filter(has=page.locator("input[name=password1]"))


def test_signing_up_lands_on_a_live_dashboard(page: Any, live_stack: Any) -> None:
    """A new person signs up with their name and consent, lands on the dashboard under their name
    as a learner of the sign-up organisation, and the connection indicator turns live."""
    organisation = seed_signup_prerequisites()

    page.goto("/accounts/signup/")
    form = signup_form(page)
    form.locator("input[name=display_name]").fill("Ada Lovelace")
    form.locator("input[name=email]").fill("ada@example.test")
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD)
    form.locator("input[name=accept_policies]").check()
    form.locator("button[type=submit]").click()

    page.wait_for_url(live_stack.url("/"))
    expect(page.locator("h1")).to_have_text("Welcome, Ada Lovelace")
    status = page.locator("[data-conn-status]")
    expect(status).to_have_attribute("data-state", "live")
    expect(status.locator(".label")).to_have_text("live")
    page.screenshot(path=SCREENSHOT, full_page=True)

    user = User.objects.get(email="ada@example.test")
    assert user.display_name == "Ada Lovelace"
    assert set(Membership.objects.filter(user=user).values_list("organisation", "role")) == {
        (organisation.pk, Role.LEARNER)
    }
    assert set(Consent.objects.filter(user=user).values_list("document__kind", flat=True)) == {"privacy", "terms"}


def test_bad_signup_input_shows_field_errors_and_creates_no_user(page: Any, live_stack: Any) -> None:
    """Mismatched passwords, no consent and an invalid email each get their own error; nothing is created."""
    seed_signup_prerequisites()

    page.goto("/accounts/signup/")
    form = signup_form(page)
    # The server's validation is under test, not the browser's: skip constraint validation.
    form.evaluate("form => { form.noValidate = true; }")
    form.locator("input[name=display_name]").fill("Bad Input")
    form.locator("input[name=email]").fill("not-an-email")
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD + "-typo")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()

    form = signup_form(page)
    expect(form.locator("#id_email_error")).to_contain_text("valid email")
    expect(form.locator("#id_password2_error")).to_contain_text("same password")
    expect(form.locator("#id_accept_policies_error")).to_contain_text("accept the privacy policy")
    expect(form.locator("#id_display_name_error")).to_have_count(0)
    expect(form.locator("input[name=display_name]")).to_have_value("Bad Input")  # kept for correction
    assert page.url == live_stack.url("/accounts/signup/")
    assert not User.objects.exists()


def test_a_notification_published_on_the_server_appears_as_a_toast(
    page: Any, live_stack: Any, login_browser: Any
) -> None:
    """A durable notification on the personal stream shows as a toast and tops the list, as text."""
    user: Any = MembershipFactory(role=Role.LEARNER).user
    login_browser(user)
    page.goto("/")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")

    text = "Your coach replied <b>just now</b>"
    in_thread(notify, user=user, kind=LOUNGE_MENTION, title=text)

    toast = page.locator("#toasts .toast")
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text(text)  # the markup arrives as text, never as HTML
    expect(page.locator("#notifications li").first).to_contain_text(text)
    expect(page.locator("#notifications [data-empty]")).to_have_count(0)
    assert page.locator("#toasts b, #notifications b").count() == 0
