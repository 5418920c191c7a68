"""The only way domain code publishes to clients (ARCHITECTURE §4).

- `publish_on_commit`: a durable event. Allocates the next `seq` for the stream, writes the row in
  the caller's transaction, and sends it to the stream's group after commit. If the send is lost
  (a dropped group message, a socket that was away), clients recover the row by `resume`.
- `publish_ephemeral`: no row, no seq, no replay (deltas, typing, presence pings).
- `stream_forget`: drop a deleted stream's counter and history, in the caller's transaction.
- `control_send`: identity control frames (`force_close`, `rights_changed`) to a group, after commit.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from realtime.loop import run_sync
from realtime.models import Stream, StreamEvent, frame_event

log = structlog.get_logger(__name__)

# channel-layer message types, dispatched to consumer handlers (`.` becomes `_`).
STREAM_MESSAGE = "stream.event"
CONTROL_MESSAGE = "stream.control"

_ALLOCATE_SEQ = """
INSERT INTO realtime_stream (key, last_seq, created_at, updated_at) VALUES (%s, 1, now(), now())
ON CONFLICT (key) DO UPDATE SET last_seq = realtime_stream.last_seq + 1, updated_at = now()
RETURNING last_seq
"""


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        run_sync(layer.group_send(group, message))
    except Exception:
        log.warning("realtime.group_send_failed", group=group, exc_info=True)


def envelope(frame: dict[str, Any]) -> dict[str, Any]:
    """A frame as it travels the channel layer: encoded to JSON once for the whole group (each socket
    sends the same text, no per-socket encoding), with the few fields a consumer decides on kept
    beside it: the stream, `seq`, the event type, its audience and whom it is about."""
    data = frame.get("data") or {}
    about = data.get("user") if isinstance(data, dict) else None
    return {
        "type": STREAM_MESSAGE,
        "stream": frame["stream"],
        "seq": frame.get("seq"),
        "event": frame["event"],
        "audience": data.get("audience") if isinstance(data, dict) else None,
        "about": about.get("id") if isinstance(about, dict) else None,
        "text": json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str),
    }


def publish_on_commit(stream: str, event: dict[str, Any]) -> StreamEvent:
    """Persist `event` (a dict with a "type") as the next event of `stream`; send it after commit.

    Locks the stream's counter row until the caller's transaction ends, so `seq` order is commit order.
    """
    event_type = event["type"]
    payload = {key: value for key, value in event.items() if key != "type"}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_ALLOCATE_SEQ, [stream])
            seq = int(cursor.fetchone()[0])
        row = StreamEvent.objects.create(stream_id=stream, seq=seq, type=event_type, payload=payload)
    message = envelope(row.as_frame())
    transaction.on_commit(lambda: _group_send(stream, message))
    return row


def publish_ephemeral(stream: str, event: dict[str, Any]) -> None:
    """Send `event` to the stream's sockets now. Nothing is stored; a socket that misses it misses it."""
    payload = {key: value for key, value in event.items() if key != "type"}
    frame = frame_event(stream, None, event["type"], payload, timezone.now().isoformat())
    _group_send(stream, envelope(frame))


async def apublish_ephemeral(stream: str, event: dict[str, Any]) -> None:
    """`publish_ephemeral` for async callers (consumers: typing, presence)."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = {key: value for key, value in event.items() if key != "type"}
    frame = frame_event(stream, None, event["type"], payload, timezone.now().isoformat())
    await layer.group_send(stream, envelope(frame))


def stream_forget(stream: str) -> None:
    """Delete `stream`'s counter row and with it every stored event (the owner of the stream, a thread
    for example, is being deleted in the caller's transaction). Sockets still open on it are closed
    by a `control_send(..., action="force_close")` after commit."""
    Stream.objects.filter(key=stream).delete()


def control_send(group: str, *, action: str, reason: str, code: int | None = None) -> None:
    """After commit, tell every socket in `group` to close (`force_close`) or re-check (`rights_changed`)."""
    message = {"type": CONTROL_MESSAGE, "stream": group, "action": action, "reason": reason, "code": code}
    transaction.on_commit(lambda: _group_send(group, message))
