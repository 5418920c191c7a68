"""The AI interviewer and the live evaluation in a real browser against the live stack (offline
provider, as in `make run`): the candidate asks the interviewer, reads the streamed follow-up,
responds (autosaved), submits, and lands on the report, which shows the scores once graded."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.interviews import services
from domains.interviews.models import FollowUp, InterviewSession, SessionState
from tests.domains.interviews.helpers import world_make
from tests.domains.interviews.test_followups import ANSWER, followup_template

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_candidate_asks_the_interviewer_responds_and_reads_the_scores(page: Any, login_browser: Any) -> None:
    """Given a session of a template that offers the AI interviewer, when the candidate asks after
    writing an answer, then the offline interviewer's follow-up streams in, labelled; the response
    autosaves and survives a reload; and after submitting, the report page shows the stored scores
    of all three questions and the PDF link."""
    world = world_make()
    template = followup_template(world, minutes=10)
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    login_browser(world.candidate)

    page.goto(f"/interviews/sessions/{session.pk}/")
    expect(page.locator("[data-interview-room] [data-conn-status]")).to_have_attribute("data-state", "live")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-question-number]")).to_have_text("2")
    ask = page.get_by_role("button", name="Ask the interviewer")
    expect(ask).to_be_visible()
    expect(page.get_by_text("The clock keeps running")).to_be_visible()
    page.locator("[data-editor]").fill(ANSWER)
    ask.click()

    body = page.locator("[data-followup-body]")
    expect(body).to_contain_text("Offline interviewer")
    expect(body).to_contain_text("caching")
    expect(page.locator("[data-followup-label]")).to_have_text("(offline interviewer)")
    expect(page.locator("[data-ask-offer]")).to_be_hidden()
    page.locator("[data-followup-editor]").fill("Readers see the old value until the TTL ends.")
    page.locator("[data-followup-editor]").blur()
    expect(page.locator("[data-followup-autosave]")).to_contain_text("saved ")
    followup = FollowUp.objects.get(session=session)
    assert followup.response_text == "Readers see the old value until the TTL ends."
    assert followup.answer.text == ANSWER

    page.reload()
    expect(page.locator("[data-followup-body]")).to_contain_text("caching")
    expect(page.locator("[data-followup-editor]")).to_have_value("Readers see the old value until the TTL ends.")

    page.get_by_role("button", name="Submit the interview").click()
    expect(page).to_have_url(f"{page.url.split('/interviews/')[0]}/interviews/sessions/{session.pk}/report/")
    # Live while it is scored, then the stored report in place (or at once if grading won the race).
    expect(page.locator("[data-report]")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-report-live]")).to_have_count(0)
    session.refresh_from_db()
    assert session.state == SessionState.GRADED
    report = InterviewSession.objects.get(pk=session.pk).report
    expect(page.locator('[data-score="overall"]')).to_have_text(str(report.overall))
    expect(page.locator("[data-answer-score]")).to_have_count(3)
    expect(page.locator("[data-report-pdf]")).to_be_visible()
