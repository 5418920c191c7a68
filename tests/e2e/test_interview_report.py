"""The interview report in a real browser against the live stack (offline provider, as in `make
run`): a candidate with a Cyrillic name completes a short timed interview, lands on the report,
reads the scores, and downloads the PDF, whose text holds the scores and the name; and a report
page left open while the answers are scored turns into the full report in place."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from domains.interviews import evaluation
from domains.interviews.models import InterviewSession, SessionReport, SessionState
from tests.domains.interviews.helpers import pdf_text, world_make
from tests.domains.interviews.helpers_evaluation import finished_session
from tests.domains.interviews.helpers_sessions import timed_template

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Cyrillic: the embedded Noto Sans covers it. (fpdf2 drops a glyph its font lacks, with only a
# logged warning, so a CJK name would vanish from the PDF: the report does not promise CJK.)
NAME = "Анна Петрова"
WRITTEN = "I would test every layer and fake only the network edge, then measure."


def _scores_shown(page: Any) -> list[int]:
    return [int(text) for text in page.locator("[data-answer-score]").all_text_contents()]


def test_a_candidate_completes_an_interview_reads_the_report_and_downloads_the_pdf(
    page: Any, login_browser: Any
) -> None:
    """Given a candidate named in Cyrillic and a five-minute interview of two questions, when they
    answer both in the room and submit, then they land on the report, which (once the live stack's
    worker has scored it) shows their name, the stored overall score and each answer's score; the
    PDF downloads as an attachment whose decoded text holds the title, the name, the overall and
    dimension scores and each answer's score, printed with glyphs of the embedded font; and a reload
    shows the same stored report."""
    world = world_make()
    world.candidate.display_name = NAME
    world.candidate.save(update_fields=["display_name"])
    template = timed_template(world, minutes=5)
    login_browser(world.candidate)

    # given a short interview, answered and handed in through the room
    page.goto(f"/interviews/templates/{template.pk}/")
    page.get_by_role("button", name="Start practice").click()
    expect(page.locator('[data-check="socket"]')).to_have_attribute("data-state", "ok")
    page.get_by_role("button", name="Start the interview").click()
    expect(page.locator("[data-interview-room] [data-conn-status]")).to_have_attribute("data-state", "live")
    page.locator("[data-choices] input[value='a']").check()
    expect(page.locator("[data-autosave]")).to_contain_text("saved ")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("[data-question-number]")).to_have_text("2")
    page.locator("[data-editor]").fill(WRITTEN)
    page.locator("[data-editor]").blur()
    expect(page.locator("[data-autosave]")).to_contain_text("saved ")
    page.get_by_role("button", name="Submit the interview").click()

    # when the submit lands them on the report page and the worker has scored the answers
    session = InterviewSession.objects.get(candidate=world.candidate)
    report_url = f"/interviews/sessions/{session.pk}/report/"
    expect(page).to_have_url(f"{page.url.split('/interviews/')[0]}{report_url}")
    expect(page.locator("[data-report]")).to_be_visible(timeout=30_000)
    session.refresh_from_db()
    assert session.state == SessionState.GRADED
    report = SessionReport.objects.get(session=session)
    feedback = evaluation.feedback_for_user(user=world.candidate, organisation=None, session_id=session.pk)
    stored_scores = [answer["score"] for answer in feedback["answers"]]
    assert len(stored_scores) == 2
    assert stored_scores[0] == 100  # the right choice, scored exactly

    # then the page shows their name and the scores the server stored, and no live view is left
    expect(page.locator("[data-report-live]")).to_have_count(0)
    expect(page.locator("[data-candidate]")).to_have_text(f"Candidate: {NAME}")
    expect(page.locator('[data-score="overall"]')).to_have_text(str(report.overall))
    expect(page.locator("[data-answer-score]")).to_have_count(2)
    assert _scores_shown(page) == stored_scores
    expect(page.locator("[data-offline]")).to_be_visible()  # the offline evaluator says so

    # and the PDF downloads, and its text holds the same scores and the name
    with page.expect_download() as download_info:
        page.locator("[data-report-pdf]").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == f"interview-report-{session.pk}.pdf"
    with open(download.path(), "rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF-")
    assert b"/FontFile2" in pdf  # the font is embedded
    lines = pdf_text(pdf)
    assert f"Interview report: {template.title}" in lines
    assert f"Candidate: {NAME}" in lines  # every letter printed (fpdf2 drops a letter its font lacks)
    dimensions = [line for line in lines if line.startswith("Overall ")]
    assert len(dimensions) == 1
    assert dimensions[0].startswith(f"Overall {report.overall} · Technical {report.technical} · ")
    for answer in feedback["answers"]:
        offline = " · offline evaluator" if answer["offline"] else ""
        assert f"{answer['score']}/100 · {answer['band']}{offline}" in lines
    assert not any("\ufffd" in line for line in lines)

    # and a fresh load of the page shows the stored report straight away
    page.reload()
    expect(page.locator("[data-report]")).to_be_visible()
    expect(page.locator("[data-report-live]")).to_have_count(0)
    expect(page.locator('[data-score="overall"]')).to_have_text(str(report.overall))


def test_a_report_page_open_while_grading_turns_into_the_full_report(page: Any, login_browser: Any) -> None:
    """Given a handed-in session not scored yet and its candidate on the report page (it says the
    answers are being scored and follows the session's socket), when grading finishes, then the
    same page, without a reload, shows the stored report: the overall score, each answer's score,
    the PDF link; and the live view is gone."""
    world = world_make()
    template = timed_template(world, minutes=5)
    # Not through the submit service: that enqueues the grading, which the live stack's worker would
    # run at once. Here the test decides when grading happens.
    session = finished_session(
        template=template, candidate=world.candidate, organisation=world.organisation, answers={1: ["a"], 2: WRITTEN}
    )
    login_browser(world.candidate)

    page.goto(f"/interviews/sessions/{session.pk}/report/")
    live = page.locator("[data-report-live]")
    expect(live).to_have_attribute("data-state", "scoring")
    expect(page.locator("[data-report-pending]")).to_contain_text("being scored")
    expect(live.locator("[data-conn-status]")).to_have_attribute("data-state", "live")
    expect(page.locator("[data-report]")).to_have_count(0)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    report = evaluation.session_grade(session_id=session.pk)

    assert report is not None
    expect(page.locator("[data-report]")).to_be_visible()
    assert page.evaluate("window.__sameDocument === true")
    expect(page.locator("[data-report-live]")).to_have_count(0)
    expect(page.locator("[data-report-pending]")).to_have_count(0)
    expect(page.locator('[data-score="overall"]')).to_have_text(str(report.overall))
    feedback = evaluation.feedback_for_user(user=world.candidate, organisation=None, session_id=session.pk)
    expect(page.locator("[data-answer-score]")).to_have_count(2)
    assert _scores_shown(page) == [answer["score"] for answer in feedback["answers"]]
    expect(page.locator("[data-report-pdf]")).to_have_attribute("href", f"/interviews/sessions/{session.pk}/report.pdf")
