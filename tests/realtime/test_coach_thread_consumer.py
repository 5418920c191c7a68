"""Private coach threads over WebsocketCommunicator: owner only, grounded answers with citations,
idempotent questions, regenerate as a sibling version, rename and delete."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from domains.accounts.models import Membership, Role
from domains.coach import services
from domains.coach.models import CoachThread, ThreadMessage
from domains.notes import services as note_services
from domains.notes.models import NoteChunk
from tests.factories import OrganisationFactory, UserFactory
from tests.helpers import communicator, receive_event, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _learner_with_thread(org: Any = None) -> tuple[Any, Any, Any]:
    org = org or OrganisationFactory.create()
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=org, role=Role.LEARNER)
    thread = services.thread_create(user=user, organisation=org, title="Interview prep")
    return user, thread, session_for(user)


async def _connect(thread: Any, session: Any) -> tuple[Any, dict]:
    comm = communicator(f"/ws/coach/{thread.pk}/", session=session)
    assert (await comm.connect())[0]
    snapshot = await comm.receive_json_from()
    assert snapshot["type"] == "snapshot"
    return comm, snapshot


async def _completed(comm: Any) -> dict:
    text = ""
    while True:
        frame = await comm.receive_json_from(timeout=10)
        if frame.get("event") == "coach.delta":
            assert frame["data"]["offset"] == len(text)
            text += frame["data"]["text"]
        elif frame.get("event") == "message.completed":
            message = frame["data"]["message"]
            assert message["body"] == text
            return message


async def test_only_the_owner_connects() -> None:
    _, thread, _ = await _learner_with_thread()
    stranger = await database_sync_to_async(UserFactory.create)()
    await database_sync_to_async(Membership.objects.create)(
        user=stranger, organisation=thread.organisation, role=Role.LEARNER
    )
    session = await database_sync_to_async(session_for)(stranger)
    for path in (f"/ws/coach/{thread.pk}/", "/ws/coach/999999/"):
        comm = communicator(path, session=session)
        await comm.connect()
        assert (await comm.receive_output())["code"] == 4404


async def test_an_answer_is_grounded_in_my_note_and_cites_it() -> None:
    user, thread, session = await _learner_with_thread()
    note = await database_sync_to_async(note_services.note_create)(
        user=user,
        organisation=thread.organisation,
        title="STAR method",
        body="Answer behavioural questions with Situation, Task, Action and Result. Keep each part short.",
    )
    assert await database_sync_to_async(NoteChunk.objects.filter(note=note).count)() >= 1
    comm, snapshot = await _connect(thread, session)
    assert snapshot["data"]["thread"] == {"id": thread.pk, "title": "Interview prep"}
    await comm.send_json_to(
        {"type": "message.post", "client_msg_id": "q1", "body": "How do I answer behavioural questions?"}
    )
    ack = await receive_until(comm, "ack")
    assert ack["duplicate"] is False
    answer = await _completed(comm)
    assert answer["id"] == ack["coach_message_id"]
    assert answer["status"] == "complete"
    assert answer["provider_label"] == "offline coach"
    assert answer["citations"][0]["note_id"] == note.pk
    assert answer["citations"][0]["url"].startswith(f"/notes/{note.pk}/?passage=")
    assert "[1]" in answer["body"]
    await comm.send_json_to({"type": "message.post", "client_msg_id": "q1", "body": "again"})
    assert (await receive_until(comm, "ack"))["duplicate"] is True
    assert await database_sync_to_async(ThreadMessage.objects.filter(thread=thread).count)() == 2
    await comm.disconnect()


async def test_another_learners_private_note_never_grounds_my_answer() -> None:
    _user, thread, session = await _learner_with_thread()
    other = await database_sync_to_async(UserFactory.create)()
    await database_sync_to_async(Membership.objects.create)(
        user=other, organisation=thread.organisation, role=Role.LEARNER
    )
    await database_sync_to_async(note_services.note_create)(
        user=other, organisation=thread.organisation, title="Secret", body="CANARY-7Q behavioural questions answer"
    )
    comm, _ = await _connect(thread, session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "q", "body": "behavioural questions answer"})
    answer = await _completed(comm)
    assert "CANARY-7Q" not in answer["body"]
    assert answer["citations"] == []
    await comm.disconnect()


async def test_regenerate_keeps_the_earlier_answer_as_a_sibling_version() -> None:
    _, thread, session = await _learner_with_thread()
    comm, _ = await _connect(thread, session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "q", "body": "Give me one tip."})
    first = await _completed(comm)
    await comm.send_json_to({"type": "coach.regenerate", "request_id": "again-1"})
    ack = await receive_until(comm, "ack")
    second = await _completed(comm)
    assert second["id"] == ack["message_id"] != first["id"]
    assert second["parent_id"] == first["parent_id"]
    assert (second["version"], second["versions"], second["current"]) == (2, 2, True)
    await comm.disconnect()
    comm, snapshot = await _connect(thread, session)
    versions = {m["id"]: (m["version"], m["current"]) for m in snapshot["data"]["messages"] if m["role"] == "coach"}
    assert versions == {first["id"]: (1, False), second["id"]: (2, True)}
    await comm.disconnect()


async def test_bad_input_gets_field_errors_and_stores_nothing() -> None:
    _, thread, session = await _learner_with_thread()
    comm, _ = await _connect(thread, session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "x", "body": "é" * 2049})
    error = await receive_until(comm, "error")
    assert (error["code"], list(error["fields"])) == ("too_long", ["body"])
    await comm.send_json_to({"type": "coach.regenerate", "request_id": "r"})
    assert (await receive_until(comm, "error"))["code"] == "invalid"
    await comm.send_json_to({"type": "thread.rename", "title": "   "})
    assert (await receive_until(comm, "error"))["fields"] == {"title": "The title cannot be empty."}
    assert not await database_sync_to_async(ThreadMessage.objects.exists)()
    await comm.disconnect()


async def test_rename_reaches_the_socket_and_delete_closes_it_4404() -> None:
    user, thread, session = await _learner_with_thread()
    comm, _ = await _connect(thread, session)
    await comm.send_json_to({"type": "thread.rename", "title": "  Salary   talk "})
    assert (await receive_until(comm, "ack"))["title"] == "Salary talk"
    assert (await receive_event(comm, "thread.renamed"))["data"] == {"title": "Salary talk"}
    await database_sync_to_async(services.thread_delete)(thread=thread, user=user)
    closing = await receive_until(comm, "force_close")
    assert (closing["reason"], closing["code"]) == ("deleted", 4404)
    assert not await database_sync_to_async(CoachThread.objects.exists)()
