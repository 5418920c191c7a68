"""What a mentor watching `/ws/interviews/<id>/` receives of the AI interviewer: the follow-up as it
streams (`followup.started`, ephemeral `followup.delta` pieces, the durable `followup.done`), a
`followup.saved` per saved response (no text: the page then reloads `…/watch/followups/`, which
has it), and `followup.text` on request. Over WebsocketCommunicator; the offline interviewer's job
runs on commit (Celery eager in tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from domains.interviews import followups, services
from domains.interviews.models import InterviewSession, InterviewTemplate, Question
from tests.domains.interviews.helpers import World, signed_in, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets
from tests.domains.interviews.test_followups import answered_session, followup_template
from tests.helpers import communicator, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _offline(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.AI_DEFAULT_PROVIDER = "offline"
    monkeypatch.setattr(services, "enqueue", lambda *args: None)  # grading: not this file's


@database_sync_to_async
def _setup() -> tuple[World, InterviewTemplate, InterviewSession, Question]:
    world = world_make()
    template = followup_template(world, minutes=10)
    session, question = answered_session(world, template)
    return world, template, session, question


async def _frames_until(comm: Any, frames: list[dict[str, Any]], event: str) -> dict[str, Any]:
    while True:
        frame = await comm.receive_json_from(timeout=10)
        frames.append(frame)
        if frame.get("event") == event:
            return frame


async def test_the_mentor_receives_the_followup_as_it_streams_and_each_saved_response() -> None:
    """Given the organisation's mentor on the session's socket, when the candidate asks for a
    follow-up and then saves a response, then the mentor receives `followup.started` (streaming,
    empty), deltas whose text is the `followup.done` body, and `followup.saved` with the
    response's revision; `followup.text` answers the whole question; the watch JSON then carries
    the response's text. No frame carries a key, reference answer or band."""
    world, template, session, question = await _setup()
    mentor_login = await database_sync_to_async(session_for)(world.mentor)
    comm = communicator(f"/ws/interviews/{session.pk}/", session=mentor_login)
    assert (await comm.connect())[0]
    frames: list[dict[str, Any]] = []
    snapshot = await comm.receive_json_from(timeout=10)
    frames.append(snapshot)
    assert snapshot["type"] == "snapshot"
    assert snapshot["rights"]["role"] == "watcher"

    followup, _ = await database_sync_to_async(followups.followup_request)(
        session_id=session.pk, user=world.candidate, question_id=question.pk
    )
    started = await _frames_until(comm, frames, "followup.started")
    assert started["data"]["followup"]["id"] == followup.pk
    assert (started["data"]["followup"]["status"], started["data"]["followup"]["body"]) == ("streaming", "")
    done = await _frames_until(comm, frames, "followup.done")
    text = ""
    for frame in frames:
        if frame.get("event") == "followup.delta":
            assert frame["data"]["id"] == followup.pk
            assert frame["data"]["offset"] == len(text)
            text += frame["data"]["text"]
    body = done["data"]["followup"]["body"]
    assert text == body
    assert body.startswith("(Offline interviewer, no model")
    assert done["data"]["followup"]["status"] == "complete"

    await database_sync_to_async(followups.followup_save)(
        session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=2, text="I would version keys."
    )
    saved = await _frames_until(comm, frames, "followup.saved")
    assert saved["data"]["followup_id"] == followup.pk
    assert saved["data"]["question_id"] == question.pk
    assert saved["data"]["revision"] == 2
    assert "I would version keys." not in json.dumps(saved)  # the event has no text: the page reloads

    await comm.send_json_to({"type": "followup.text", "ref": "t", "followup_id": followup.pk})
    while True:
        reply = await comm.receive_json_from(timeout=10)
        frames.append(reply)
        if reply["type"] == "followup.text":
            break
    assert (reply["id"], reply["text"], reply["status"]) == (followup.pk, body, "complete")
    await comm.disconnect()

    reloaded = await database_sync_to_async(
        lambda: signed_in(world.mentor).get(f"/interviews/sessions/{session.pk}/watch/followups/").json()
    )()
    [item] = reloaded["followups"]
    assert (item["body"], item["response"]["text"], item["response"]["revision"]) == (
        body,
        "I would version keys.",
        2,
    )
    await database_sync_to_async(assert_no_secrets)(frames, template)
