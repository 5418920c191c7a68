"""Pages as a visitor and a phone user find them, in a real browser against the live stack: the
landing page, the header on one row with the navigation folded into a menu, the lounge composer in
view without scrolling, and status colours readable in dark mode."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.accounts.models import Membership, Role, User
from domains.compliance.services import consent_record
from domains.lounges.models import LoungeMembership, LoungeRole
from tests.e2e.conftest import harbour_lounge
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
SCREENSHOTS = "/tmp/phone-{name}.png"

# WCAG relative luminance and contrast of two computed `rgb(...)` colours.
CONTRAST_JS = """([fg, bg]) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
def phone(browser: Any, live_stack: Any) -> Any:
    """A phone-sized browser profile (390x844, touch) in dark mode; fails the test on a script
    error or a Content-Security-Policy refusal."""
    context = browser.new_context(
        base_url=live_stack.live_url, viewport=PHONE, has_touch=True, is_mobile=True, color_scheme="dark"
    )
    context.set_default_timeout(15_000)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield tab
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def member_in_locked_lounge(policies: list[Any]) -> User:
    """A consenting staff member (the longest navigation) of a lounge that is locked, so the
    room shows its warning badge."""
    lounge = harbour_lounge(is_locked=True)
    organisation = lounge.organisation
    user: User = UserFactory.create(display_name="Sam Staff-Member")
    for role in (Role.STAFF, Role.MENTOR, Role.LEARNER):
        Membership.objects.create(user=user, organisation=organisation, role=role)
    consent_record(user=user, documents=policies, request=None)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=LoungeRole.MEMBER)
    return user


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not rendered"
    return box


def test_a_visitor_lands_on_a_page_that_says_what_coachwire_is(phone: Any) -> None:
    """An anonymous visitor at / reads what Coachwire is and finds sign-up and sign-in, in a one-row header."""
    phone.goto("/")
    expect(phone.locator("h1")).to_contain_text("Coachwire")
    expect(phone.get_by_role("heading", name="What works today")).to_be_visible()
    expect(phone.get_by_role("link", name="Create an account")).to_have_attribute("href", "/accounts/signup/")
    expect(phone.locator("main").get_by_role("link", name="Sign in")).to_have_attribute("href", "/accounts/login/")
    assert _box(phone.locator(".topbar"))["height"] < 64
    phone.screenshot(path=SCREENSHOTS.format(name="landing"), full_page=True)


def test_on_a_phone_the_header_is_one_row_and_the_composer_is_in_view(
    phone: Any, live_stack: Any, member_in_locked_lounge: User
) -> None:
    """At 390x844 a staff member's header is a single row with a Menu that opens the whole
    navigation; the lounge composer (text box and Send) is on screen without scrolling; the
    dark-mode warning badge meets 4.5:1."""
    cookies = live_stack.login(member_in_locked_lounge)
    phone.context.add_cookies(
        [{"name": name, "value": value, "url": live_stack.live_url} for name, value in cookies.items()]
    )
    phone.goto("/lounges/interview-practice/")
    expect(phone.locator("[data-lounge-room]")).to_have_attribute("data-state", "ready")

    header = _box(phone.locator(".topbar"))
    brand, menu = _box(phone.locator(".brand")), _box(phone.get_by_role("button", name="Menu"))
    assert header["height"] < 64, header
    assert abs((brand["y"] + brand["height"] / 2) - (menu["y"] + menu["height"] / 2)) < 8
    expect(phone.get_by_role("link", name="Audit log")).to_be_hidden()

    phone.screenshot(path=SCREENSHOTS.format(name="lounge"))
    assert phone.evaluate("window.scrollY") == 0
    for selector in ("[data-composer]", "[data-composer-body]", "[data-send]"):
        box = _box(phone.locator(selector))
        assert box["y"] >= 0, (selector, box)
        assert box["y"] + box["height"] <= PHONE["height"], (selector, box)

    badge = phone.locator("[data-room-locked]")
    expect(badge).to_be_visible()
    colours = badge.evaluate("el => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]")
    assert phone.evaluate(CONTRAST_JS, colours) >= 4.5, colours

    phone.get_by_role("button", name="Menu").click()
    expect(phone.get_by_role("link", name="Audit log")).to_be_visible()
    phone.screenshot(path=SCREENSHOTS.format(name="menu"))
    expect(phone.get_by_role("link", name="Sam Staff-Member")).to_have_attribute("href", "/settings/")
    phone.keyboard.press("Escape")
    expect(phone.get_by_role("link", name="Audit log")).to_be_hidden()

    for path, heading in [
        ("/settings/", "Account settings"),
        ("/accounts/email/", "Email addresses"),
        ("/no-such-page/", "We could not find that page"),
    ]:
        phone.goto(path)
        expect(phone.locator("h1")).to_have_text(heading)
        assert _box(phone.locator(".topbar"))["height"] < 64, path
