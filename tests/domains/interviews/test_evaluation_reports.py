"""The report page and `GET /api/v1/interviews/sessions/{id}/feedback`: who sees a session's report
(its candidate; the organisation's mentors), that a foreign id answers like a missing one, that
nothing a candidate reads carries a reference answer, a key or a band descriptor, and the mentor's
override form."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from domains.compliance.models import AuditEvent
from domains.interviews import evaluation
from domains.interviews.models import Answer, InterviewSession, ScoreOverride, SessionReport
from tests.domains.interviews.helpers import World, pdf_streams, pdf_text, signed_in, world_make
from tests.domains.interviews.helpers_evaluation import finished_session, secrets_of

pytestmark = pytest.mark.django_db

MISSING = 2**62


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def _session(world: World) -> InterviewSession:
    return finished_session(
        template=world.public,
        candidate=world.candidate,
        organisation=world.organisation,
        answers={1: ["b"], 2: ["c"], 3: ["a"], 4: "Threads share memory; processes do not.", 5: "", 6: "EXPLAIN it."},
    )


def _page(session_id: int) -> str:
    return f"/interviews/sessions/{session_id}/report/"


def _api(session_id: int) -> str:
    return f"/api/v1/interviews/sessions/{session_id}/feedback"


def test_the_candidate_reads_their_report_and_it_leaks_nothing(world: World) -> None:
    """Given a graded session, when its candidate opens the report page and the feedback API, then
    both show the overall score and each answer's score and band, and neither carries any reference
    answer, band descriptor or the key of a multiple-choice question."""
    session = _session(world)
    report = evaluation.session_grade(session_id=session.pk)
    assert report is not None
    client = signed_in(world.candidate)

    page = client.get(_page(session.pk))
    api = client.get(_api(session.pk))

    assert page.status_code == 200
    assert api.status_code == 200
    html = page.content.decode()
    assert f'data-score="overall">{report.overall}<' in html
    assert "data-override" not in html  # the candidate cannot override
    body = api.json()
    assert (body["graded"], body["report"]["overall"], len(body["answers"])) == (True, report.overall, 6)
    assert [item["score"] for item in body["answers"]][:3] == [100, 0, 0]
    serialised = json.dumps(body)
    for secret in secrets_of(world.public):
        assert secret not in html
        assert secret not in serialised
    for forbidden in ("answer_key", "reference_answer", "rubric_bands", "descriptor"):
        assert forbidden not in serialised
        assert forbidden not in html


def test_before_grading_the_report_says_it_is_being_scored(world: World) -> None:
    """Given a submitted, not yet graded session, then the page says the answers are being scored
    and the API answers `graded: false` with no report."""
    session = _session(world)
    client = signed_in(world.candidate)

    page = client.get(_page(session.pk))
    body = client.get(_api(session.pk)).json()

    assert page.status_code == 200
    assert "data-report-pending" in page.content.decode()
    assert (body["graded"], body["report"], body["answers"]) == (False, None, [])


@pytest.mark.parametrize("who", ["learner", "other_staff"])
def test_anyone_else_gets_404_like_a_missing_session(world: World, who: str) -> None:
    """Given a graded session, then a learner of the organisation and another organisation's staff
    get exactly the answer a missing id gets: 404, on the page and in the API."""
    session = _session(world)
    evaluation.session_grade(session_id=session.pk)
    client = signed_in(getattr(world, who))

    for url in (_page, _api):
        refused, missing = client.get(url(session.pk)), client.get(url(MISSING))
        assert refused.status_code == missing.status_code == 404
        assert _unmasked(refused.content) == _unmasked(missing.content)


def _unmasked(content: bytes) -> bytes:
    """The body without its CSRF tokens (masked afresh on every response)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def test_a_mentor_sees_the_report_and_overrides_a_score_from_the_page(world: World) -> None:
    """Given a graded session, when a mentor of the organisation opens the report, then it shows an
    override form per answer; posting a score and a reason stores the override, audits it,
    recomputes the report and shows the reason to the candidate."""
    session = _session(world)
    evaluation.session_grade(session_id=session.pk)
    answer = Answer.objects.get(session=session, question__position=2)
    mentor = signed_in(world.mentor)
    assert "data-override" in mentor.get(_page(session.pk)).content.decode()

    response = mentor.post(
        f"/interviews/sessions/{session.pk}/answers/{answer.pk}/override/", {"score": "100", "reason": "Ambiguous key."}
    )

    assert response.status_code == 302
    assert ScoreOverride.objects.get(answer=answer).score == 100
    assert AuditEvent.objects.filter(action="interview.score_overridden").count() == 1
    body = signed_in(world.candidate).get(_api(session.pk)).json()
    assert body["answers"][1] | {} == {
        **body["answers"][1],
        "score": 100,
        "overridden": True,
        "override_reason": "Ambiguous key.",
    }
    assert body["report"]["overall"] == SessionReport.objects.get(session=session).overall


def test_a_bad_override_from_the_page_changes_nothing(world: World) -> None:
    """Given a graded session, when a mentor posts a score of 250, then nothing is stored and the
    report page says why; the candidate posting an override gets 404."""
    session = _session(world)
    evaluation.session_grade(session_id=session.pk)
    answer = Answer.objects.get(session=session, question__position=2)
    url = f"/interviews/sessions/{session.pk}/answers/{answer.pk}/override/"

    followed: Any = signed_in(world.mentor).post(url, {"score": "250", "reason": "Too high."}, follow=True)
    candidate = signed_in(world.candidate).post(url, {"score": "100", "reason": "Mine."})

    assert followed.status_code == 200
    assert "Give a whole score from 0 to 100." in followed.content.decode()
    assert candidate.status_code == 404
    assert not ScoreOverride.objects.exists()


def test_the_report_downloads_as_a_pdf_with_an_embedded_font_for_non_latin_names(world: World) -> None:
    """Given a graded session of a candidate named in Cyrillic, when they download the PDF, then it
    is an attachment, a PDF with an embedded TrueType font whose character map holds every letter
    of the name; before grading, and for anyone else, it is 404."""
    world.candidate.display_name = "Анна Петрова"
    world.candidate.save(update_fields=["display_name"])
    session = _session(world)
    client = signed_in(world.candidate)
    url = f"/interviews/sessions/{session.pk}/report.pdf"
    assert client.get(url).status_code == 404  # not graded yet
    evaluation.session_grade(session_id=session.pk)

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="interview-report-{session.pk}.pdf"'
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    assert b"/FontFile2" in pdf
    streams = pdf_streams(pdf).upper()
    for letter in set("АннаПетрова"):
        assert f"<{ord(letter):04X}>".encode() in streams, letter
    assert "Candidate: Анна Петрова" in pdf_text(pdf)  # printed whole (fpdf2 drops a letter its font lacks)
    assert signed_in(world.learner).get(url).status_code == 404


def test_practice_areas_sum_up_my_graded_sessions_per_topic(world: World, django_assert_num_queries: Any) -> None:
    """Given two graded sessions of the easy Python template, a weak one and then a strong one, when
    the candidate asks for their practice areas, then the `python` topic shows 2 attempts, the best,
    average and current (latest) score, the time of both sessions, and recommends the next harder
    difficulty after a strong current score; the areas cost two queries however many sessions."""
    weak = finished_session(
        template=world.public,
        candidate=world.candidate,
        organisation=world.organisation,
        answers={1: ["a"], 2: ["a"], 3: ["b"], 4: "", 5: "", 6: ""},
    )
    strong = finished_session(
        template=world.public,
        candidate=world.candidate,
        organisation=world.organisation,
        answers={1: ["b"], 2: ["b"], 3: ["a", "c"], 4: GOOD, 5: "", 6: ""},
    )
    evaluation.session_grade(session_id=weak.pk)
    evaluation.session_grade(session_id=strong.pk)
    open_score = Answer.objects.select_related("evaluation").get(session=strong, question__position=4).evaluation
    assert open_score is not None
    current = round((100 + 100 + open_score.score) / 3)  # questions 1, 3 and 4 are tagged python

    with django_assert_num_queries(2):
        areas = {area["topic"]: area for area in evaluation.practice_areas_for_user(user=world.candidate)}
    body = signed_in(world.candidate).get("/api/v1/interviews/practice-areas").json()

    python = areas["python"]
    assert (python["attempts"], python["best"], python["current"]) == (2, current, current)
    assert python["average"] == round((0 + current) / 2)
    assert python["practice_seconds"] == 2 * 20 * 60
    assert python["recommended_difficulty"] == ("medium" if current >= 80 else "easy")
    assert areas["http"]["current"] == 100
    assert [item["topic"] for item in body["items"]] == sorted(areas)
    assert signed_in(world.learner).get("/api/v1/interviews/practice-areas").json()["items"] == []


GOOD = (
    "Processes have separate memory and give real CPU parallelism in CPython because of the GIL; threads "
    "share memory, are cheaper and suit I/O-bound work such as waiting on a database. A web service runs "
    "several worker processes, and threads or async inside them for I/O."
)
