"""Browser tests: Playwright (sync API) driving Debian's Chromium against the live stack.

Never `playwright install` (browser downloads fail here): we launch /usr/bin/chromium. Outside CI a
missing browser skips these tests; in CI (CI=true) it fails them, so they cannot vanish silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("COACHWIRE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop running in this thread, so Django's async-safety
    check would refuse the tests' ORM calls and pytest-django's flush (docs/stack-notes.md §11). Set only
    while browser-test modules run (module scope outlives each test's database teardown), and never
    passed to the servers (tests/live.py drops it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Module scope, not session: while Playwright's sync API is
    alive its loop counts as running in this thread, which would break later asyncio tests."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, live_stack: Any) -> Iterator[Any]:
    """A fresh browser profile per test, with the live stack as its base URL."""
    ctx = browser.new_context(base_url=live_stack.live_url, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page that fails the test on any uncaught script error."""
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def login_browser(context: Any, live_stack: Any) -> Any:
    """`login_browser(user)`: put a logged-in session cookie for `user` into the browser."""

    def login(user: Any) -> dict[str, str]:
        cookies = live_stack.login(user)
        context.add_cookies(
            [{"name": name, "value": value, "url": live_stack.live_url} for name, value in cookies.items()]
        )
        return cookies

    return login


@pytest.fixture
def policies() -> list[Any]:
    """Published policies: everyone in these tests accepts them, so the consent page stays away."""
    from domains.compliance.services import policy_publish

    return [
        policy_publish(kind="privacy", version="1", title="Privacy policy", body="We keep little."),
        policy_publish(kind="terms", version="1", title="Terms of use", body="Be kind."),
    ]


def harbour_lounge(**fields: Any) -> Any:
    """The lounge "Interview practice" of "Harbour Academy", with the offline coach; `fields`
    override the lounge's."""
    from domains.accounts.models import Organisation
    from tests.factories.lounges import LoungeFactory

    organisation, _ = Organisation.objects.get_or_create(slug="harbour", defaults={"name": "Harbour Academy"})
    defaults = {
        "slug": "interview-practice",
        "title": "Interview practice",
        "topic": "Mock interviews, feedback and nerves",
        "coach_provider": "offline",
    }
    return LoungeFactory.create(organisation=organisation, **{**defaults, **fields})


@pytest.fixture
def learner(policies: list[Any]) -> Any:
    """A consenting learner of one organisation, "Harbour Academy" (the policies are published and
    accepted, so no consent page stands in the way)."""
    # Imported here: conftest modules load before pytest-django sets Django up.
    from domains.accounts.models import Membership, Organisation, Role
    from domains.compliance.services import consent_record
    from tests.factories import UserFactory

    organisation, _ = Organisation.objects.get_or_create(slug="harbour", defaults={"name": "Harbour Academy"})
    user = UserFactory.create(display_name="Ana Learner")
    Membership.objects.create(user=user, organisation=organisation, role=Role.LEARNER)
    consent_record(user=user, documents=policies, request=None)
    return user
