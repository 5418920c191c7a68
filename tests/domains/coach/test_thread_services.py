"""The private coach thread services (create, rename, ask, regenerate, stop, delete) and the beat
sweep that marks stale replies: what each writes, what each refuses, and the exact events each
publishes on the thread's stream (`capture_events`, tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from domains.ai.replies import reply_live_text, reply_run_once
from domains.ai.services import chat_is_cancelled
from domains.coach import services
from domains.coach.models import CoachThread, ThreadMessage, ThreadMessageStatus, ThreadRole
from domains.common.errors import Refusal
from realtime.models import Stream
from tests.domains.notes.helpers import World
from tests.events import CapturedEvents
from tests.listen import GroupListener
from workers.tasks.coach import thread_streams_sweep_task

pytestmark = pytest.mark.django_db


def _events(events: CapturedEvents, thread: CoachThread) -> list[dict[str, Any]]:
    """What was published on the thread's stream, in order (type and payload), all of it durable."""
    assert events.select(thread.stream) == events.select(thread.stream, durable=True)
    return events.events(thread.stream)


def _wire(message: ThreadMessage, **changes: Any) -> dict[str, Any]:
    """A thread message as its events carry it (docs/realtime-protocol.md, "ThreadMessage"), built
    from its row: version 1 of 1, without citations or error unless `changes` says."""
    wire = {
        "id": message.pk,
        "role": message.role,
        "body": message.body,
        "html": message.body_html,
        "status": message.status,
        "client_msg_id": message.client_msg_id,
        "parent_id": message.parent_id,
        "version": 1,
        "versions": 1,
        "current": True,
        "provider_label": message.provider_label,
        "citations": [],
        "error": None,
        "created_at": message.created_at.isoformat(),
    }
    return {**wire, **changes}


def _thread(world: World, title: str = "Interviews") -> CoachThread:
    return services.thread_create(user=world.learner, organisation=world.org, title=title)


def _ask(world: World, thread: CoachThread, body: str = "How do I answer with STAR?", msg_id: str = "m1") -> Any:
    return services.thread_message_post(thread=thread, user=world.learner, body=body, client_msg_id=msg_id)


def _finish(reply: ThreadMessage) -> None:
    reply.status, reply.body = ThreadMessageStatus.COMPLETE, "Situation, task, action, result."
    reply.save(update_fields=["status", "body", "updated_at"])


# ------------------------------------------------------------------------------------ create, rename
def test_a_member_creates_a_thread_with_its_title_tidied_or_the_default(
    world: World, capture_events: CapturedEvents
) -> None:
    """A member's new thread is theirs, titled as given with spaces collapsed, or "New conversation"."""
    # when a member creates two threads, then each is theirs with the tidied or default title
    named = services.thread_create(user=world.learner, organisation=world.org, title="  Pay   talks ")
    untitled = services.thread_create(user=world.learner, organisation=world.org)
    assert (named.owner, named.organisation, named.title) == (world.learner, world.org, "Pay talks")
    assert untitled.title == services.THREAD_TITLE_DEFAULT
    assert capture_events.events() == []


def test_creating_a_thread_is_refused_to_a_non_member_and_for_a_long_title(world: World) -> None:
    """Someone outside the organisation may not talk to its coach; a title has at most 200 characters."""
    # when a member of another organisation tries, then it is refused as not allowed
    with pytest.raises(Refusal) as outsider:
        services.thread_create(user=world.foreigner, organisation=world.org, title="Hi")
    assert (outsider.value.code, outsider.value.field) == ("not_allowed", None)
    # when the title is too long, then it is refused on that field
    with pytest.raises(Refusal) as long_title:
        services.thread_create(user=world.learner, organisation=world.org, title="x" * 201)
    assert (long_title.value.code, long_title.value.field) == ("invalid", "title")
    assert not CoachThread.objects.exists()


def test_renaming_a_thread_saves_and_publishes_the_new_title(world: World, capture_events: CapturedEvents) -> None:
    """The owner renames a thread; its sockets hear `thread.renamed` with the new title."""
    # given a thread
    thread = _thread(world)
    # when its owner renames it
    renamed = services.thread_rename(thread=thread, user=world.learner, title=" Salary  talk ")
    # then the title is stored tidied and exactly one event is published
    assert CoachThread.objects.get(pk=thread.pk).title == renamed.title == "Salary talk"
    assert _events(capture_events, thread) == [{"type": "thread.renamed", "title": "Salary talk"}]


def test_renaming_is_refused_for_an_empty_title_and_to_anyone_but_the_owner(
    world: World, capture_events: CapturedEvents
) -> None:
    """An empty title is invalid; another person's thread answers like a missing one; nothing is published."""
    # given a thread
    thread = _thread(world)
    # when it is renamed to spaces, or by someone else
    with pytest.raises(Refusal) as empty:
        services.thread_rename(thread=thread, user=world.learner, title="   ")
    with pytest.raises(Refusal) as stranger:
        services.thread_rename(thread=thread, user=world.moderator, title="Mine")
    # then both are refused, the title is unchanged and nothing was published
    assert (empty.value.code, empty.value.field) == ("invalid", "title")
    assert stranger.value.code == "not_found"
    assert CoachThread.objects.get(pk=thread.pk).title == "Interviews"
    assert capture_events.events() == []


# ------------------------------------------------------------------------------------ ask
def test_asking_stores_the_question_starts_a_reply_and_publishes_both(
    world: World, django_capture_on_commit_callbacks: Any, capture_events: CapturedEvents
) -> None:
    """A question is stored with its rendered HTML; a streaming coach reply answers it; both are
    published as `message.created`, and the reply's job is enqueued after commit."""
    # given a thread
    thread = _thread(world)
    # when the owner asks
    with django_capture_on_commit_callbacks() as callbacks:
        question, reply, created = _ask(world, thread, body="  How do I answer with **STAR**?  ")
    # then the question and a streaming reply exist
    assert created is True
    assert reply is not None
    assert (question.role, question.body, question.client_msg_id) == (
        ThreadRole.USER,
        "How do I answer with **STAR**?",
        "m1",
    )
    assert "<strong>STAR</strong>" in question.body_html
    assert (reply.role, reply.parent_id, reply.status, reply.request_id) == (
        ThreadRole.COACH,
        question.pk,
        ThreadMessageStatus.STREAMING,
        "m1",
    )
    # and exactly these events were published, in this order
    assert _events(capture_events, thread) == [
        {"type": "message.created", "message": _wire(question, role="user", status="complete")},
        {
            "type": "message.created",
            "message": _wire(reply, role="coach", body="", html="", status="streaming", parent_id=question.pk),
        },
    ]
    assert len(callbacks) >= 2  # the events' sends and the reply task wait for the commit


def test_asking_again_with_the_same_client_msg_id_returns_the_first_pair(
    world: World, capture_events: CapturedEvents
) -> None:
    """A repeated send (a retry after a lost ack) changes nothing and publishes nothing more."""
    # given a question already asked
    thread = _thread(world)
    question, reply, _ = _ask(world, thread)
    before = capture_events.events()
    # when the same message is sent again
    again, again_reply, created = _ask(world, thread, body="Something else", msg_id="m1")
    # then the first pair comes back and nothing new is stored or published
    assert (again.pk, again_reply.pk if again_reply else None, created) == (question.pk, reply.pk, False)
    assert ThreadMessage.objects.filter(thread=thread).count() == 2
    assert capture_events.events() == before


@pytest.mark.parametrize(
    ("body", "msg_id", "code", "field"),
    [
        ("   ", "m2", "invalid", "body"),
        ("é" * 2049, "m2", "too_long", "body"),  # 4,098 bytes
        ("Hello", "", "invalid", "client_msg_id"),
        ("Hello", "x" * 65, "invalid", "client_msg_id"),
    ],
)
def test_bad_questions_are_refused_on_their_field(
    world: World, body: str, msg_id: str, code: str, field: str, capture_events: CapturedEvents
) -> None:
    """An empty or oversize question, or a missing or oversize client_msg_id, is refused on that field."""
    # given a thread
    thread = _thread(world)
    # when a bad question is sent, then it is refused and nothing is written or published
    with pytest.raises(Refusal) as refused:
        _ask(world, thread, body=body, msg_id=msg_id)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert not ThreadMessage.objects.filter(thread=thread).exists()
    assert capture_events.events() == []


def test_a_second_question_waits_for_the_streaming_reply(world: World) -> None:
    """While the coach is answering, a new question is refused as busy; once it finished, accepted."""
    # given a question whose reply is still streaming
    thread = _thread(world)
    _, reply, _ = _ask(world, thread)
    # when another question is sent, then it is refused as busy
    with pytest.raises(Refusal) as busy:
        _ask(world, thread, body="And then?", msg_id="m2")
    assert busy.value.code == "busy"
    # when the reply has finished, then the question is accepted
    _finish(reply)
    assert _ask(world, thread, body="And then?", msg_id="m2")[2] is True


def test_another_person_cannot_ask_in_a_thread(world: World, capture_events: CapturedEvents) -> None:
    """Someone else's thread answers like a missing one."""
    thread = _thread(world)
    with pytest.raises(Refusal) as refused:
        services.thread_message_post(thread=thread, user=world.moderator, body="Hi", client_msg_id="x")
    assert refused.value.code == "not_found"
    assert capture_events.events() == []


# ------------------------------------------------------------------------------------ regenerate
def test_regenerating_answers_the_last_question_again_as_a_new_version(
    world: World, capture_events: CapturedEvents
) -> None:
    """A regenerated answer is a sibling of the first (version 2 of 2); the first stays. Idempotent
    by request_id: a repeat returns the same reply and publishes nothing more."""
    # given an answered question
    thread = _thread(world)
    question, first, _ = _ask(world, thread)
    _finish(first)
    capture_events.clear()
    # when the owner regenerates
    reply, created = services.thread_regenerate(thread=thread, user=world.learner, request_id="r1")
    # then a second streaming reply answers the same question, and it alone is published
    assert created is True
    assert (reply.parent_id, reply.status, reply.request_id) == (question.pk, ThreadMessageStatus.STREAMING, "r1")
    assert _events(capture_events, thread) == [
        {"type": "message.created", "message": _wire(reply, status="streaming", version=2, versions=2, current=True)}
    ]
    # when the same request is repeated, then nothing changes
    again, created_again = services.thread_regenerate(thread=thread, user=world.learner, request_id="r1")
    assert (again.pk, created_again) == (reply.pk, False)
    assert len(capture_events) == 1


def test_regenerating_is_refused_without_a_question_while_streaming_and_without_a_request_id(world: World) -> None:
    """Nothing to answer is invalid; a streaming reply makes it busy; the request_id is required."""
    thread = _thread(world)
    with pytest.raises(Refusal) as nothing:
        services.thread_regenerate(thread=thread, user=world.learner, request_id="r1")
    assert nothing.value.code == "invalid"
    _ask(world, thread)
    with pytest.raises(Refusal) as busy:
        services.thread_regenerate(thread=thread, user=world.learner, request_id="r2")
    assert busy.value.code == "busy"
    with pytest.raises(Refusal) as no_id:
        services.thread_regenerate(thread=thread, user=world.learner, request_id="")
    assert (no_id.value.code, no_id.value.field) == ("invalid", "request_id")
    assert ThreadMessage.objects.filter(thread=thread, role=ThreadRole.COACH).count() == 1


# ------------------------------------------------------------------------------------ stop, delete
def test_stopping_a_streaming_reply_raises_its_cancel_flag_after_commit(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """Stop sets the reply's cancel flag once the transaction commits; the worker sees it on its next chunk."""
    # given a streaming reply
    thread = _thread(world)
    _, reply, _ = _ask(world, thread)
    # when its owner stops it
    with django_capture_on_commit_callbacks(execute=True):
        services.thread_reply_stop(reply=reply, user=world.learner)
        # then nothing is flagged before the commit
        assert not chat_is_cancelled(cancel_key=reply.cancel_key)
    assert chat_is_cancelled(cancel_key=reply.cancel_key)


def test_stopping_is_refused_to_anyone_but_the_owner_and_for_a_question(world: World) -> None:
    """Another person's reply, and a question (not a reply), answer like a missing reply."""
    thread = _thread(world)
    question, reply, _ = _ask(world, thread)
    for message, user in ((reply, world.moderator), (question, world.learner)):
        with pytest.raises(Refusal) as refused:
            services.thread_reply_stop(reply=message, user=user)
        assert refused.value.code == "not_found"
    assert not chat_is_cancelled(cancel_key=reply.cancel_key)


def test_deleting_a_thread_removes_it_and_its_stream_cancels_its_reply_and_closes_its_sockets(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """Deleting removes the thread, its messages and its stream history; after commit the streaming
    reply is cancelled and the thread's sockets are told to close with 4404."""
    # given a thread with a streaming reply, and a socket listening on its stream
    thread = _thread(world)
    _, reply, _ = _ask(world, thread)
    stream = thread.stream
    with GroupListener(stream) as listener:
        # when the owner deletes it
        with django_capture_on_commit_callbacks(execute=True):
            services.thread_delete(thread=thread, user=world.learner)
        # then the rows are gone, the reply is cancelled and the socket hears force_close
        assert not CoachThread.objects.filter(pk=thread.pk).exists()
        assert not ThreadMessage.objects.filter(thread_id=thread.pk).exists()
        assert not Stream.objects.filter(key=stream).exists()
        assert chat_is_cancelled(cancel_key=reply.cancel_key)
        control = listener.receive()
    assert {key: control[key] for key in ("stream", "action", "reason", "code")} == {
        "stream": stream,
        "action": "force_close",
        "reason": "deleted",
        "code": 4404,
    }


def test_deleting_is_refused_to_anyone_but_the_owner(world: World) -> None:
    """Another person's thread answers like a missing one and stays."""
    thread = _thread(world)
    with pytest.raises(Refusal) as refused:
        services.thread_delete(thread=thread, user=world.moderator)
    assert refused.value.code == "not_found"
    assert CoachThread.objects.filter(pk=thread.pk).exists()


# ------------------------------------------------------------------------------------ the sweep
def test_the_sweep_marks_only_stale_replies_without_a_running_job_as_interrupted(
    world: World, settings: Any, capture_events: CapturedEvents
) -> None:
    """The beat sweep marks a reply streaming for longer than COACH_STALE_SECONDS, whose job holds no
    run lock, as interrupted with the text it had, and publishes `message.completed`. A fresh reply,
    and a stale one whose worker still runs, are left alone."""
    # given a short stale interval and three streaming replies in three threads
    settings.COACH_STALE_SECONDS = 60
    threads = [_thread(world, title=title) for title in ("stale", "fresh", "running")]
    replies = [_ask(world, thread)[1] for thread in threads]
    stale, fresh, running = replies
    # the stale and running replies last changed ten minutes ago (update() leaves updated_at as set)
    long_ago = timezone.now() - timedelta(minutes=10)
    ThreadMessage.objects.filter(pk__in=[stale.pk, running.pk]).update(updated_at=long_ago)
    live = reply_live_text(stale)
    live.start()
    live.append("Situation, task")
    assert reply_run_once(running.cancel_key)  # its worker is alive and holds the run lock
    capture_events.clear()
    # when the beat task runs
    swept = thread_streams_sweep_task()
    # then only the stale reply is interrupted, keeping its live text
    assert swept == 1
    stale.refresh_from_db()
    assert (stale.status, stale.body, stale.error_code) == ("interrupted", "Situation, task", "worker_lost")
    assert ThreadMessage.objects.get(pk=fresh.pk).status == ThreadMessageStatus.STREAMING
    assert ThreadMessage.objects.get(pk=running.pk).status == ThreadMessageStatus.STREAMING
    # and exactly one event was published, on the stale reply's thread
    interrupted = _wire(
        stale,
        body="Situation, task",
        status="interrupted",
        error={"code": "worker_lost", "message": stale.error_message},
    )
    assert [(p.stream, p.durable) for p in capture_events] == [(threads[0].stream, True)]
    assert capture_events.events() == [{"type": "message.completed", "message": interrupted}]
    assert stale.body_html.startswith("<p>Situation, task")
    # when it runs again, then there is nothing left to sweep
    assert thread_streams_sweep_task() == 0
