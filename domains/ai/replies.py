"""The streamed-reply kit (ARCHITECTURE.md §4.4): every streamed AI reply (the lounge coach, the
private coach, and later the interviewer, evaluations and the profiler's persona) is a
`StreamedReply` row run by the same three steps.

- `reply_stream` runs `chat_stream`, and for every delta: sends it (coalesced) as an ephemeral
  event of the caller's delta type, appending each coalesced delta to the live text in Redis as it
  goes out, and flushes the text to PostgreSQL every `COACH_FLUSH_SECONDS`. It never raises a
  provider error: the outcome says how the call ended.
- `reply_finish` writes the outcome onto the locked row and publishes the caller's completion event.
- `replies_sweep` marks replies whose job vanished (a dead worker) as interrupted.

A caller keeps only what its reply kind adds: the context and grounding, the provider options, its
event types and payloads, and its extra columns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypedDict, TypeVar

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from domains.ai.models import ReplyStatus, StreamedReply
from domains.ai.providers.base import Delta, Result
from domains.ai.providers.errors import AIError
from domains.ai.services import chat_stream
from domains.common.markdown import render_markdown
from realtime.livetext import DeltaCoalescer, LiveText
from realtime.publish import Event, publish_on_commit
from realtime.redis import get_sync_redis

# The wire shapes every streamed reply carries, whichever domain's payload holds them.
# `ReplyStatusName` is the values of `ReplyStatus` (checked by the domains' event tests).
ReplyStatusName = Literal["streaming", "complete", "stopped", "interrupted"]


class ErrorPayload(TypedDict):
    """How a reply failed, for people: `code` (e.g. `overloaded`) and a sentence."""

    code: str
    message: str


class Citation(TypedDict):
    """A note passage that grounded a reply: [n] is the n-th passage offered to the model
    (built by `domains.notes.retrieval.citations_for`)."""

    n: int
    note_id: int | None
    title: str
    heading: str
    source: str
    snippet: str
    url: str


log = structlog.get_logger(__name__)

R = TypeVar("R", bound=StreamedReply)

RUN_LOCK_SECONDS = 900
ERROR_TEXT = {
    "Overloaded": "The AI provider is overloaded. Try again in a moment.",
    "RateLimited": "The AI provider is rate limiting us. Try again shortly.",
    "SpendCapped": "The organisation's AI spending cap is reached.",
    "ContextTooLong": "The conversation is too long for the model.",
    "ProviderDown": "The AI provider is not answering.",
    "StreamBroken": "The reply was cut off.",
}


@dataclass
class ReplyOutcome:
    text: str
    result: Result | None
    error: AIError | None

    @property
    def stopped(self) -> bool:
        return self.result is not None and self.result.stop_reason == "cancelled"

    @property
    def error_code(self) -> str:
        if self.error is None:
            return ""
        return getattr(self.error, "code", "") or type(self.error).__name__.lower()

    @property
    def error_message(self) -> str:
        if self.error is None:
            return ""
        return ERROR_TEXT.get(type(self.error).__name__, "The coach could not answer.")


def reply_run_once(key: str) -> bool:
    """Take the run lock of one reply: True once, then False (a redelivered task must not call the
    provider again). The lock outlives a dead worker by at most RUN_LOCK_SECONDS."""
    return bool(get_sync_redis().set(f"cw:reply:run:{key}", "1", nx=True, ex=RUN_LOCK_SECONDS))


def reply_is_running(key: str) -> bool:
    return bool(get_sync_redis().exists(f"cw:reply:run:{key}"))


def reply_live_text(reply: StreamedReply) -> LiveText:
    """The reply's text so far in Redis, keyed by its job."""
    return LiveText(reply.cancel_key)


def reply_stream(
    reply: StreamedReply,
    *,
    delta_event: str,
    clock: Callable[[], float] = time.monotonic,
    **chat: Any,
) -> ReplyOutcome:
    """Stream one reply (see module docstring): deltas go out on `reply.stream` as `delta_event`
    events. `chat` are `chat_stream`'s keyword arguments; the cancel key is the reply's."""
    stream, live = reply.stream, reply_live_text(reply)
    live.start()
    deltas = DeltaCoalescer(
        stream,
        reply.pk,
        interval=settings.REALTIME_COALESCE_MS / 1000,
        clock=clock,
        event_type=delta_event,
        live=live,
    )
    rows = type(reply)._default_manager.filter(pk=reply.pk)
    flush_every = settings.COACH_FLUSH_SECONDS
    last_flush = clock()
    parts: list[str] = []
    result: Result | None = None
    error: AIError | None = None
    items: Iterable[Any] = chat_stream(cancel_key=reply.cancel_key, **chat)
    try:
        for item in items:
            if isinstance(item, Delta) and item.text:
                parts.append(item.text)
                deltas.add(item.text)
                if clock() - last_flush >= flush_every:
                    rows.update(body="".join(parts), updated_at=timezone.now())
                    last_flush = clock()
            elif isinstance(item, Result):
                result = item
    except AIError as failure:
        error = failure
        log.warning("reply.provider_failed", stream=stream, message_id=reply.pk, error=type(failure).__name__)
    finally:
        deltas.flush()
    text = result.text if result is not None and result.text else "".join(parts)
    return ReplyOutcome(text=text, result=result, error=error)


def reply_outcome_apply(reply: StreamedReply, outcome: ReplyOutcome, *, citations: list[Citation]) -> list[str]:
    """Write how a streamed reply ended onto its row; returns the columns written, for
    `save(update_fields=...)`."""
    result = outcome.result
    if result is not None:
        reply.status = ReplyStatus.STOPPED if outcome.stopped else ReplyStatus.COMPLETE
        reply.provider, reply.model, reply.provider_label = result.provider, result.model, result.label
        reply.tokens_in, reply.tokens_out = result.tokens_in, result.tokens_out
        written = ["provider", "model", "provider_label", "tokens_in", "tokens_out"]
    else:
        reply.status = ReplyStatus.INTERRUPTED
        reply.error_code, reply.error_message = outcome.error_code, outcome.error_message
        written = ["error_code", "error_message"]
    reply.citations = citations
    reply.body = outcome.text
    reply.body_html = render_markdown(outcome.text)
    return ["status", *written, "citations", "body", "body_html", "updated_at"]


def reply_lost_apply(reply: StreamedReply, *, live: str | None) -> list[str]:
    """Mark a reply whose job vanished (a dead worker) as interrupted, keeping the text it had;
    returns the columns written."""
    reply.status = ReplyStatus.INTERRUPTED
    reply.body = live or reply.body
    reply.body_html = render_markdown(reply.body)
    reply.error_code, reply.error_message = "worker_lost", "The reply stopped unexpectedly."
    return ["status", "body", "body_html", "error_code", "error_message", "updated_at"]


def reply_finish(
    reply: R,
    outcome: ReplyOutcome,
    *,
    citations: list[Citation],
    completed: Callable[[R], Event],
    related: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> R:
    """End a streamed reply: lock its row, write the outcome and the caller's `extra` columns (only
    those, so a column changed meanwhile, say a moderator's hide, survives), expire the live text
    after commit and publish `completed(row)` (the caller's durable completion event). `related`
    are the relations `completed` reads, loaded with the row. Joins the caller's transaction, if any."""
    extra = extra or {}
    with transaction.atomic():
        rows = type(reply)._default_manager.select_for_update(of=("self",))
        if related:
            rows = rows.select_related(*related)
        row = rows.get(pk=reply.pk)
        fields = reply_outcome_apply(row, outcome, citations=citations)
        for name, value in extra.items():
            setattr(row, name, value)
        row.save(update_fields=[*fields, *extra])
        transaction.on_commit(reply_live_text(row).expire_soon)
        publish_on_commit(row.stream, completed(row))
    return row


def replies_sweep(
    replies: QuerySet[R],
    *,
    older_than_seconds: int,
    completed: Callable[[R], Event],
) -> int:
    """Mark replies streaming for longer than `older_than_seconds` whose job vanished (a worker died
    mid-stream) as interrupted, keeping their live text, and publish `completed(row)` for each.
    `replies` narrows the rows (e.g. coach replies, with what `completed` reads). Rows another
    transaction holds are skipped, and so are those whose run lock is still held: its job may still
    be running (the lock outlives a dead worker by at most RUN_LOCK_SECONDS). Returns how many were
    marked."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    swept = 0
    with transaction.atomic():
        stale = list(
            replies.select_for_update(skip_locked=True, of=("self",)).filter(
                status=ReplyStatus.STREAMING, updated_at__lt=cutoff
            )
        )
        for reply in stale:
            if reply_is_running(reply.cancel_key):
                continue
            reply.save(update_fields=reply_lost_apply(reply, live=reply_live_text(reply).get()))
            publish_on_commit(reply.stream, completed(reply))
            swept += 1
    return swept
