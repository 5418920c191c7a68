"""Identity reaches open pages: signing out in one tab signs every tab of that session out."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.accounts.models import Role
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_signing_out_in_one_tab_sends_the_other_tabs_to_the_login_page(
    context: Any, page: Any, login_browser: Any, live_stack: Any
) -> None:
    user: Any = MembershipFactory(role=Role.LEARNER).user
    login_browser(user)
    other_tab = context.new_page()
    for tab in (page, other_tab):
        tab.goto("/")
        expect(tab.locator("[data-conn-status]")).to_have_attribute("data-state", "live")

    page.get_by_role("button", name="Sign out").click()

    page.wait_for_url("**/accounts/login/**")
    other_tab.wait_for_url("**/accounts/login/?next=%2F")  # closed 4401 by the server, not by a reload
    expect(other_tab.locator("[data-conn-status]")).to_have_count(0)  # signed out there too
    other_tab.close()
