"""`/ws/interviews/<id>/` for the AI interviewer and the live evaluation, over WebsocketCommunicator:
`followup.request` streams `followup.delta` then a durable `followup.done` (replayed on resume),
a snapshot mid-stream carries the text so far, `followup.save` autosaves the response and is
refused after the deadline with what is kept, watchers cannot ask, and after submit the grading
arrives live (`answer.scored`, `session.graded`) and in the snapshot. No frame carries a key, a
reference answer or a rubric band."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from domains.ai.models import ReplyStatus
from domains.ai.replies import reply_live_text
from domains.interviews import services
from domains.interviews.models import FollowUp, InterviewSession, InterviewTemplate, Question
from tests.domains.interviews.helpers import World, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets
from tests.domains.interviews.test_followups import ANSWER, followup_template
from tests.helpers import communicator, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _offline(settings: Any) -> None:
    settings.AI_DEFAULT_PROVIDER = "offline"


@database_sync_to_async
def _setup(*, answered: bool = True) -> tuple[World, InterviewTemplate, InterviewSession, list[Question], Any]:
    world = world_make()
    template = followup_template(world, minutes=10)
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    questions = list(Question.objects.filter(template=template).order_by("position"))
    if answered:
        services.answer_save(
            session_id=session.pk, user=world.candidate, question_id=questions[1].pk, revision=1, text=ANSWER
        )
        services.session_navigate(session_id=session.pk, user=world.candidate, position=2)
    return world, template, session, questions, session_for(world.candidate)


class Recorder:
    """Every frame a communicator received, for the leak check."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.frames: list[dict[str, Any]] = []

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        frame = await self.comm.receive_json_from(timeout=timeout)
        self.frames.append(frame)
        return frame

    async def until(self, frame_type: str, event: str | None = None) -> dict[str, Any]:
        while True:
            frame = await self.next()
            if frame["type"] == frame_type and (event is None or frame.get("event") == event):
                return frame


async def _connect(session: InterviewSession, login: Any, query: str = "") -> Recorder:
    comm = communicator(f"/ws/interviews/{session.pk}/{query}", session=login)
    assert (await comm.connect())[0]
    return Recorder(comm)


async def test_a_followup_streams_to_the_room_and_its_completion_is_replayed_on_resume() -> None:
    """Given a saved open answer, when the candidate sends `followup.request`, then the ack names
    the follow-up, `followup.started` then `followup.delta` pieces arrive whose text is the final
    question of `followup.done` (offline, naming the question's topic); a second request acks
    `duplicate`; a connection resumed from before replays `followup.started` and `followup.done`;
    the response autosaves by revision. No frame leaks a secret."""
    _world, template, session, questions, login = await _setup()
    socket = await _connect(session, login)
    snapshot = await socket.until("snapshot")
    assert snapshot["data"]["session"]["follow_ups"] is True
    assert snapshot["data"]["followup"] is None
    stream, cursor = snapshot["stream"], snapshot["cursors"][snapshot["stream"]]

    await socket.comm.send_json_to({"type": "followup.request", "ref": "ask", "question_id": questions[1].pk})
    text, done, ack = "", None, None
    while done is None or ack is None:
        frame = await socket.next()
        if frame["type"] == "ack" and frame.get("ref") == "ask":
            ack = frame
        elif frame.get("event") == "followup.delta":
            assert frame["data"]["offset"] == len(text)
            text += frame["data"]["text"]
            assert "seq" not in frame  # ephemeral
        elif frame.get("event") == "followup.done":
            done = frame
    assert ack["duplicate"] is False
    followup = done["data"]["followup"]
    assert ack["followup_id"] == followup["id"]
    assert followup["status"] == "complete"
    assert followup["body"] == text
    assert "caching" in text
    assert followup["offline"] is True
    assert "seq" in done

    await socket.comm.send_json_to({"type": "followup.request", "ref": "again", "question_id": questions[1].pk})
    again = await socket.until("ack")
    assert (again["followup_id"], again["duplicate"]) == (followup["id"], True)

    save = {"type": "followup.save", "ref": "r1", "followup_id": followup["id"], "revision": 1, "text": "It waits."}
    await socket.comm.send_json_to(save)
    saved = await socket.until("ack")
    assert (saved["revision"], saved["duplicate"]) == (1, False)
    await socket.comm.send_json_to({**save, "ref": "r2", "text": "Replayed"})
    assert (await socket.until("ack"))["duplicate"] is True
    await socket.comm.disconnect()

    resumed = await _connect(session, login, f"?resume={stream}:{cursor}")
    events = []
    while True:
        frame = await resumed.next()
        if frame["type"] == "resumed":
            break
        if frame["type"] == "event":
            events.append(frame["event"])
    assert "followup.started" in events
    assert "followup.done" in events
    assert "followup.saved" in events
    await resumed.comm.disconnect()
    fresh = await _connect(session, login)
    data = (await fresh.until("snapshot"))["data"]
    assert data["followup"]["body"] == text
    assert data["followup"]["response"] == {
        "text": "It waits.",
        "revision": 1,
        "saved_at": saved["saved_at"],
    }
    await fresh.comm.disconnect()
    await database_sync_to_async(assert_no_secrets)(socket.frames + resumed.frames + fresh.frames, template)


@database_sync_to_async
def _streaming_followup(session: InterviewSession, question: Question, text: str) -> FollowUp:
    """A follow-up whose job is mid-stream: the row says streaming, Redis has the text so far."""
    answer = session.answers.get(question=question)
    followup = FollowUp.objects.create(
        session=session, answer=answer, answer_revision=1, status=ReplyStatus.STREAMING, provider_label="model"
    )
    live = reply_live_text(followup)
    live.start()
    live.append(text)
    return followup


async def test_a_reload_mid_stream_shows_the_text_so_far() -> None:
    """Given a follow-up mid-stream, then a new connection's snapshot carries its text so far, a
    resumed connection gets a `followup.text` frame with it, and `followup.text` answers it on request."""
    _world, _template, session, questions, login = await _setup()
    followup = await _streaming_followup(session, questions[1], "What would yo")

    socket = await _connect(session, login)
    snapshot = await socket.until("snapshot")
    assert snapshot["data"]["followup"]["status"] == "streaming"
    assert snapshot["data"]["followup"]["body"] == "What would yo"
    stream, cursor = snapshot["stream"], snapshot["cursors"][snapshot["stream"]]
    await socket.comm.send_json_to({"type": "followup.text", "ref": "t", "followup_id": followup.pk})
    frame = await socket.until("followup.text")
    assert frame == {
        "type": "followup.text",
        "id": followup.pk,
        "offset": 0,
        "text": "What would yo",
        "status": "streaming",
        "ref": "t",
    }
    await socket.comm.disconnect()

    resumed = await _connect(session, login, f"?resume={stream}:{cursor}")
    await resumed.until("clock")
    text = await resumed.until("followup.text")
    assert (text["id"], text["text"]) == (followup.pk, "What would yo")
    await resumed.comm.disconnect()


async def test_a_watcher_cannot_ask_or_answer_and_a_late_response_is_refused() -> None:
    """A mentor watching the session is refused `not_allowed` for `followup.request` and
    `followup.save`; the candidate's response after the deadline is refused `deadline_passed` and
    the error carries the kept response."""
    world, _template, session, questions, login = await _setup()
    followup = await _streaming_followup(session, questions[1], "Why?")
    mentor = await _connect(session, await database_sync_to_async(session_for)(world.mentor))
    await mentor.until("snapshot")
    await mentor.comm.send_json_to({"type": "followup.request", "question_id": questions[1].pk})
    assert (await mentor.until("error"))["code"] == "not_allowed"
    await mentor.comm.send_json_to({"type": "followup.save", "followup_id": followup.pk, "revision": 1, "text": "x"})
    assert (await mentor.until("error"))["code"] == "not_allowed"
    await mentor.comm.disconnect()

    candidate = await _connect(session, login)
    await candidate.until("snapshot")
    await candidate.comm.send_json_to(
        {"type": "followup.save", "ref": "f1", "followup_id": followup.pk, "revision": 1, "text": "Kept"}
    )
    await candidate.until("ack")
    past = timezone.now() - timedelta(seconds=1)
    await database_sync_to_async(InterviewSession.objects.filter(pk=session.pk).update)(
        started_at=past - timedelta(minutes=10), deadline=past
    )
    await candidate.comm.send_json_to(
        {"type": "followup.save", "ref": "late", "followup_id": followup.pk, "revision": 2, "text": "Late"}
    )
    error = await candidate.until("error")
    assert (error["code"], error["ref"]) == ("deadline_passed", "late")
    assert error["stored"]["revision"] == 1
    assert error["stored"]["text"] == "Kept"
    await candidate.comm.disconnect()
    stored = await database_sync_to_async(FollowUp.objects.get)(pk=followup.pk)
    assert (stored.response_revision, stored.response_text) == (1, "Kept")


async def test_the_evaluation_streams_to_the_candidate_after_submit() -> None:
    """Given a session with answers, when the candidate submits over the socket, then grading (the
    offline evaluator, run on commit) arrives live: one `answer.scored` per question with its score
    and band, then `session.graded` with the report; a new connection's snapshot has the grading
    done with the report. No frame carries a key, reference answer or band descriptor."""
    _world, template, session, _questions, login = await _setup()
    socket = await _connect(session, login)
    await socket.until("snapshot")
    await socket.comm.send_json_to({"type": "session.submit", "ref": "done"})
    scored: list[dict[str, Any]] = []
    graded = None
    while graded is None:
        frame = await socket.next()
        if frame.get("event") == "answer.scored":
            scored.append(frame["data"]["answer"])
        elif frame.get("event") == "session.graded":
            graded = frame["data"]["report"]
    assert sorted(answer["position"] for answer in scored) == [1, 2, 3]
    assert all(0 <= answer["score"] <= 100 and answer["band"] for answer in scored)
    assert graded["offline"] is True
    await socket.comm.disconnect()

    fresh = await _connect(session, login)
    grading = (await fresh.until("snapshot"))["data"]["grading"]
    assert (grading["total"], grading["scored"]) == (3, 3)
    assert grading["report"] == graded
    assert grading["report_url"] == f"/interviews/sessions/{session.pk}/report/"
    await fresh.comm.disconnect()
    frames = socket.frames + fresh.frames
    await database_sync_to_async(assert_no_secrets)(frames, template)
    assert "SECRET" not in json.dumps(frames)
