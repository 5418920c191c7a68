"""The first journey of a new organisation, in two browsers: a person creates an organisation,
invites a mentor by email, and the mentor follows the emailed link in their own browser, signs up
and lands in that organisation as its mentor."""

from __future__ import annotations

import quopri
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from domains.accounts.models import Membership

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

ACCEPT_LINK = re.compile(r"https?://[^\s\"<>]+/invitations/accept/[^\s\"<>/]+/")


def _invitation_link(live_stack: Any, address: str, timeout: float = 20) -> str:
    """The accept link in the mail the worker sent to `address` (polled: the worker sends it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for text in live_stack.mail_texts():
            if address in text:
                decoded = quopri.decodestring(text.encode()).decode(errors="replace")
                found = ACCEPT_LINK.search(decoded)
                if found:
                    return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no invitation mail to {address}:\n{live_stack.logs_tail()}")


def test_a_new_organisation_invites_a_mentor_who_accepts_in_another_browser(
    browser: Any, context: Any, page: Any, login_browser: Any, learner: Any, live_stack: Any
) -> None:
    # a signed-in person creates an organisation and becomes its staff
    login_browser(learner)
    page.goto("/organisations/new/")
    page.get_by_label("Organisation name").fill("Lighthouse Tutors")
    page.locator("input[name=slug]").fill("lighthouse-tutors")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")
    expect(page.locator(".topbar")).to_contain_text("Lighthouse Tutors")
    # and invites a mentor by email
    page.goto("/invitations/")
    page.get_by_label("Email address").fill("mira@lighthouse.test")
    page.get_by_label("Role").select_option("mentor")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("main")).to_contain_text("mira@lighthouse.test")

    # the mentor opens the emailed link in a browser of their own, signs up and joins
    link = _invitation_link(live_stack, "mira@lighthouse.test")
    mentor_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        mentor = mentor_context.new_page()
        mentor.goto(link)
        expect(mentor.locator("h1")).to_contain_text("Join Lighthouse Tutors")
        mentor.get_by_label("Your name").fill("Mira Mentor")
        mentor.locator("input[name=password1]").fill("a-long-mentor-password-42")
        mentor.locator("input[name=password2]").fill("a-long-mentor-password-42")
        mentor.locator("input[name=accept_policies]").check()
        mentor.get_by_role("button", name="Create my account and join").click()
        mentor.wait_for_url(re.compile(r"^(?!.*invitations/accept).*$"))
        expect(mentor.locator(".topbar")).to_contain_text("Lighthouse Tutors")
        expect(mentor.locator("main")).to_contain_text("mentor")
    finally:
        mentor_context.close()
    membership = Membership.objects.get(user__email="mira@lighthouse.test", organisation__slug="lighthouse-tutors")
    assert membership.role == "mentor"
