"""The lounge room in a real browser against the live stack (daphne + both Celery pools):
the coach streaming in, a live mute, posting between two people, the byte cap, reports, the
keyboard's one tab stop for the message list, leaving (confirmed) and handing ownership over."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from domains.accounts.models import Membership, Role, User
from domains.compliance.services import consent_record
from domains.lounges.models import Lounge, LoungeMembership, LoungeRole, Message
from tests.e2e.conftest import harbour_lounge
from tests.factories import UserFactory
from tests.factories.lounges import MessageFactory

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = "/tmp/lounge-{name}.png"


@pytest.fixture
def lounge(policies: list[Any]) -> Lounge:
    """An open lounge with the offline coach."""
    lounge: Lounge = harbour_lounge(coach_name="Coach Kim")
    return lounge


@pytest.fixture
def person(lounge: Lounge, policies: list[Any]) -> Callable[..., User]:
    """`person(name, lounge_role=None)`: a consenting member of the organisation (and of the lounge)."""

    def make(name: str, lounge_role: str | None = LoungeRole.MEMBER) -> User:
        org_role = Role.MENTOR if lounge_role in (LoungeRole.MODERATOR, LoungeRole.OWNER) else Role.LEARNER
        user: User = UserFactory.create(display_name=name)
        Membership.objects.create(user=user, organisation=lounge.organisation, role=org_role)
        consent_record(user=user, documents=policies, request=None)
        if lounge_role is not None:
            LoungeMembership.objects.create(lounge=lounge, user=user, role=lounge_role)
        return user

    return make


@pytest.fixture
def open_as(browser: Any, live_stack: Any, page: Any, login_browser: Any) -> Iterator[Callable[[User], Any]]:
    """`open_as(user)`: a page signed in as `user` in its own browser profile, showing the room live.
    The first call uses the `page` fixture; each further one gets a fresh context."""
    contexts: list[Any] = []
    errors: list[str] = []
    opened: list[Any] = []

    def open_room(user: User, slug: str = "interview-practice") -> Any:
        if not opened:
            login_browser(user)
            tab = page
        else:
            context = browser.new_context(base_url=live_stack.live_url, viewport={"width": 1280, "height": 800})
            context.set_default_timeout(15_000)
            contexts.append(context)
            cookies = live_stack.login(user)
            context.add_cookies(
                [{"name": name, "value": value, "url": live_stack.live_url} for name, value in cookies.items()]
            )
            tab = context.new_page()
            tab.on("pageerror", lambda error: errors.append(str(error)))
        opened.append(tab)
        tab.goto(f"/lounges/{slug}/")
        expect(tab.locator("[data-lounge-room]")).to_have_attribute("data-state", "ready")
        expect(tab.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
        return tab

    yield open_room
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def composer(tab: Any) -> Any:
    return tab.locator("[data-composer]")


def test_the_coach_reply_streams_in_as_text_then_completes_as_html(open_as: Any, person: Any) -> None:
    """A learner asks the coach: the reply shows as growing plain text while streaming, then as the
    server's sanitised HTML labelled "offline coach"; the streaming → complete trail is recorded."""
    learner = person("Ana Learner")
    tab = open_as(learner)
    expect(tab.locator("[data-messages-empty]")).to_contain_text("No messages yet")
    expect(tab.locator("[data-presence]")).to_contain_text("Ana Learner")

    tab.locator("[data-composer-body]").fill("How do I prepare for a mock interview?")
    tab.get_by_role("button", name="Ask the coach").click()

    question = tab.locator("li.msg-user").filter(has_text="How do I prepare")
    expect(question).to_have_count(1)
    expect(question).not_to_have_attribute("data-pending", re.compile(".*"))
    reply = tab.locator("li.msg-coach")
    expect(reply).to_have_count(1)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".msg-author")).to_have_text("Coach Kim")
    expect(reply.locator("[data-provider]")).to_have_text("offline coach")
    expect(reply.locator("[data-body] p").first).to_be_visible()  # the server's HTML, not raw text
    expect(reply.locator("[data-stop]")).to_have_count(0)

    history = reply.get_attribute("data-history").split()
    states = [mark.split(":")[0] for mark in history]
    lengths = [int(mark.split(":")[1]) for mark in history]
    assert states[0] == "streaming", history
    assert states[-1] == "complete", history
    streamed = [n for state, n in zip(states, lengths, strict=True) if state == "streaming" and n > 0]
    assert streamed, f"no streamed text was shown before completion: {history}"
    assert streamed == sorted(streamed), history
    assert lengths[-1] >= streamed[-1], history

    stored = Message.objects.get(author_kind="coach")
    assert stored.summoned_by == learner
    assert stored.reply_to is not None
    assert stored.reply_to.body.startswith("How do I prepare")
    assert tab.locator("[data-composer-body]").input_value() == ""
    tab.screenshot(path=SCREENSHOTS.format(name="learner"), full_page=True)
    tab.emulate_media(color_scheme="dark")
    tab.screenshot(path=SCREENSHOTS.format(name="learner-dark"), full_page=True)
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.screenshot(path=SCREENSHOTS.format(name="learner-narrow"), full_page=True)


def test_mute_slow_mode_and_lock_reach_the_learners_composer_live(open_as: Any, person: Any) -> None:
    """A moderator mutes a learner from the member list; the learner's open page disables its
    composer at once, says why and counts down; an unmute enables it again. Slow mode and a lock
    set from the room controls apply the same way."""
    learner = person("Ana Learner")
    mentor = person("Marc Mentor", LoungeRole.MODERATOR)
    learner_tab = open_as(learner)
    mentor_tab = open_as(mentor)
    expect(learner_tab.locator("[data-send]")).to_be_enabled()

    member = mentor_tab.locator("[data-members] li").filter(has_text="Ana Learner")
    member.get_by_label("Manage Ana Learner").click()
    member.get_by_role("button", name="Mute 5 min").click()
    expect(member).to_contain_text("muted until")

    status = learner_tab.locator("[data-composer-status]")
    expect(status).to_be_visible()
    expect(status).to_contain_text("You are muted")
    expect(status).to_contain_text(re.compile(r"again in [45]:\d\d min"))
    expect(learner_tab.locator("[data-send]")).to_be_disabled()
    expect(learner_tab.get_by_role("button", name="Ask the coach")).to_be_disabled()
    expect(learner_tab.locator("[data-composer-body]")).to_be_disabled()
    shown = status.inner_text()
    expect(status).not_to_have_text(shown, timeout=5_000)  # the countdown ticks
    learner_tab.screenshot(path=SCREENSHOTS.format(name="muted"), full_page=True)

    member.get_by_label("Manage Ana Learner").click()
    member.get_by_role("button", name="Unmute").click()
    expect(status).to_be_hidden()
    expect(learner_tab.locator("[data-send]")).to_be_enabled()
    expect(learner_tab.locator("[data-composer-body]")).to_be_enabled()

    # Slow mode: after one message, Send waits for the countdown (the text box stays usable).
    mentor_tab.get_by_label("Slow mode (seconds between messages, 0 = off)").fill("120")
    mentor_tab.get_by_role("button", name="Set", exact=True).click()
    expect(learner_tab.locator("[data-room-slow]")).to_have_text("Slow mode: 120 s")
    learner_tab.locator("[data-composer-body]").fill("One thought")
    learner_tab.locator("[data-composer-body]").press("Enter")
    expect(mentor_tab.locator("li.msg-user").filter(has_text="One thought")).to_have_count(1)
    expect(status).to_contain_text(
        re.compile(r"Slow mode \(one message every 120 s\): you can post again in 1:\d\d min")
    )
    expect(learner_tab.locator("[data-send]")).to_be_disabled()
    expect(learner_tab.locator("[data-composer-body]")).to_be_enabled()
    # Enter while waiting says nothing more: the notice is shown once, above the box.
    learner_tab.locator("[data-composer-body]").fill("Another thought")
    learner_tab.locator("[data-composer-body]").press("Enter")
    expect(learner_tab.locator("[data-composer-error]")).to_be_empty()
    expect(learner_tab.get_by_text(re.compile("you can post again"))).to_have_count(1)
    expect(learner_tab.locator("[data-composer-body]")).to_have_value("Another thought")

    # A lock applies live too.
    mentor_tab.get_by_role("button", name="Lock room").click()
    expect(status).to_contain_text("The lounge is locked")
    expect(learner_tab.locator("[data-room-locked]")).to_be_visible()
    expect(mentor_tab.get_by_role("button", name="Unlock room")).to_have_attribute("aria-pressed", "true")


def test_posts_reach_other_members_and_an_oversized_message_is_refused_and_kept(open_as: Any, person: Any) -> None:
    """A message posted with Enter appears on another member's open page; typing shows there; a
    message over 4 KB (UTF-8 bytes) is refused with a clear message and stays in the composer."""
    ana = person("Ana Learner")
    bea = person("Bea Learner")
    ana_tab = open_as(ana)
    bea_tab = open_as(bea)
    expect(ana_tab.locator("[data-presence]")).to_contain_text("Bea Learner")

    bea_tab.locator("[data-composer-body]").press_sequentially("Hi")
    expect(ana_tab.locator("[data-typing]")).to_have_text("Bea Learner is typing…")

    box = ana_tab.locator("[data-composer-body]")
    box.fill("Hello **room**, line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    box.press("Enter")
    posted = bea_tab.locator("li.msg-user").filter(has_text="line two")
    expect(posted).to_have_count(1)
    expect(posted.locator(".msg-author")).to_have_text("Ana Learner")
    expect(posted.locator("[data-body] strong")).to_have_text("room")
    expect(bea_tab.locator("[data-typing]")).to_have_text("")
    expect(box).to_have_value("")

    counter = ana_tab.locator("[data-composer-bytes]")
    expect(counter).to_have_text("4096 characters left")
    box.fill("Hi there")
    expect(counter).to_have_text("4088 characters left")
    too_long = "€" * 1366  # 4098 bytes in UTF-8, 1366 characters
    box.fill(too_long)
    expect(counter).to_contain_text("2 characters too many")
    expect(counter).to_contain_text("accented letters and emoji count as 2 to 4")
    expect(counter).to_have_attribute("title", "At most 4096 bytes of UTF-8 text; this is 4098.")
    ana_tab.get_by_role("button", name="Send").click()
    error = ana_tab.locator("[data-composer-error]")
    expect(error).to_contain_text("at most 4096 bytes")
    expect(error).to_contain_text("4098")
    expect(box).to_have_value(too_long)
    assert not Message.objects.filter(body__startswith="€").exists()

    box.press("End")
    box.press("Backspace")  # 4095 bytes: now it fits
    box.press("Enter")
    expect(bea_tab.locator("li.msg-user").filter(has_text="€€€")).to_have_count(1)
    expect(error).to_be_empty()
    assert Message.objects.filter(author=ana).count() == 2

    # Ana edits her first message; Bea's page shows the new text.
    mine = ana_tab.locator("li.msg-user").filter(has_text="line two")
    mine.get_by_label(re.compile("Actions for Ana Learner")).click()
    mine.get_by_role("button", name="Edit").click()
    dialog = ana_tab.locator("[data-dialog]")
    dialog.get_by_label("Message").fill("Hello room, edited")
    dialog.get_by_role("button", name="Save").click()
    expect(posted).to_have_count(0)
    edited = bea_tab.locator("li.msg-user").filter(has_text="Hello room, edited")
    expect(edited).to_contain_text("edited")


def test_a_guest_of_an_open_lounge_reads_then_joins_to_post(open_as: Any, person: Any) -> None:
    """Someone in the organisation but not in the lounge can read it; the composer says why it is
    disabled and offers Join; after joining, they can post."""
    guest = person("Gus Guest", lounge_role=None)
    tab = open_as(guest)
    status = tab.locator("[data-composer-status]")
    expect(status).to_contain_text("You are not a member of this lounge")
    expect(tab.locator("[data-composer-body]")).to_be_disabled()

    tab.get_by_role("button", name="Join this lounge").click()
    expect(tab.locator("[data-lounge-room]")).to_have_attribute("data-state", "ready")
    expect(status).to_be_hidden()
    expect(tab.get_by_role("button", name="Join this lounge")).to_be_hidden()
    tab.locator("[data-composer-body]").fill("Glad to be here")
    tab.locator("[data-composer-body]").press("Enter")
    expect(tab.locator("li.msg-user[data-message-id]").filter(has_text="Glad to be here")).to_have_count(1)
    assert LoungeMembership.objects.filter(user=guest, role=LoungeRole.MEMBER).exists()


def test_a_report_reaches_the_moderator_who_hides_the_message_for_everyone(open_as: Any, person: Any) -> None:
    """A member reports a message; the moderator's report queue shows it live; "Hide message"
    removes it from members' pages and the moderation log records both steps."""
    author = person("Rude Rory")
    reporter = person("Bea Learner")
    mentor = person("Marc Mentor", LoungeRole.MODERATOR)
    author_tab = open_as(author)
    reporter_tab = open_as(reporter)
    mentor_tab = open_as(mentor)

    author_tab.locator("[data-composer-body]").fill("Something unkind about interviews")
    author_tab.locator("[data-composer-body]").press("Enter")
    message = reporter_tab.locator("li.msg-user").filter(has_text="Something unkind")
    expect(message).to_have_count(1)
    expect(message.locator("[data-stop]")).to_have_count(0)

    message.get_by_label(re.compile("Actions for Rude Rory")).click()
    message.get_by_role("button", name="Report…").click()
    dialog = reporter_tab.locator("[data-dialog]")
    expect(dialog).to_be_visible()
    dialog.get_by_label("What is wrong with it?").fill("Unkind to others")
    dialog.get_by_role("button", name="Report").click()
    expect(dialog).to_be_hidden()

    report = mentor_tab.locator("[data-reports] li.report")
    expect(report).to_have_count(1)
    expect(report).to_contain_text("Bea Learner")
    expect(report).to_contain_text("Unkind to others")
    expect(report.locator(".report-quote")).to_have_text("Something unkind about interviews")
    mentor_tab.locator("[data-composer-body]").fill("Welcome, everyone. Please keep it kind.")
    mentor_tab.locator("[data-composer-body]").press("Enter")
    own = mentor_tab.locator("li.msg-user").filter(has_text="Welcome, everyone")
    expect(own).to_have_count(1)
    own.get_by_label(re.compile("Actions for Marc Mentor")).click()
    own.get_by_role("button", name="Pin").click()
    expect(mentor_tab.locator("[data-pins]")).to_contain_text("Welcome, everyone")
    expect(reporter_tab.locator("[data-pins]")).to_contain_text("Welcome, everyone")
    mentor_tab.screenshot(path=SCREENSHOTS.format(name="moderator"), full_page=True)

    report.get_by_role("button", name="Hide the message Bea Learner reported").click()
    expect(report).to_have_count(0)
    expect(mentor_tab.locator("[data-reports]")).to_contain_text("No open reports")
    expect(message).to_have_count(0)
    expect(author_tab.locator("li.msg-user").filter(has_text="Something unkind")).to_have_count(0)
    # Its author is told, with the reason, in its place: live, and again after a reload.
    notice = author_tab.locator("li.msg-mine [data-hidden-note]")
    expect(notice).to_contain_text(re.compile(r"Hidden by a moderator: report \d+: Unkind to others"))
    author_tab.reload()
    expect(author_tab.locator("[data-lounge-room]")).to_have_attribute("data-state", "ready")
    expect(notice).to_contain_text(re.compile(r"Hidden by a moderator: report \d+: Unkind to others"))
    author_tab.screenshot(path=SCREENSHOTS.format(name="hidden-notice"), full_page=True)
    expect(author_tab.locator("li.msg-user").filter(has_text="Something unkind")).to_have_count(0)
    hidden_for_mod = mentor_tab.locator("li.msg-hidden").filter(has_text="Something unkind")
    expect(hidden_for_mod).to_contain_text("hidden: report")

    mentor_tab.get_by_role("link", name="Moderation log").click()
    expect(mentor_tab.locator("h1")).to_have_text("Moderation log")
    for action in ("lounge.message_hidden", "lounge.report_resolved", "lounge.message_pinned"):
        expect(mentor_tab.locator(f"tbody tr[data-audit-action='{action}']")).to_have_count(1)


def _tab_stops_to_composer(tab: Any, limit: int = 40) -> list[str]:
    """Press Tab from the top of the page until the composer has focus; what each stop was."""
    tab.evaluate("document.activeElement?.blur()")
    stops: list[str] = []
    for _ in range(limit):
        tab.keyboard.press("Tab")
        where = tab.evaluate(
            """() => {
              const a = document.activeElement;
              if (a?.matches("[data-composer-body]")) return "composer";
              const msg = a?.closest("[data-messages] > li");
              if (msg) return a === msg ? "message" : "in-message";
              return a?.tagName?.toLowerCase() || "none";
            }"""
        )
        stops.append(where)
        if where == "composer":
            return stops
    raise AssertionError(f"the composer was not reached in {limit} Tab presses: {stops}")


def test_the_message_list_is_one_tab_stop_and_arrows_move_between_messages(open_as: Any, person: Any) -> None:
    """With seven messages, Tab from the page start reaches the composer passing the list in two
    stops (the newest message and its menu), as with one; Up/Home move between messages, and Enter
    opens the focused message's menu."""
    ana = person("Ana Learner")
    bea = person("Bea Learner")
    lounge = Lounge.objects.get(slug="interview-practice")
    for n in range(7):
        MessageFactory.create(lounge=lounge, author=bea, body=f"Point number {n + 1}")
    tab = open_as(ana)
    expect(tab.locator("li.msg-user")).to_have_count(7)

    stops = _tab_stops_to_composer(tab)
    in_list = [stop for stop in stops if stop in ("message", "in-message")]
    assert in_list == ["message", "in-message"], stops
    assert len(stops) < 19, stops

    newest = tab.locator("li.msg-user").last
    newest.focus()
    expect(newest).to_be_focused()
    tab.keyboard.press("ArrowUp")
    expect(tab.locator("li.msg-user").nth(5)).to_be_focused()
    tab.keyboard.press("Home")
    first = tab.locator("li.msg-user").first
    expect(first).to_be_focused()
    expect(first).to_have_attribute("tabindex", "0")
    expect(newest).to_have_attribute("tabindex", "-1")
    tab.keyboard.press("Enter")
    report = first.get_by_role("button", name="Report…")
    expect(report).to_be_focused()
    tab.keyboard.press("Escape")
    expect(first.locator("details.menu")).not_to_have_attribute("open", "")


def test_leaving_is_confirmed_and_the_owner_hands_over_first(open_as: Any, person: Any) -> None:
    """A member's Leave asks first (Cancel keeps them in). The owner has no Leave in the list and
    is told how to hand over; in the room, "Make owner…" (confirmed) makes the member the owner, and
    the old owner, now a moderator, can leave."""
    owner = person("Olga Owner", LoungeRole.OWNER)
    bea = person("Bea Learner")
    bea_tab = open_as(bea)
    bea_tab.goto("/lounges/")
    card = bea_tab.locator("[data-lounge='interview-practice']")
    expect(card.locator(".badge")).to_have_text(["Open"])
    card.get_by_role("button", name="Leave").click()
    dialog = bea_tab.locator("[data-confirm-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Leave Interview practice?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    bea_tab.screenshot(path=SCREENSHOTS.format(name="leave-confirm"), full_page=True)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert LoungeMembership.objects.filter(user=bea).exists()

    owner_tab = open_as(owner)
    owner_tab.goto("/lounges/")
    owner_card = owner_tab.locator("[data-lounge='interview-practice']")
    expect(owner_card.get_by_role("button", name="Leave")).to_have_count(0)
    expect(owner_card).to_contain_text("hand it to another member")
    owner_tab.goto("/lounges/interview-practice/")
    expect(owner_tab.locator("[data-lounge-room]")).to_have_attribute("data-state", "ready")
    expect(owner_tab.get_by_role("button", name="Leave lounge")).to_be_hidden()
    member = owner_tab.locator("[data-members] li").filter(has_text="Bea Learner")
    member.get_by_label("Manage Bea Learner").click()
    member.get_by_role("button", name="Make owner…").click()
    confirm = owner_tab.locator("[data-confirm-dialog]")
    expect(confirm).to_contain_text("Make Bea Learner the owner of Interview practice?")
    owner_tab.screenshot(path=SCREENSHOTS.format(name="make-owner"), full_page=True)
    confirm.get_by_role("button", name="Make owner").click()
    expect(owner_tab.locator("[data-room-role]")).to_have_text("You are a moderator")
    expect(member).to_contain_text("owner")
    assert LoungeMembership.objects.get(user=bea).role == LoungeRole.OWNER

    owner_tab.get_by_role("button", name="Leave lounge").click()
    confirm.get_by_role("button", name="Leave").click()
    expect(owner_tab).to_have_url(re.compile(r"/lounges/$"))
    expect(owner_tab.get_by_text("You left Interview practice.")).to_be_visible()
    assert not LoungeMembership.objects.filter(user=owner).exists()

    card.page.goto("/lounges/")
    expect(card).to_contain_text("you are the owner")
