"""Streaming text that clients can join mid-way (ARCHITECTURE §4.4).

- `LiveText`: the exact text published so far, appended in Redis per (coalesced) delta; a snapshot
  reads it after the socket joined the group, so joiners continue with the deltas that follow.
- `DeltaCoalescer`: sends ephemeral delta events with code-point offsets; the first at once, the
  rest at most every `interval` seconds (never one group_send per token: docs/stack-notes.md §2).
- `TextDelta`, the event it sends, and `CoachDelta` / `COACH_DELTA`, the one both coaches' streams
  carry (docs/realtime-protocol.md). They live here, not in a domain: the lounge coach, the private
  coach and the streamed-reply kit in `domains.ai` all send it, and lounges cannot import
  `domains.coach` (that would be a cycle: coach -> notes -> lounges).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from typing_extensions import ReadOnly

from realtime.pressure import UnderLoad
from realtime.publish import Event, publish_ephemeral
from realtime.redis import get_sync_redis

COACH_DELTA: Final = "coach.delta"


class TextDelta(Event):
    """A piece of streamed text: `offset` counts Unicode code points from the start of message `id`."""

    id: int
    offset: int
    text: str


class CoachDelta(TextDelta):
    """Ephemeral, on a lounge stream and on a coach thread stream alike."""

    type: ReadOnly[Literal["coach.delta"]]


LIVE_TEXT_TTL_SECONDS = 3600


class LiveText:
    def __init__(self, key: str) -> None:
        self.key = f"cw:live:{key}"

    def start(self) -> None:
        get_sync_redis().set(self.key, "", ex=LIVE_TEXT_TTL_SECONDS)

    def append(self, text: str) -> None:
        get_sync_redis().append(self.key, text.encode("utf-8"))

    def get(self) -> str | None:
        raw = get_sync_redis().get(self.key)
        if raw is None:
            return None
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    def expire_soon(self, seconds: int = 60) -> None:
        """Keep the text briefly after the end, for a joiner racing the completion event."""
        get_sync_redis().expire(self.key, seconds)


class DeltaCoalescer:
    """Publishes `TextDelta` ephemeral events (`{"type": event_type, "id", "offset", "text"}`) on `stream`."""

    def __init__(
        self,
        stream: str,
        message_id: int,
        *,
        interval: float,
        clock: Callable[[], float],
        event_type: str,
        live: LiveText | None = None,
    ) -> None:
        self.stream, self.message_id, self.interval, self.clock = stream, message_id, interval, clock
        self.event_type, self.live = event_type, live
        self.sent_upto = 0  # code points already published
        self.pending: list[str] = []
        self.last_sent: float | None = None

    def add(self, text: str) -> None:
        self.pending.append(text)
        now = self.clock()
        if self.last_sent is None or now - self.last_sent >= self.interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending = []
        if self.live is not None:
            # Appended per published delta, not per token: the live text is then exactly what
            # went out, so a joiner's text and the next delta's offset always meet.
            self.live.append(text)
        publish_ephemeral(
            self.stream,
            TextDelta(type=self.event_type, id=self.message_id, offset=self.sent_upto, text=text),
            under_load=UnderLoad.MERGE,
        )
        self.sent_upto += len(text)
        self.last_sent = self.clock() if now is None else now
