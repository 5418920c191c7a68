"""Interview sessions over HTTP: /api/v1/interviews/sessions and the session pages (start, check,
room, history, live view, grant). Candidate payloads never carry a key, reference or rubric band."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from domains.interviews import services
from domains.interviews.models import Answer, InterviewSession, Question, SessionState
from tests.domains.interviews.helpers import World, signed_in, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets, timed_template

API = "/api/v1/interviews/sessions"


@pytest.fixture
def world(db: None, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(services, "enqueue", lambda *args: None)  # grading is helper C's
    return world_make()


def _json(client: Client, method: str, url: str, body: Any = None) -> Any:
    return getattr(client, method)(url, json.dumps(body) if body is not None else None, content_type="application/json")


def test_the_api_starts_saves_and_completes_without_leaking(world: World) -> None:
    """Given a candidate, when they start through the API (201), start again (200, the same
    session), save an answer, replay it, read the detail and list, and complete, then every answer
    is the candidate's: no reference answer, key or rubric band anywhere."""
    template = timed_template(world)
    client = signed_in(world.candidate)
    first = _json(client, "post", API, {"template_id": template.pk})
    assert first.status_code == 201, first.content
    session_id = first.json()["session"]["id"]
    again = _json(client, "post", API, {"template_id": template.pk})
    assert again.status_code == 200
    assert again.json()["session"]["id"] == session_id
    open_question = Question.objects.get(template=template, position=2)
    body = {"question_id": open_question.pk, "revision": 2, "text": "My answer"}
    saved = _json(client, "put", f"{API}/{session_id}/answer", body)
    assert saved.status_code == 200, saved.content
    assert saved.json()["revision"] == 2
    assert saved.json()["duplicate"] is False
    replay = _json(client, "put", f"{API}/{session_id}/answer", {**body, "revision": 1, "text": "Older"})
    assert replay.json() == {**saved.json(), "duplicate": True}
    detail = client.get(f"{API}/{session_id}")
    listing = client.get(API)
    assert detail.status_code == listing.status_code == 200
    assert listing.json()["items"][0]["id"] == session_id
    done = _json(client, "post", f"{API}/{session_id}/complete")
    assert done.status_code == 200
    assert done.json()["state"] == "submitted"
    for response in (first, again, saved, detail, listing, done):
        assert_no_secrets(response.content.decode(), template)
    assert Answer.objects.get(question=open_question).text == "My answer"


def test_the_api_refuses_late_saves_and_client_times(world: World) -> None:
    """A save after the deadline answers 409 with the kept revision; a body carrying a time of the
    client's is 422 (unknown field); another person's session is 404."""
    template = timed_template(world)
    client = signed_in(world.candidate)
    session_id = _json(client, "post", API, {"template_id": template.pk}).json()["session"]["id"]
    question = Question.objects.get(template=template, position=2)
    body = {"question_id": question.pk, "revision": 1, "text": "x"}
    tampered = _json(client, "put", f"{API}/{session_id}/answer", {**body, "client_time": "2000-01-01T00:00:00Z"})
    assert tampered.status_code == 422
    past = timezone.now() - timedelta(seconds=1)
    InterviewSession.objects.filter(pk=session_id).update(started_at=past - timedelta(minutes=5), deadline=past)
    late = _json(client, "put", f"{API}/{session_id}/answer", body)
    assert late.status_code == 409
    assert late.json()["errors"][0]["type"] == "deadline_passed"
    assert InterviewSession.objects.get(pk=session_id).state == SessionState.EXPIRED
    stranger = signed_in(world.learner)
    assert stranger.get(f"{API}/{session_id}").status_code == 404
    assert _json(stranger, "put", f"{API}/{session_id}/answer", body).status_code == 404


def test_the_pages_check_start_room_history_and_watch(world: World) -> None:
    """Start practice goes to the system check first (no session yet); the check's button starts
    and opens the room; the room has the clock and no secrets; history lists it; the mentor's
    live view and grant work, while the learner gets 404 for the room and the live view."""
    template = timed_template(world)
    client = signed_in(world.candidate)
    to_check = client.post("/interviews/sessions/start/", {"template_id": template.pk})
    assert to_check.status_code == 302
    assert to_check["Location"] == f"/interviews/check/{template.pk}/"
    assert not InterviewSession.objects.exists()
    check = client.get(to_check["Location"])
    assert check.status_code == 200
    assert "The last autosaved answer counts." in check.content.decode()
    started = client.post(
        "/interviews/sessions/start/", {"template_id": template.pk, "begin": "1", "integrity_consent": "on"}
    )
    session = InterviewSession.objects.get()
    assert started["Location"] == f"/interviews/sessions/{session.pk}/"
    assert session.integrity_consent is True
    room = client.get(started["Location"])
    assert room.status_code == 200
    html = room.content.decode()
    assert session.deadline.isoformat() in html
    assert_no_secrets(html, template)
    assert "<script>" not in html  # CSP: no inline script (json_script is data, not code)
    assert client.get("/interviews/sessions/").status_code == 200
    learner = signed_in(world.learner)
    assert learner.get(started["Location"]).status_code == 404
    assert learner.get(f"/interviews/sessions/{session.pk}/watch/").status_code == 404
    mentor = signed_in(world.mentor)
    assert mentor.get(f"/interviews/sessions/{session.pk}/watch/").status_code == 200
    assert template.title in mentor.get("/interviews/sessions/").content.decode()
    granted = mentor.post(f"/interviews/sessions/{session.pk}/grant/", {"minutes": 5, "reason": "Outage"})
    assert granted.status_code == 302
    before = session.deadline
    session.refresh_from_db()
    assert session.deadline == before + timedelta(minutes=5)
    submitted = client.post(f"/interviews/sessions/{session.pk}/submit/")
    assert submitted.status_code == 302
    session.refresh_from_db()
    assert session.state == SessionState.SUBMITTED
