"""The mentor's live view shows the AI interviewer's follow-ups: on first load the page renders each
follow-up question and the candidate's saved response, and `…/watch/followups/` answers them as
JSON (what the page reloads when `followup.saved` arrives). Only the organisation's mentors and the
assignment's reviewer see them; anyone else, and a missing session, get 404."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any

import pytest
from django.utils import timezone

from domains.accounts.models import Role
from domains.interviews import followups, services
from domains.interviews.models import FollowUp, InterviewAssignment, InterviewSession, InterviewTemplate, Question
from tests.domains.interviews.helpers import World, consented, signed_in, world_make
from tests.domains.interviews.test_followups import ANSWER, followup_template
from tests.factories import MembershipFactory

RESPONSE = "Readers see the old value until the <delete> lands; I'd version the keys."


@pytest.fixture
def world(db: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    settings.AI_DEFAULT_PROVIDER = "offline"
    monkeypatch.setattr(services, "enqueue", lambda *args: None)  # grading: not this file's
    monkeypatch.setattr(followups, "enqueue", lambda *args: None)  # the follow-up job is run by hand
    return world_make()


def _answered_followup(
    world: World, template: InterviewTemplate, *, assignment: InterviewAssignment | None = None
) -> tuple[InterviewSession, Question, FollowUp]:
    """A running session whose open answer has a streamed (offline) follow-up and a saved response."""
    session, _ = services.interview_session_start(
        user=world.candidate,
        organisation=world.organisation,
        template_id=template.pk,
        assignment_id=assignment.pk if assignment is not None else None,
    )
    question = Question.objects.get(template=template, position=2)
    services.answer_save(session_id=session.pk, user=world.candidate, question_id=question.pk, revision=1, text=ANSWER)
    followup, created = followups.followup_request(session_id=session.pk, user=world.candidate, question_id=question.pk)
    assert created
    followups.followup_generate(followup_id=followup.pk)
    followups.followup_save(
        session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=3, text=RESPONSE
    )
    followup.refresh_from_db()
    return session, question, followup


def test_the_mentor_page_renders_the_followup_and_the_saved_response(world: World) -> None:
    """Given a follow-up the offline interviewer asked and the candidate's saved response (revision
    3), when the organisation's mentor opens the live view, then the page shows the question's
    prompt, the follow-up question, the provider label, the response (escaped) and its revision,
    and the page's data carries the JSON URL and the follow-up for the script."""
    template = followup_template(world)
    session, question, followup = _answered_followup(world, template)
    assert followup.status == "complete"
    assert followup.body.startswith("(Offline interviewer, no model")

    page = signed_in(world.mentor).get(f"/interviews/sessions/{session.pk}/watch/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-followup-id="{followup.pk}"' in html
    assert escape(question.prompt) in html
    assert escape(followup.body) in html
    assert "(offline interviewer)" in html
    assert escape(RESPONSE) in html
    assert RESPONSE not in html  # the `<delete>` in it is text, not markup
    assert "revision 3" in html
    assert f"/interviews/sessions/{session.pk}/watch/followups/" in html
    assert "data-followups-empty hidden>" in html  # "No follow-up asked yet" is hidden


def test_the_json_answers_every_followup_with_the_response_as_saved(world: World) -> None:
    """Given a saved response, when the mentor asks `…/watch/followups/`, then it answers 200, not
    cached, with the follow-up (question id, position, body, status, provider label) and the
    response's text, revision and server time; a newer save shows at once on the next request."""
    template = followup_template(world)
    session, question, followup = _answered_followup(world, template)
    mentor = signed_in(world.mentor)
    url = f"/interviews/sessions/{session.pk}/watch/followups/"

    response = mentor.get(url)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    [item] = response.json()["followups"]
    assert (item["id"], item["question_id"], item["position"]) == (followup.pk, question.pk, 2)
    assert (item["status"], item["body"], item["provider_label"]) == ("complete", followup.body, "offline interviewer")
    assert followup.response_saved_at is not None
    assert item["response"] == {
        "text": RESPONSE,
        "revision": 3,
        "saved_at": followup.response_saved_at.isoformat(),
    }
    followups.followup_save(session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=4, text="v4")
    assert mentor.get(url).json()["followups"][0]["response"]["text"] == "v4"


def test_a_session_without_followups_answers_an_empty_list(world: World) -> None:
    """Given a session on a template with follow-ups off, the page says so and the JSON is empty."""
    template = followup_template(world, follow_ups=False)
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    mentor = signed_in(world.mentor)
    page = mentor.get(f"/interviews/sessions/{session.pk}/watch/").content.decode()
    assert "This template asks no follow-up questions." in page
    assert "data-followup-id" not in page
    assert mentor.get(f"/interviews/sessions/{session.pk}/watch/followups/").json() == {"followups": []}


def test_only_watchers_see_the_followups(world: World) -> None:
    """Given an assessed session reviewed by staff, then the reviewer and the organisation's mentor
    get the follow-ups; the candidate, a learner, staff who do not review it, another
    organisation's mentor, a signed-out visitor and a missing id do not (404, or the sign-in page)."""
    template = followup_template(world)
    now = timezone.now()
    assignment = InterviewAssignment.objects.create(
        organisation=world.organisation,
        template=template,
        candidate=world.candidate,
        reviewer=world.staff,
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=1),
        attempts_allowed=1,
        created_by=world.staff,
    )
    session, _question, _followup = _answered_followup(world, template, assignment=assignment)
    other_staff = consented(MembershipFactory.create(organisation=world.organisation, role=Role.STAFF).user)
    foreign_mentor = consented(MembershipFactory.create(organisation=world.other, role=Role.MENTOR).user)
    url = f"/interviews/sessions/{session.pk}/watch/followups/"

    for watcher in (world.mentor, world.staff):
        assert signed_in(watcher).get(url).json()["followups"][0]["response"]["text"] == RESPONSE
        assert RESPONSE[:20] in signed_in(watcher).get(f"/interviews/sessions/{session.pk}/watch/").content.decode()
    for stranger in (world.candidate, world.learner, other_staff, foreign_mentor):
        assert signed_in(stranger).get(url).status_code == 404
        assert signed_in(stranger).get(f"/interviews/sessions/{session.pk}/watch/").status_code == 404
    assert signed_in(world.mentor).get("/interviews/sessions/999999/watch/followups/").status_code == 404
    signed_out = signed_in(world.mentor)
    signed_out.logout()
    assert signed_out.get(url).status_code == 302
    assert signed_in(world.mentor).post(url).status_code == 405
