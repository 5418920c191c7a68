"""The streamed-reply kit (domains/ai/replies.py) on both row kinds it serves today, a lounge coach
message and a private coach reply: the deltas go out as the caller's event type, the finish writes
the outcome and only its columns and publishes the caller's completion event, and the stale sweep
interrupts replies whose job vanished, keeping their live text, and spares those whose run lock is
held."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.ai.models import ReplyStatus, StreamedReply
from domains.ai.providers.base import Result
from domains.ai.providers.errors import Overloaded
from domains.ai.replies import (
    Citation,
    ReplyOutcome,
    replies_sweep,
    reply_finish,
    reply_live_text,
    reply_run_once,
    reply_stream,
)
from domains.ai.services import provider_named
from domains.coach.models import CoachThread, ThreadMessage, ThreadRole
from domains.lounges.models import AuthorKind, Message
from realtime.models import StreamEvent
from realtime.redis import get_sync_redis
from tests.factories import OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory
from tests.listen import GroupListener

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Kind:
    """One row kind of the kit: how to make a streaming reply, the rows its sweep looks at, and a
    column the kit never writes (someone else may change it while the reply streams)."""

    name: str
    make: Callable[..., StreamedReply]
    replies: Callable[[], Any]
    other_column: str
    other_value: str


def _lounge_reply(**fields: Any) -> Message:
    lounge = LoungeFactory.create()
    return Message.objects.create(lounge=lounge, author_kind=AuthorKind.COACH, status=ReplyStatus.STREAMING, **fields)


def _thread_reply(**fields: Any) -> ThreadMessage:
    thread = CoachThread.objects.create(
        organisation=OrganisationFactory.create(), owner=UserFactory.create(), title="Interviews"
    )
    question = ThreadMessage.objects.create(thread=thread, role=ThreadRole.USER, body="How do I use STAR?")
    return ThreadMessage.objects.create(
        thread=thread, role=ThreadRole.COACH, parent=question, status=ReplyStatus.STREAMING, **fields
    )


KINDS = [
    Kind(
        "lounge",
        _lounge_reply,
        lambda: Message.objects.filter(author_kind=AuthorKind.COACH),
        "hidden_reason",
        "Off topic",
    ),
    Kind("thread", _thread_reply, lambda: ThreadMessage.objects.filter(role=ThreadRole.COACH), "request_id", "r-9"),
]


@pytest.fixture(params=KINDS, ids=lambda kind: kind.name)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


class ReplyFinished(TypedDict):
    type: str
    id: int
    status: str
    body: str


def _completed(reply: StreamedReply) -> ReplyFinished:
    """A caller's completion event: the kit publishes exactly what this returns."""
    return ReplyFinished(type="reply.finished", id=reply.pk, status=reply.status, body=reply.body)


def _events(reply: StreamedReply) -> list[dict[str, Any]]:
    rows = StreamEvent.objects.filter(stream_id=reply.stream).order_by("seq")
    return [{"type": row.type, **row.payload} for row in rows]


def _result(text: str, *, stop_reason: str = "stop", usage_id: int | None = None) -> Result:
    return Result(
        stop_reason=stop_reason,
        text=text,
        provider="openai",
        model="gpt-4.1-mini",
        label="gpt-4.1-mini",
        tokens_in=42,
        tokens_out=7,
        ttft_ms=5,
        total_ms=50,
        attempts=1,
        usage_id=usage_id,
    )


@contextmanager
def _written_meanwhile(model: type[StreamedReply], column: str, value: str) -> Iterator[None]:
    """Someone else's write to `column` that lands after the kit read the row and before it saves."""

    def write(sender: type[StreamedReply], instance: StreamedReply, **kwargs: Any) -> None:
        sender._default_manager.filter(pk=instance.pk).update(**{column: value})

    pre_save.connect(write, sender=model, weak=False)
    try:
        yield
    finally:
        pre_save.disconnect(write, sender=model)


# ------------------------------------------------------------------------------------ the stream
def test_deltas_go_out_as_the_callers_event_type_and_the_text_is_flushed(
    ai_settings: Any, fake_llm: Any, settings: Any, org: Any, learner: Any
) -> None:
    """The kit names no wire event: the deltas carry the caller's type, with code-point offsets; the
    live text and the flushed body are the whole text, and the row is still streaming."""
    # given a streaming reply whose stream a socket follows, and a provider scripted to answer
    settings.COACH_FLUSH_SECONDS = 0
    reply = _thread_reply()
    text = "Start with the situation, then the task."
    fake_llm.queue({"text": text})
    with GroupListener(reply.stream) as listener:
        # when the kit streams it (a still clock: the first delta goes at once, the rest at the end)
        outcome = reply_stream(
            reply,
            delta_event="interview.delta",
            clock=lambda: 0.0,
            organisation=org,
            user=learner,
            feature="coach",
            messages=[{"role": "user", "content": "How?"}],
            provider=provider_named("openai"),
            enforce_quota=False,
        )
        # then the deltas are the caller's type and add up to the text
        wire = [json.loads(listener.receive()["text"]) for _ in range(2)]
    assert [(frame["event"], frame["stream"]) for frame in wire] == [("interview.delta", reply.stream)] * 2
    frames = [frame["data"] for frame in wire]
    assert [frame["id"] for frame in frames] == [reply.pk, reply.pk]
    assert frames[1]["offset"] == len(frames[0]["text"])
    assert frames[0]["text"] + frames[1]["text"] == text
    assert (outcome.text, outcome.error, outcome.stopped) == (text, None, False)
    assert reply_live_text(reply).get() == text
    row = ThreadMessage.objects.get(pk=reply.pk)
    assert (row.body, row.status) == (text, ReplyStatus.STREAMING)


# ------------------------------------------------------------------------------------ the finish
def test_the_finish_writes_a_complete_outcome_and_publishes_the_callers_event(
    kind: Kind, django_capture_on_commit_callbacks: Any
) -> None:
    """A reply that ended well is complete, with the provider's usage, the citations and the rendered
    HTML; the caller's completion event is published once, and the live text expires after commit."""
    # given a streaming reply with live text
    reply = kind.make()
    live = reply_live_text(reply)
    live.start()
    live.append("**Situation**, task")
    citations = [
        Citation(
            n=1,
            note_id=7,
            title="STAR",
            heading="",
            source="note:7#0",
            snippet="Situation, task",
            url="/notes/7/?passage=0-15",
        )
    ]
    answer = "**Situation**, task, action."
    # when the kit finishes it
    with django_capture_on_commit_callbacks(execute=True):
        done = reply_finish(
            reply,
            ReplyOutcome(text=answer, result=_result(answer), error=None),
            citations=citations,
            completed=_completed,
        )
    # then the row holds the outcome
    row = type(reply)._default_manager.get(pk=reply.pk)
    assert (row.status, row.body, row.citations) == (ReplyStatus.COMPLETE, answer, citations)
    assert row.body_html == "<p><strong>Situation</strong>, task, action.</p>\n"
    usage = (row.provider, row.model, row.provider_label, row.tokens_in, row.tokens_out)
    assert usage == ("openai", "gpt-4.1-mini", "gpt-4.1-mini", 42, 7)
    assert (row.error_code, row.error_message) == ("", "")
    assert row.updated_at > reply.updated_at
    assert done.pk == reply.pk
    # and the caller's event went out once, and the live text lingers only briefly
    assert _events(reply) == [{"type": "reply.finished", "id": reply.pk, "status": "complete", "body": answer}]
    assert 0 < get_sync_redis().ttl(live.key) <= 60


@pytest.mark.parametrize(
    ("outcome", "status", "error"),
    [
        (
            ReplyOutcome(text="Situation", result=_result("Situation", stop_reason="cancelled"), error=None),
            "stopped",
            ("", ""),
        ),
        (
            ReplyOutcome(text="Situ", result=None, error=Overloaded("busy")),
            "interrupted",
            ("overloaded", "The AI provider is overloaded. Try again in a moment."),
        ),
    ],
    ids=["stopped", "provider-failed"],
)
def test_the_finish_marks_a_stopped_or_failed_reply_with_the_text_it_had(
    kind: Kind, outcome: ReplyOutcome, status: str, error: tuple[str, str]
) -> None:
    """Stopping keeps the text as stopped; a provider failure keeps the partial text as interrupted,
    with the error's code and the message the user sees."""
    reply = kind.make()
    reply_finish(reply, outcome, citations=[], completed=_completed)
    row = type(reply)._default_manager.get(pk=reply.pk)
    assert (row.status, row.body, (row.error_code, row.error_message)) == (status, outcome.text, error)
    assert _events(reply) == [{"type": "reply.finished", "id": reply.pk, "status": status, "body": outcome.text}]


def test_the_finish_writes_only_its_columns_so_a_change_made_meanwhile_survives(kind: Kind) -> None:
    """The finish saves the outcome's columns (and the caller's extra ones) by name: a column someone
    else changed after the row was read, a moderator's hide reason or a request id, is kept."""
    reply = kind.make()
    outcome = ReplyOutcome(text="Done.", result=_result("Done."), error=None)
    with _written_meanwhile(type(reply), kind.other_column, kind.other_value):
        reply_finish(reply, outcome, citations=[], completed=_completed)
    row = type(reply)._default_manager.get(pk=reply.pk)
    assert (row.status, row.body) == (ReplyStatus.COMPLETE, "Done.")
    assert getattr(row, kind.other_column) == kind.other_value


def test_the_finish_writes_the_callers_extra_columns_and_loads_what_its_event_reads() -> None:
    """The lounge coach adds its usage row id; the lounge its event reads comes with the locked row
    (no query of its own)."""
    reply = _lounge_reply()
    outcome = ReplyOutcome(text="Done.", result=_result("Done.", usage_id=77), error=None)

    class Named(TypedDict):
        type: str
        coach_name: str

    def completed(message: Message) -> Named:
        return Named(type="reply.finished", coach_name=message.lounge.coach_name)

    with CaptureQueriesContext(connection) as captured:
        reply_finish(reply, outcome, citations=[], completed=completed, related=("lounge",), extra={"ai_usage_id": 77})
    assert not [q for q in captured.captured_queries if 'FROM "lounges_lounge"' in q["sql"]]
    assert Message.objects.get(pk=reply.pk).ai_usage_id == 77
    assert _events(reply) == [{"type": "reply.finished", "coach_name": reply.lounge.coach_name}]


# ------------------------------------------------------------------------------------ the sweep
def test_the_sweep_interrupts_a_vanished_job_keeping_its_live_text_and_spares_the_rest(kind: Kind) -> None:
    """Of the streaming replies idle for longer than the limit, those whose run lock is free are
    marked interrupted (worker_lost) with their live text, or their flushed body when no live text is
    left, and get the caller's completion event. One whose run lock is held, a fresh one and a
    finished one are left alone."""
    # given stale replies with and without live text, one whose worker holds the run lock, a fresh
    # one and a finished one
    with_live, flushed_only, running, fresh = (kind.make(body="Situ") for _ in range(4))
    done = kind.make(body="Done.")
    type(done)._default_manager.filter(pk=done.pk).update(status=ReplyStatus.COMPLETE)
    long_ago = timezone.now() - timedelta(minutes=10)
    stale = [with_live, flushed_only, running, done]
    type(with_live)._default_manager.filter(pk__in=[r.pk for r in stale]).update(updated_at=long_ago)
    live = reply_live_text(with_live)
    live.start()
    live.append("Situation, *task*")
    assert reply_run_once(running.cancel_key)
    # when the sweep runs
    swept = replies_sweep(kind.replies(), older_than_seconds=300, completed=_completed)
    # then the two vanished replies are interrupted, keeping the text they had
    assert swept == 2
    rows = {r.pk: r for r in type(with_live)._default_manager.all()}
    lost = rows[with_live.pk]
    assert (lost.status, lost.body, lost.body_html) == (
        "interrupted",
        "Situation, *task*",
        "<p>Situation, <em>task</em></p>\n",
    )
    assert (lost.error_code, lost.error_message) == ("worker_lost", "The reply stopped unexpectedly.")
    assert lost.updated_at > long_ago
    assert (rows[flushed_only.pk].status, rows[flushed_only.pk].body) == ("interrupted", "Situ")
    # and the rest are untouched
    assert [rows[r.pk].status for r in (running, fresh, done)] == ["streaming", "streaming", "complete"]
    # and each interrupted reply's stream got the caller's event; the others' got nothing
    assert _events(with_live) == [
        {"type": "reply.finished", "id": with_live.pk, "status": "interrupted", "body": "Situation, *task*"}
    ]
    assert _events(flushed_only) == [
        {"type": "reply.finished", "id": flushed_only.pk, "status": "interrupted", "body": "Situ"}
    ]
    assert [_events(r) for r in (running, fresh, done)] == [[], [], []]
    # and a second run finds nothing more to do
    assert replies_sweep(kind.replies(), older_than_seconds=300, completed=_completed) == 0


def test_the_sweep_writes_only_its_columns_so_a_change_made_meanwhile_survives(kind: Kind) -> None:
    """The sweep saves the interruption's columns by name: a column changed after it read the row is kept."""
    reply = kind.make(body="Situ")
    type(reply)._default_manager.filter(pk=reply.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    with _written_meanwhile(type(reply), kind.other_column, kind.other_value):
        assert replies_sweep(kind.replies(), older_than_seconds=300, completed=_completed) == 1
    row = type(reply)._default_manager.get(pk=reply.pk)
    assert (row.status, row.body) == ("interrupted", "Situ")
    assert getattr(row, kind.other_column) == kind.other_value
