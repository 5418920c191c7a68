"""What both coaches' reply jobs share on top of the AI layer's kit (domains/ai/replies.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from domains.ai.models import StreamedReply
from domains.ai.replies import ReplyOutcome, reply_stream
from domains.coach.events import COACH_DELTA


def coach_reply_stream(
    reply: StreamedReply, *, clock: Callable[[], float] = time.monotonic, **chat: Any
) -> ReplyOutcome:
    """Stream a coach reply: its deltas go out as `coach.delta`, and the AI quota is not checked
    again (the service checked it when it accepted the question or the summons). `chat` are
    `chat_stream`'s keyword arguments."""
    return reply_stream(reply, delta_event=COACH_DELTA, clock=clock, enforce_quota=False, **chat)
