"""`/ws/interviews/<id>/` over WebsocketCommunicator: the clock in every snapshot and resume,
autosave acks, refusals after the deadline that say what is kept, watchers read-only with
`time.grant`, strangers 4404, and no frame carrying a key, reference answer or rubric band."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from domains.interviews import services
from domains.interviews.models import Answer, InterviewSession, Question
from tests.domains.interviews.helpers import World, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets, timed_template
from tests.helpers import communicator, receive_event, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True, name="no_grading")
def _no_grading(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Grading is helper C's (tested there): record the enqueue instead of scoring here."""
    calls: list[Any] = []
    monkeypatch.setattr(services, "enqueue", lambda *args: calls.append(args))
    return calls


@database_sync_to_async
def _setup() -> tuple[World, Any, InterviewSession, list[Question], Any]:
    world = world_make()
    template = timed_template(world, minutes=10)
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    questions = list(Question.objects.filter(template=template).order_by("position"))
    return world, template, session, questions, session_for(world.candidate)


class Recorder:
    """Every frame a communicator received, for the leak check."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm
        self.frames: list[dict[str, Any]] = []

    async def next(self, timeout: float = 5) -> dict[str, Any]:
        frame = await self.comm.receive_json_from(timeout=timeout)
        self.frames.append(frame)
        return frame

    async def until(self, frame_type: str) -> dict[str, Any]:
        while True:
            frame = await self.next()
            if frame["type"] == frame_type:
                return frame


async def _connect(session: InterviewSession, login: Any, query: str = "") -> Recorder:
    comm = communicator(f"/ws/interviews/{session.pk}/{query}", session=login)
    assert (await comm.connect())[0]
    return Recorder(comm)


async def test_the_candidate_gets_the_clock_and_autosaves_idempotently() -> None:
    """Given a running session, when the candidate connects, then the snapshot carries the server's
    deadline and current time and the first question without secrets; a save is acked with the
    stored revision and server time; a replay of it acks `duplicate` and changes nothing."""
    _world, template, session, questions, login = await _setup()
    socket = await _connect(session, login)
    snapshot = await socket.until("snapshot")
    data = snapshot["data"]
    assert data["session"]["deadline"] == session.deadline.isoformat()
    server_now = datetime.fromisoformat(data["session"]["server_now"])
    assert abs((server_now - timezone.now()).total_seconds()) < 5
    assert data["question"]["id"] == questions[0].pk
    assert snapshot["rights"] == {"role": "candidate", "may_answer": True, "may_grant": False}
    frame = {"type": "answer.save", "ref": "s1", "question_id": questions[1].pk, "revision": 1, "text": "Hello"}
    await socket.comm.send_json_to(frame)
    ack = await socket.until("ack")
    assert ack["ref"] == "s1"
    assert ack["revision"] == 1
    assert ack["duplicate"] is False
    stored = await database_sync_to_async(Answer.objects.get)(session=session, question=questions[1])
    assert ack["saved_at"] == stored.saved_at.isoformat()
    await socket.comm.send_json_to({**frame, "ref": "s2", "text": "Replayed with other text"})
    again = await socket.until("ack")
    assert again["duplicate"] is True
    assert again["revision"] == 1
    await socket.comm.send_json_to({"type": "question.open", "ref": "o", "position": 2})
    question = await socket.until("question")
    assert question["question"]["id"] == questions[1].pk
    assert question["answer"]["text"] == "Hello"
    await socket.comm.disconnect()
    await database_sync_to_async(assert_no_secrets)(socket.frames, template)


async def test_a_client_time_field_is_refused_and_changes_nothing() -> None:
    """Given a frame that tries to send its own time, then it is refused as invalid (unknown
    field): no answer is stored."""
    _world, _template, session, questions, login = await _setup()
    socket = await _connect(session, login)
    await socket.until("snapshot")
    await socket.comm.send_json_to(
        {"type": "answer.save", "question_id": questions[1].pk, "revision": 1, "text": "x", "saved_at": "2000-01-01"}
    )
    error = await socket.until("error")
    assert error["code"] == "invalid"
    assert "saved_at" in error["fields"]
    assert not await database_sync_to_async(Answer.objects.filter(session=session, revision__gt=0).exists)()
    await socket.comm.disconnect()


async def test_a_save_after_the_deadline_is_refused_with_what_is_kept() -> None:
    """Given a saved revision and a deadline that has passed, when the candidate saves again, then
    the reply is an error `deadline_passed` carrying the stored revision and text, and the
    session is expired at its deadline."""
    world, _template, session, questions, login = await _setup()
    await database_sync_to_async(services.answer_save)(
        session_id=session.pk, user=world.candidate, question_id=questions[1].pk, revision=1, text="Kept"
    )
    past = timezone.now() - timedelta(seconds=1)
    await database_sync_to_async(InterviewSession.objects.filter(pk=session.pk).update)(
        started_at=past - timedelta(minutes=10), deadline=past
    )
    socket = await _connect(session, login)
    await socket.until("snapshot")
    await socket.comm.send_json_to(
        {"type": "answer.save", "ref": "late", "question_id": questions[1].pk, "revision": 2, "text": "Late"}
    )
    error = await socket.until("error")
    assert error["code"] == "deadline_passed"
    assert error["ref"] == "late"
    assert error["stored"]["revision"] == 1
    assert error["stored"]["text"] == "Kept"
    closed = await receive_event(socket.comm, "session.closed")
    assert closed["data"]["finished_at"] == past.isoformat()
    await socket.comm.disconnect()


async def test_reconnecting_keeps_the_answer_and_the_time_left() -> None:
    """Given a saved answer, when the connection drops and the client resumes from its cursor, then
    it gets `resumed` and a `clock` frame with the same deadline; a fresh connection's snapshot has
    the answer intact."""
    _world, _template, session, questions, login = await _setup()
    socket = await _connect(session, login)
    snapshot = await socket.until("snapshot")
    await socket.comm.send_json_to(
        {"type": "answer.save", "question_id": questions[0].pk, "revision": 4, "choice_ids": ["a"]}
    )
    await socket.until("ack")
    cursor = snapshot["cursors"][snapshot["stream"]]
    await socket.comm.disconnect()
    resumed = await _connect(session, login, f"?resume={snapshot['stream']}:{cursor}")
    await resumed.until("resumed")
    clock = await resumed.until("clock")
    assert clock["deadline"] == session.deadline.isoformat()
    assert clock["state"] == "in_progress"
    await resumed.comm.disconnect()
    fresh = await _connect(session, login)
    data = (await fresh.until("snapshot"))["data"]
    assert data["answer"]["choice_ids"] == ["a"]
    assert data["answer"]["revision"] == 4
    assert data["session"]["deadline"] == session.deadline.isoformat()
    await fresh.comm.disconnect()


async def test_a_mentor_watches_read_only_and_grants_time() -> None:
    """Given the organisation's mentor on the session's socket, then their snapshot says `watcher`,
    an answer from them is refused (`not_allowed`), and `time.grant` moves the deadline, which the
    candidate's socket receives as `session.time_extended`; a learner of the organisation and a
    missing session are closed with 4404."""
    world, template, session, _questions, login = await _setup()
    candidate = await _connect(session, login)
    await candidate.until("snapshot")
    mentor_login = await database_sync_to_async(session_for)(world.mentor)
    mentor = await _connect(session, mentor_login)
    snapshot = await mentor.until("snapshot")
    assert snapshot["rights"]["role"] == "watcher"
    assert snapshot["rights"]["may_grant"] is True
    await mentor.comm.send_json_to({"type": "answer.save", "question_id": 1, "revision": 1, "text": "x"})
    assert (await mentor.until("error"))["code"] == "not_allowed"
    await mentor.comm.send_json_to({"type": "time.grant", "ref": "g", "seconds": 300, "reason": "Outage"})
    ack = await mentor.until("ack")
    assert ack["deadline"] == (session.deadline + timedelta(seconds=300)).isoformat()
    extended = await receive_event(candidate.comm, "session.time_extended")
    assert extended["data"]["deadline"] == ack["deadline"]
    await candidate.comm.send_json_to({"type": "time.grant", "seconds": 300, "reason": "Me"})
    assert (await candidate.until("error"))["code"] == "not_allowed"
    for user, path in ((world.learner, f"/ws/interviews/{session.pk}/"), (world.mentor, "/ws/interviews/999999/")):
        stranger = communicator(path, session=await database_sync_to_async(session_for)(user))
        await stranger.connect()
        assert (await stranger.receive_output())["code"] == 4404
    await mentor.comm.disconnect()
    await candidate.comm.disconnect()
    await database_sync_to_async(assert_no_secrets)(candidate.frames, template)
    assert "SECRET" not in json.dumps(mentor.frames)


async def test_submit_over_the_socket_closes_and_enqueues_grading(no_grading: list[Any]) -> None:
    """Given a running session, when the candidate sends `session.submit`, then the ack says
    `submitted`, the event `session.closed` follows, and grading is enqueued once."""
    _world, _template, session, _questions, login = await _setup()
    socket = await _connect(session, login)
    await socket.until("snapshot")
    await socket.comm.send_json_to({"type": "session.submit", "ref": "done"})
    ack = await socket.until("ack")
    assert ack["state"] == "submitted"
    assert (await receive_until(socket.comm, "event"))["event"] in {"session.closed"}
    assert no_grading == [(services.GRADE_TASK, session.pk)]
    await socket.comm.disconnect()


async def test_an_answer_is_stored_as_written_with_its_whitespace() -> None:
    """Given a running session, when the candidate saves an answer that starts with an indent and
    ends with a newline over the socket, then it is stored exactly as written (the message kit
    strips other fields' whitespace, never an answer's)."""
    _world, _template, session, questions, login = await _setup()
    socket = await _connect(session, login)
    await socket.until("snapshot")
    written = "    def f():\n        return 1\n"
    await socket.comm.send_json_to(
        {"type": "answer.save", "ref": "w", "question_id": questions[1].pk, "revision": 1, "text": written}
    )
    assert (await socket.until("ack"))["ref"] == "w"
    stored = await database_sync_to_async(Answer.objects.get)(session=session, question=questions[1])
    assert stored.text == written
    await socket.comm.disconnect()
