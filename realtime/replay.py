"""Replay, snapshots' consistency and retention for durable stream events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from realtime.models import Stream, StreamEvent


@dataclass
class Replay:
    """Either the frames after a cursor, in order and contiguous, or `resync=True`."""

    frames: list[dict[str, object]] = field(default_factory=list)
    resync: bool = False


def stream_last_seq(stream: str) -> int:
    return Stream.objects.filter(key=stream).values_list("last_seq", flat=True).first() or 0


def stream_cursors(streams: list[str]) -> dict[str, int]:
    found = dict(Stream.objects.filter(key__in=streams).values_list("key", "last_seq"))
    return {stream: int(found.get(stream, 0)) for stream in streams}


def replay_after(stream: str, after_seq: int) -> Replay:
    """The durable events of `stream` after `after_seq`.

    Resync when the cursor is older than retention, more than REALTIME_RETENTION_EVENTS behind,
    or ahead of the stream (the client saw a stream this server no longer has).
    """
    limit = settings.REALTIME_RETENTION_EVENTS
    rows = list(StreamEvent.objects.filter(stream_id=stream, seq__gt=after_seq).order_by("seq")[: limit + 1])
    if not rows:
        return Replay(resync=stream_last_seq(stream) != after_seq)
    contiguous = all(row.seq == after_seq + index + 1 for index, row in enumerate(rows))
    if len(rows) > limit or not contiguous:
        return Replay(resync=True)
    return Replay(frames=[row.as_frame() for row in rows])


@contextmanager
def snapshot_transaction() -> Iterator[None]:
    """One consistent view for a snapshot: its `seq` cursors and its data come from the same instant."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def stream_events_sweep() -> int:
    """Delete events beyond retention: older than the age, or not among the newest N of their stream."""
    cutoff = timezone.now() - timedelta(seconds=settings.REALTIME_RETENTION_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM realtime_streamevent AS e USING realtime_stream AS s
            WHERE e.stream_key = s.key AND (e.seq <= s.last_seq - %s OR e.created_at < %s)
            """,
            [settings.REALTIME_RETENTION_EVENTS, cutoff],
        )
        return int(cursor.rowcount)
