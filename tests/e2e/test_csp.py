"""The Content-Security-Policy in a real browser against the live stack: the policy is enforced
(an inline script and eval are refused), every page (home, a lounge room with its live socket,
notes with htmx, the coach thread, account pages, Django's admin) runs under it with no
violation, and links built from server data go through one `safePath` that refuses other hosts."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from playwright.sync_api import expect

from domains.accounts.models import Membership, User
from domains.coach.models import CoachThread
from domains.lounges.models import Lounge, LoungeMembership, LoungeRole
from domains.lounges.notices import LOUNGE_MENTION
from domains.notifications.services import notify
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Installed before any page script, in every document: the browser's own report of each refusal.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI} at ${where}`);
});
"""


class CSPWatch:
    """Collects CSP refusals from the console (Chromium logs each one) and from the
    `securitypolicyviolation` events of the current document."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(f"{message.type}: {message.text}")

    def take(self) -> list[str]:
        """The refusals since the last call (console) and in the current document (events)."""
        events: list[str] = self.page.evaluate("window.__cspViolations.splice(0)")
        taken, self.console = self.console, []
        return [*taken, *events]


def goto_under_policy(page: Any, path: str) -> Any:
    """Open `path`; the document must come with the enforced policy (not report-only)."""
    response = page.goto(path)
    assert response is not None, f"{path}: no response"
    assert response.ok, f"{path}: {response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, f"{path}: {policy!r}"
    assert "default-src 'self'" in policy, f"{path}: {policy!r}"
    assert "unsafe" not in policy
    return response


def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `fn` in a fresh thread: async_to_sync (the channel-layer send after commit) refuses to
    run beside Playwright's loop in the test's thread."""

    def call() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=30)


@pytest.fixture
def lounge(learner: User) -> Lounge:
    membership = Membership.objects.get(user=learner)
    lounge: Lounge = LoungeFactory.create(
        organisation=membership.organisation, slug="interview-practice", title="Interview practice"
    )
    LoungeMembership.objects.create(lounge=lounge, user=learner, role=LoungeRole.MEMBER)
    return lounge


@pytest.fixture
def watch(page: Any) -> CSPWatch:
    return CSPWatch(page)


def test_the_policy_refuses_inline_script_eval_and_foreign_scripts(page: Any, watch: CSPWatch) -> None:
    """Proof that the policy is on and enforced: inline code (a script element, an onclick
    attribute), eval and a script from elsewhere (a data: module) never run, and the browser
    reports each refusal. htmx, configured for the policy, refuses its own eval paths."""
    goto_under_policy(page, "/accounts/login/")
    ran = page.evaluate(
        """async () => {
          const directives = [];
          const reported = new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation", (event) => {
              directives.push(event.effectiveDirective);
              if (directives.length === 4) resolve();
            });
          });
          const htmxRefused = new Promise((resolve) => {
            document.body.addEventListener("htmx:evalDisallowedError", () => resolve(true), { once: true });
          });
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.head.append(script);
          const button = document.createElement("button");
          button.setAttribute("onclick", "window.__handlerRan = true");
          document.body.append(button);
          button.click();
          // DevTools-evaluated code may eval; a timer callback runs as page code, under the policy.
          const evalResult = await new Promise((resolve) => setTimeout(() => {
            try { resolve(eval("'evaluated'")); } catch (error) { resolve(error.name); }
          }));
          let moduleResult = "loaded";
          try {
            await import("data:text/javascript,window.__moduleRan=true");
          } catch (error) {
            moduleResult = "refused";
          }
          // htmx with allowEval false: a trigger filter (which htmx would eval) is refused.
          const filtered = document.createElement("span");
          filtered.setAttribute("hx-get", "/healthz");
          filtered.setAttribute("hx-trigger", "click[true]");
          document.body.append(filtered);
          htmx.process(filtered);
          filtered.click();
          // A bound, not a timing assertion: without the reports the test fails instead of hanging.
          const bound = (ms) => new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));
          await Promise.race([reported, bound(5000)]);
          return {
            inline: window.__inlineRan === true,
            handler: window.__handlerRan === true,
            eval: evalResult,
            module: moduleResult,
            moduleRan: window.__moduleRan === true,
            htmxRefusedEval: await Promise.race([htmxRefused, bound(5000)]),
            reported: directives.sort(),
          };
        }"""
    )
    assert ran == {
        "inline": False,
        "handler": False,
        "eval": "EvalError",
        "module": "refused",
        "moduleRan": False,
        "htmxRefusedEval": True,
        "reported": ["script-src", "script-src-attr", "script-src-elem", "script-src-elem"],
    }
    assert len(watch.take()) >= 4  # Chromium logs each refusal to the console too


def test_every_page_runs_under_the_policy_without_a_violation(
    page: Any, watch: CSPWatch, login_browser: Any, learner: User, lounge: Lounge
) -> None:
    """A learner's pages work as before under the policy, with zero CSP violations: the live
    sockets (personal and lounge) reach "live" (connect-src 'self' covers same-origin ws:), htmx
    searches and previews (no eval, no injected style), and the coach thread opens."""
    login_browser(learner)
    thread = CoachThread.objects.create(organisation=lounge.organisation, owner=learner, title="Practice plan")
    seen: dict[str, list[str]] = {}

    goto_under_policy(page, "/")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
    seen["/"] = watch.take()

    goto_under_policy(page, f"/lounges/{lounge.slug}/")
    expect(page.locator("[data-lounge-room]")).to_have_attribute("data-state", "ready")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
    seen["lounge room"] = watch.take()

    goto_under_policy(page, "/notes/")
    indicator = page.locator("#notes-searching")
    expect(indicator).to_be_hidden()  # app.css carries htmx's indicator rules now
    page.get_by_label("Search notes").press_sequentially("star answers")
    # (the learner has no notes here, so the search answers that nothing matches: it ran all the same)
    expect(page.locator("#notes-status")).to_contain_text("star answers")
    seen["/notes/ (htmx search)"] = watch.take()

    goto_under_policy(page, "/notes/new/")
    page.get_by_label("Text").fill("# Answering with STAR")
    expect(page.locator("#note-preview h1")).to_have_text("Answering with STAR")
    seen["/notes/new/ (htmx preview)"] = watch.take()

    goto_under_policy(page, f"/coach/{thread.pk}/")
    expect(page.locator("[data-coach-thread]")).to_have_attribute("data-state", "ready")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
    seen["coach thread"] = watch.take()

    goto_under_policy(page, "/accounts/email/")
    expect(page.locator("h1").first).to_be_visible()
    seen["/accounts/email/"] = watch.take()

    assert seen == {name: [] for name in seen}


def test_the_admin_runs_under_the_policy_without_a_violation(
    context: Any, page: Any, watch: CSPWatch, login_browser: Any
) -> None:
    """Django's admin (static scripts only since 5.x) keeps working under the policy: its login
    route, and for a platform operator the index, a list with its filters and a change form."""
    goto_under_policy(page, "/admin/login/")
    expect(page.locator("input[name=password]")).to_be_visible()
    anonymous = watch.take()

    operator: User = UserFactory.create(is_staff=True, is_superuser=True, display_name="Olu Operator")
    login_browser(operator)
    goto_under_policy(page, "/admin/")
    expect(page.locator("#site-name")).to_contain_text("Coachwire administration")
    goto_under_policy(page, "/admin/accounts/user/")
    expect(page.locator("#result_list")).to_be_visible()
    goto_under_policy(page, f"/admin/accounts/user/{operator.pk}/change/")
    expect(page.locator("form#user_form")).to_be_visible()
    page.wait_for_load_state("load")

    assert anonymous == []
    assert watch.take() == []


def test_safe_path_refuses_other_hosts_and_app_js_uses_it(
    page: Any, watch: CSPWatch, live_stack: Any, login_browser: Any, learner: User
) -> None:
    """The one `safePath` (stream_text.js) accepts same-origin paths only: "//host", "/\\host" and
    a tab or newline that a browser would drop all give null. The personal-stream notifications
    (app.js) use it: a notification pointing elsewhere is listed as text, not as a link."""
    login_browser(learner)
    goto_under_policy(page, "/")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")

    results = page.evaluate(
        """async () => {
          const { safePath } = await import("/static/js/stream_text.js");
          const inputs = ["/notes/1/", "/notes/?q=a b", "//evil.com", "/\\\\evil.com", "/\\t/evil.com",
                          "/\\n/evil.com", "https://evil.com/", "javascript:alert(1)", "", null, 7];
          return inputs.map((input) => [String(input), safePath(input)]);
        }"""
    )
    assert results == [
        ["/notes/1/", "/notes/1/"],
        ["/notes/?q=a b", "/notes/?q=a b"],
        ["//evil.com", None],
        ["/\\evil.com", None],
        ["/\t/evil.com", None],
        ["/\n/evil.com", None],
        ["https://evil.com/", None],
        ["javascript:alert(1)", None],
        ["", None],
        ["null", None],
        ["7", None],
    ]

    # A notification links to the server's own /notifications/<id>/open/ (which checks its link),
    # in the toast and in the dashboard's list; `notify` refuses a link off the site outright.
    notice = in_thread(notify, user=learner, kind=LOUNGE_MENTION, title="Your note", link="/notes/1/")
    items = page.locator("#notifications li.notification")
    expect(items).to_have_count(1)
    expect(items.nth(0).locator("a")).to_have_attribute("href", f"/notifications/{notice.pk}/open/")
    expect(page.locator(f"[data-notification-toast='{notice.pk}'] a")).to_have_attribute(
        "href", f"/notifications/{notice.pk}/open/"
    )
    assert watch.take() == []
