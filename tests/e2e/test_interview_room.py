"""The interview room in a real browser against the live stack: the system check passes, the
candidate starts, answers a multiple-choice and a written question (autosaved over the socket),
reloads without losing the text or time, sees a mentor's extra time arrive, and submits."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.interviews import services
from domains.interviews.models import Answer, InterviewSession, SessionState
from tests.domains.interviews.helpers import world_make
from tests.domains.interviews.helpers_sessions import timed_template

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_candidate_takes_a_timed_interview_in_the_room(page: Any, login_browser: Any) -> None:
    world = world_make()
    template = timed_template(world, minutes=10)
    login_browser(world.candidate)

    page.goto(f"/interviews/templates/{template.pk}/")
    page.get_by_role("button", name="Start practice").click()
    expect(page.locator('[data-check="socket"]')).to_have_attribute("data-state", "ok")
    expect(page.locator('[data-check="clock"]')).to_have_attribute("data-state", "ok")
    expect(page.get_by_text("The last autosaved answer counts.")).to_be_visible()
    assert not InterviewSession.objects.exists()  # the clock has not started during the check
    page.get_by_role("button", name="Start the interview").click()

    session = InterviewSession.objects.get(candidate=world.candidate)
    expect(page).to_have_url(f"{page.url.split('/interviews/')[0]}/interviews/sessions/{session.pk}/")
    expect(page.locator("[data-interview-room] [data-conn-status]")).to_have_attribute("data-state", "live")
    countdown = page.locator("[data-countdown]")
    expect(countdown).not_to_have_text("--:--")
    assert int(countdown.get_attribute("data-left") or 0) > 9 * 60 - 30

    page.locator("[data-choices] input[value='a']").check()
    expect(page.locator("[data-autosave]")).to_contain_text("saved ")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-question-number]")).to_have_text("2")
    page.locator("[data-editor]").fill("Tests at every layer, and a fake only at the network edge.")
    page.locator("[data-editor]").blur()
    expect(page.locator("[data-autosave]")).to_contain_text("saved ")
    written = Answer.objects.get(session=session, question__position=2)
    assert written.text == "Tests at every layer, and a fake only at the network edge."

    page.reload()
    expect(page.locator("[data-editor]")).to_have_value("Tests at every layer, and a fake only at the network edge.")
    expect(page.locator("[data-interview-room] [data-conn-status]")).to_have_attribute("data-state", "live")

    before = int(page.locator("[data-countdown]").get_attribute("data-left") or 0)
    services.extra_time_grant(session_id=session.pk, user=world.mentor, seconds=600, reason="Fire alarm")
    expect(page.locator("[data-warning]")).to_contain_text("Extra time granted")
    assert int(page.locator("[data-countdown]").get_attribute("data-left") or 0) > before + 500

    page.get_by_role("button", name="Submit the interview").click()
    expect(page).to_have_url(f"{page.url.split('/interviews/')[0]}/interviews/sessions/{session.pk}/report/")
    session.refresh_from_db()
    assert session.state in {SessionState.SUBMITTED, SessionState.GRADED}
    assert Answer.objects.get(session=session, question__position=1).choice_ids == ["a"]
