"""Notifications in the browser: a notice reaches every open page of its person as a toast that
links to it, and the unread badge agrees across tabs when one of them reads it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.lounges.notices import LOUNGE_MENTION
from domains.notifications.services import notify

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _badge(tab: Any) -> Any:
    return tab.locator(".topbar [data-notification-badge]")


def test_a_notice_toasts_on_every_open_page_and_reading_it_in_one_tab_clears_the_badge_in_the_other(
    context: Any, page: Any, login_browser: Any, learner: Any
) -> None:
    login_browser(learner)
    other_tab = context.new_page()
    page.goto("/")
    other_tab.goto("/notifications/")
    for tab in (page, other_tab):
        expect(tab.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
        expect(_badge(tab)).to_be_hidden()

    notification = notify(
        user=learner, kind=LOUNGE_MENTION, title="Grace mentioned you in Interview practice", link="/notes/"
    )

    for tab in (page, other_tab):
        toast = tab.locator(f"[data-notification-toast='{notification.pk}']")
        expect(toast).to_contain_text("Grace mentioned you in Interview practice")
        expect(_badge(tab)).to_have_text("1")
    # following the toast in one tab reads it and lands on its link; the other tab's badge clears
    page.locator(f"[data-notification-toast='{notification.pk}'] a").click()
    page.wait_for_url("**/notes/")
    expect(_badge(other_tab)).to_be_hidden()
    expect(_badge(page)).to_be_hidden()
    # the other tab's list got the notice live, and marks it read live, without a reload
    listed = other_tab.locator(f"#notifications [data-notification-id='{notification.pk}']")
    expect(listed).to_have_class("notification")
    expect(listed).to_contain_text("Grace mentioned you in Interview practice")
    other_tab.close()
