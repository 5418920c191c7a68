from __future__ import annotations

from django.db import models


class Stream(models.Model):
    """The per-stream counter row: `last_seq` is allocated by `UPDATE … RETURNING` under its row lock."""

    key = models.CharField(max_length=100, primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.CheckConstraint(condition=models.Q(last_seq__gte=0), name="realtime_stream_seq_nonneg")]

    def __str__(self) -> str:
        return f"{self.key}@{self.last_seq}"


class StreamEvent(models.Model):
    """A durable event: replayed on resume, in `seq` order, until retention removes it."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="events", db_column="stream_key")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="realtime_event_stream_seq_unique"),
            models.CheckConstraint(condition=models.Q(seq__gt=0), name="realtime_event_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}#{self.seq} {self.type}"

    def as_frame(self) -> dict[str, object]:
        return frame_event(self.stream_id, self.seq, self.type, self.payload, self.created_at.isoformat())


def frame_event(stream: str, seq: int | None, type_: str, payload: dict[str, object], at: str) -> dict[str, object]:
    """The wire form of an event (docs/realtime-protocol.md, "Event frames")."""
    frame: dict[str, object] = {"type": "event", "stream": stream, "event": type_, "data": payload, "at": at}
    if seq is not None:
        frame["seq"] = seq
    return frame
