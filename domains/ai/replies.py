"""Streaming a reply into a live stream: the loop both coaches (lounge and private thread) share.

`reply_stream` runs `chat_stream`, and for every delta: sends it (coalesced) as an ephemeral delta
event, appending each coalesced delta to the live text in Redis as it goes out, and flushes the text
to PostgreSQL every
`COACH_FLUSH_SECONDS`. It never raises a provider error: the outcome says how the call ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings

from domains.ai.providers.base import Delta, Result
from domains.ai.providers.errors import AIError
from domains.ai.services import chat_stream
from realtime.livetext import DeltaCoalescer, LiveText
from realtime.redis import get_sync_redis

log = structlog.get_logger(__name__)

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


def reply_stream(
    *,
    stream: str,
    message_id: int,
    live: LiveText,
    flush: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    **chat: Any,
) -> ReplyOutcome:
    """Stream one reply (see module docstring). `chat` are `chat_stream`'s keyword arguments."""
    live.start()
    deltas = DeltaCoalescer(
        stream,
        message_id,
        interval=settings.REALTIME_COALESCE_MS / 1000,
        clock=clock,
        event_type="coach.delta",
        live=live,
    )
    flush_every = settings.COACH_FLUSH_SECONDS
    last_flush = clock()
    parts: list[str] = []
    result: Result | None = None
    error: AIError | None = None
    items: Iterable[Any] = chat_stream(**chat)
    try:
        for item in items:
            if isinstance(item, Delta) and item.text:
                parts.append(item.text)
                deltas.add(item.text)
                if clock() - last_flush >= flush_every:
                    flush("".join(parts))
                    last_flush = clock()
            elif isinstance(item, Result):
                result = item
    except AIError as failure:
        error = failure
        log.warning("reply.provider_failed", stream=stream, message_id=message_id, error=type(failure).__name__)
    finally:
        deltas.flush()
    text = result.text if result is not None and result.text else "".join(parts)
    return ReplyOutcome(text=text, result=result, error=error)


def reply_outcome_apply(reply: Any, outcome: ReplyOutcome, *, citations: list[dict[str, Any]]) -> None:
    """Write how a streamed reply ended onto its row (a lounge message or a thread reply: both have
    these fields). Status values are the shared ones: complete, stopped, interrupted."""
    from domains.common.markdown import render_markdown

    result = outcome.result
    if result is not None:
        reply.status = "stopped" if outcome.stopped else "complete"
        reply.provider, reply.model, reply.provider_label = result.provider, result.model, result.label
        reply.tokens_in, reply.tokens_out = result.tokens_in, result.tokens_out
    else:
        reply.status = "interrupted"
        reply.error_code, reply.error_message = outcome.error_code, outcome.error_message
    reply.citations = citations
    reply.body = outcome.text
    reply.body_html = render_markdown(outcome.text)


def reply_lost_apply(reply: Any, *, live: str | None) -> None:
    """Mark a reply whose job vanished (a dead worker) as interrupted, keeping the text it had."""
    from domains.common.markdown import render_markdown

    reply.status = "interrupted"
    reply.body = live or reply.body
    reply.body_html = render_markdown(reply.body)
    reply.error_code, reply.error_message = "worker_lost", "The reply stopped unexpectedly."
