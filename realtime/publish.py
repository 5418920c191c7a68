"""The only way domain code publishes to clients (ARCHITECTURE §4).

- `publish_on_commit`: a durable event. Allocates the next `seq` for the stream, writes the row in
  the caller's transaction, and sends it to the stream's group after commit. If the send is lost
  (a dropped group message, a socket that was away), clients recover the row by `resume`.
- `publish_ephemeral`: no row, no seq, no replay (deltas, typing, presence pings).
- `stream_forget`: drop a deleted stream's counter and history, in the caller's transaction.
- `control_send`: identity control frames (`force_close`, `rights_changed`) to a group, after commit.

Every event is an `Event`: a TypedDict with a string `type`, the rest its payload. Each domain
declares its events as TypedDicts in its `events.py` (`type: Literal["..."]`), so mypy checks every
publish call against them; a plain `dict[str, Any]` is refused. `event_published` reports each event
as it is published (tests record them with the `capture_events` fixture).
"""

from __future__ import annotations

from typing import Any

import structlog
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone
from typing_extensions import ReadOnly, TypedDict

from realtime.loop import run_sync
from realtime.models import Stream, StreamEvent, frame_event
from realtime.pressure import UnderLoad, encode, merge_mark

log = structlog.get_logger(__name__)

# channel-layer message types, dispatched to consumer handlers (`.` becomes `_`).
STREAM_MESSAGE = "stream.event"
CONTROL_MESSAGE = "stream.control"

_ALLOCATE_SEQ = """
INSERT INTO realtime_stream (key, last_seq, created_at, updated_at) VALUES (%s, 1, now(), now())
ON CONFLICT (key) DO UPDATE SET last_seq = realtime_stream.last_seq + 1, updated_at = now()
RETURNING last_seq
"""


class Event(TypedDict):
    """What every published event satisfies: its `type` (the frame's `event`); every other key is
    its `data`. Read-only, so an event TypedDict with `type: Literal["member.joined"]` is one."""

    type: ReadOnly[str]


# Sent for every published event, with `stream`, `type`, `payload` and `seq` (None for an ephemeral
# one). A durable event is reported when its row is written, inside the caller's transaction (so also
# when that transaction later rolls back); an ephemeral one when it is sent.
event_published = Signal()


def _payload(event: Event) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "type"}


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        run_sync(layer.group_send(group, message))
    except Exception:
        log.warning("realtime.group_send_failed", group=group, exc_info=True)


def envelope(frame: dict[str, Any], *, under_load: UnderLoad = UnderLoad.KEEP) -> dict[str, Any]:
    """A frame as it travels the channel layer: encoded to JSON once for the whole group (each socket
    sends the same text, no per-socket encoding), with the few fields a consumer decides on kept
    beside it: the stream, `seq`, the event type, its audience and whom it is about, and for an
    ephemeral event what may happen to it behind a backlog (realtime/pressure.py)."""
    data = frame.get("data") or {}
    about = data.get("user") if isinstance(data, dict) else None
    message = {
        "type": STREAM_MESSAGE,
        "stream": frame["stream"],
        "seq": frame.get("seq"),
        "event": frame["event"],
        "audience": data.get("audience") if isinstance(data, dict) else None,
        "about": about.get("id") if isinstance(about, dict) else None,
        "text": encode(frame),
    }
    if frame.get("seq") is None and under_load != UnderLoad.KEEP:
        message["under_load"] = str(under_load)
        if under_load == UnderLoad.MERGE:
            message["merge"] = merge_mark(data)
    return message


def publish_on_commit(stream: str, event: Event) -> StreamEvent:
    """Persist `event` as the next event of `stream`; send it after commit.

    Locks the stream's counter row until the caller's transaction ends, so `seq` order is commit order.
    """
    event_type = event["type"]
    payload = _payload(event)
    # No savepoint: a failure here fails the caller's whole transaction anyway (two round trips fewer).
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(_ALLOCATE_SEQ, [stream])
            seq = int(cursor.fetchone()[0])
        row = StreamEvent.objects.create(stream_id=stream, seq=seq, type=event_type, payload=payload)
    event_published.send(sender=publish_on_commit, stream=stream, type=event_type, payload=payload, seq=seq)
    message = envelope(row.as_frame())
    transaction.on_commit(lambda: _group_send(stream, message))
    return row


def _ephemeral_frame(stream: str, event: Event) -> dict[str, object]:
    payload = _payload(event)
    event_published.send(sender=publish_ephemeral, stream=stream, type=event["type"], payload=payload, seq=None)
    return frame_event(stream, None, event["type"], payload, timezone.now().isoformat())


def publish_ephemeral(stream: str, event: Event, *, under_load: UnderLoad = UnderLoad.KEEP) -> None:
    """Send `event` to the stream's sockets now. Nothing is stored; a socket that misses it misses it.
    `under_load`: whether it may merge with the previous piece of its text (`MERGE`, a `TextDelta`)
    or be dropped (`DROP`) while it waits behind a backlog (realtime/pressure.py)."""
    _group_send(stream, envelope(_ephemeral_frame(stream, event), under_load=under_load))


async def apublish_ephemeral(stream: str, event: Event, *, under_load: UnderLoad = UnderLoad.KEEP) -> None:
    """`publish_ephemeral` for async callers (consumers: typing, presence)."""
    frame = _ephemeral_frame(stream, event)
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(stream, envelope(frame, under_load=under_load))


def stream_forget(stream: str) -> None:
    """Delete `stream`'s counter row and with it every stored event (the owner of the stream, a thread
    for example, is being deleted in the caller's transaction). Sockets still open on it are closed
    by a `control_send(..., action="force_close")` after commit."""
    Stream.objects.filter(key=stream).delete()


def control_send(group: str, *, action: str, reason: str, code: int | None = None) -> None:
    """After commit, tell every socket in `group` to close (`force_close`) or re-check (`rights_changed`)."""
    message = {"type": CONTROL_MESSAGE, "stream": group, "action": action, "reason": reason, "code": code}
    transaction.on_commit(lambda: _group_send(group, message))
