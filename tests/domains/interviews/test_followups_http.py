"""Follow-ups and the live evaluation over HTTP: the API's follow-up request and response save, the
template opt-in through the API, the room's "Ask the interviewer", and the report page that
follows the grading while the session is scored. Nothing a candidate receives carries a secret."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from domains.interviews import followups, services
from domains.interviews.models import FollowUp, InterviewSession, InterviewTemplate, Question
from tests.domains.interviews.helpers import World, question_data, signed_in, template_data, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets
from tests.domains.interviews.test_followups import ANSWER, followup_template

API = "/api/v1/interviews/sessions"


@pytest.fixture
def world(db: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    settings.AI_DEFAULT_PROVIDER = "offline"
    monkeypatch.setattr(services, "enqueue", lambda *args: None)  # grading: tested in test_evaluation
    monkeypatch.setattr(followups, "enqueue", lambda *args: None)  # the job is run by hand below
    return world_make()


def _json(client: Client, method: str, url: str, body: Any = None) -> Any:
    return getattr(client, method)(url, json.dumps(body) if body is not None else None, content_type="application/json")


def _started(world: World, client: Client, template: InterviewTemplate) -> tuple[int, Question]:
    session_id = _json(client, "post", API, {"template_id": template.pk}).json()["session"]["id"]
    question = Question.objects.get(template=template, position=2)
    saved = _json(
        client, "put", f"{API}/{session_id}/answer", {"question_id": question.pk, "revision": 1, "text": ANSWER}
    )
    assert saved.status_code == 200
    return session_id, question


def test_the_api_asks_for_a_followup_once_and_saves_the_response(world: World) -> None:
    """Given a saved written answer, `POST .../followups` answers 201 with a streaming follow-up,
    again 200 with the same one; once streamed, the detail carries it; `PUT .../followups/<id>`
    saves the response by revision (a replay is `duplicate`); nothing leaks."""
    template = followup_template(world)
    client = signed_in(world.candidate)
    session_id, question = _started(world, client, template)
    InterviewSession.objects.filter(pk=session_id).update(current_position=2)

    first = _json(client, "post", f"{API}/{session_id}/followups", {"question_id": question.pk})
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "streaming"
    again = _json(client, "post", f"{API}/{session_id}/followups", {"question_id": question.pk})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    followups.followup_generate(followup_id=first.json()["id"])
    detail = client.get(f"{API}/{session_id}")
    assert detail.json()["followup"]["status"] == "complete"
    assert detail.json()["followup"]["provider_label"] == "offline interviewer"
    assert detail.json()["session"]["follow_ups"] is True

    url = f"{API}/{session_id}/followups/{first.json()['id']}"
    saved = _json(client, "put", url, {"revision": 1, "text": "Readers wait for the lock."})
    assert saved.status_code == 200, saved.content
    assert saved.json()["duplicate"] is False
    replay = _json(client, "put", url, {"revision": 1, "text": "Other"})
    assert replay.json()["duplicate"] is True
    assert FollowUp.objects.get().response_text == "Readers wait for the lock."
    for response in (first, again, detail, saved, replay):
        assert_no_secrets(response.content.decode(), template)


def test_the_api_refuses_late_unoffered_and_foreign_followups(world: World) -> None:
    """A follow-up on a template without them is 409 `not_offered`; a body with a client time is
    422; a response after the deadline is 409 `deadline_passed`; another person gets 404."""
    closed = followup_template(world, follow_ups=False)
    client = signed_in(world.candidate)
    session_id, question = _started(world, client, closed)
    refused = _json(client, "post", f"{API}/{session_id}/followups", {"question_id": question.pk})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["type"] == "not_offered"
    _json(client, "post", f"{API}/{session_id}/complete")

    template = followup_template(world)
    session_id, question = _started(world, client, template)
    followup = _json(client, "post", f"{API}/{session_id}/followups", {"question_id": question.pk}).json()
    url = f"{API}/{session_id}/followups/{followup['id']}"
    tampered = _json(client, "put", url, {"revision": 1, "text": "x", "saved_at": "2000-01-01T00:00:00Z"})
    assert tampered.status_code == 422
    stranger = signed_in(world.learner)
    assert _json(stranger, "put", url, {"revision": 1, "text": "x"}).status_code == 404
    assert _json(stranger, "post", f"{API}/{session_id}/followups", {"question_id": question.pk}).status_code == 404
    past = timezone.now() - timedelta(seconds=1)
    InterviewSession.objects.filter(pk=session_id).update(started_at=past - timedelta(minutes=5), deadline=past)
    late = _json(client, "put", url, {"revision": 1, "text": "Late"})
    assert late.status_code == 409
    assert late.json()["errors"][0]["type"] == "deadline_passed"
    assert FollowUp.objects.get(pk=followup["id"]).response_revision == 0


def test_staff_opt_a_template_in_through_the_api(world: World) -> None:
    """`follow_ups` is accepted on template create (default off) and shown on the template."""
    client = signed_in(world.staff)
    body = template_data(title="With follow-ups", follow_ups=True, questions=[question_data("open")])
    created = _json(client, "post", "/api/v1/interviews/templates", body)
    assert created.status_code == 201, created.content
    assert created.json()["follow_ups"] is True
    plain = _json(client, "post", "/api/v1/interviews/templates", template_data(title="Without"))
    assert plain.json()["follow_ups"] is False
    bad = _json(client, "post", "/api/v1/interviews/templates", {**template_data(title="Bad"), "follow_ups": "maybe"})
    assert bad.status_code == 422


def test_the_room_offers_the_interviewer_and_submit_opens_the_live_report(world: World) -> None:
    """The room of a template with follow-ups has "Ask the interviewer" and says the clock keeps
    running; the no-script submit goes to the report page, which before grading follows the
    session's socket; once graded the report page no longer subscribes. Nothing leaks."""
    template = followup_template(world)
    client = signed_in(world.candidate)
    session_id, _question = _started(world, client, template)
    room = client.get(f"/interviews/sessions/{session_id}/").content.decode()
    assert "Ask the interviewer" in room
    assert "The clock keeps running" in room
    assert_no_secrets(room, template)

    submitted = client.post(f"/interviews/sessions/{session_id}/submit/")
    assert submitted.status_code == 302
    assert submitted["Location"] == f"/interviews/sessions/{session_id}/report/"
    page = client.get(submitted["Location"]).content.decode()
    assert "data-report-live" in page
    assert f"/ws/interviews/{session_id}/" in page
    assert 'data-personal-socket="/ws/me/"' not in page  # the interview socket carries the personal stream
    assert_no_secrets(page, template)

    from domains.interviews.evaluation import session_grade

    session_grade(session_id=session_id)
    graded = client.get(submitted["Location"]).content.decode()
    assert "data-report-live" not in graded
    assert "data-report-pdf" in graded
    assert_no_secrets(graded, template)
