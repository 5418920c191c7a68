"""An interview over the wire: a real websocket client against a live daphne (tests/live.py).
Drop the connection mid-interview and reconnect: the answer and the time left are intact."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from domains.interviews import services
from domains.interviews.models import Question
from tests.domains.interviews.helpers import world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets, timed_template
from tests.live import LiveStack, recv_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def _session(live_stack: LiveStack) -> tuple[Any, Any, list[Question], dict[str, str]]:
    world = world_make()
    template = timed_template(world, minutes=10)
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    questions = list(Question.objects.filter(template=template).order_by("position"))
    return template, session, questions, live_stack.login(world.candidate)


async def test_dropping_the_connection_mid_interview_loses_nothing(live_stack: LiveStack) -> None:
    """Given a candidate who autosaved an answer over a real socket, when the connection drops and
    they reconnect with their cursor, then the server replays, sends the clock with the same
    deadline, and a fresh snapshot has the saved text; no frame carries a secret."""
    template, session, questions, cookies = await _session(live_stack)
    frames: list[dict[str, Any]] = []
    path = f"/ws/interviews/{session.pk}/"
    async with live_stack.websocket(path, cookies=cookies) as ws:
        snapshot = await recv_until(ws, "snapshot")
        frames.append(snapshot)
        assert snapshot["data"]["session"]["deadline"] == session.deadline.isoformat()
        save = {
            "type": "answer.save",
            "ref": "a",
            "question_id": questions[1].pk,
            "revision": 7,
            "text": "Mid-interview",
        }
        await ws.send(json.dumps(save))
        ack = await recv_until(ws, "ack")
        frames.append(ack)
        assert ack["revision"] == 7
        cursor = snapshot["cursors"][snapshot["stream"]]
    # The socket is gone (the tab closed, the network dropped): reconnect from the cursor.
    async with live_stack.websocket(f"{path}?resume={snapshot['stream']}:{cursor}", cookies=cookies) as ws:
        replayed = await recv_until(ws, "event")
        frames.append(replayed)
        assert replayed["event"] == "answer.saved"
        assert replayed["data"]["revision"] == 7
        clock = await recv_until(ws, "clock")
        frames.append(clock)
        assert clock["deadline"] == session.deadline.isoformat()
        await ws.send(json.dumps({"type": "question.open", "ref": "o", "position": 2}))
        question = await recv_until(ws, "question")
        frames.append(question)
        assert question["answer"]["text"] == "Mid-interview"
        assert question["answer"]["revision"] == 7
        assert question["session"]["deadline"] == session.deadline.isoformat()
    await database_sync_to_async(assert_no_secrets)(frames, template)
