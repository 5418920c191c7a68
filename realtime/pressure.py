"""What a process or a socket that falls behind does with ephemeral events (docs/realtime-protocol.md,
"Under load").

Durable events are never merged or dropped. An ephemeral event says at publish time what may happen
to it while it waits behind others (`UnderLoad`):

- `MERGE`, a piece of streamed text (`TextDelta`): it joins the piece of the same text still waiting
  just before it on its stream, so a consumer that falls behind gets fewer, larger deltas whose
  concatenation is the same text. The wire never changes shape: one `coach.delta` with an `offset`.
- `DROP`, typing and presence: skipped while the queue is longer than `REALTIME_PRESSURE_QUEUE`
  (a snapshot or resync carries the presence list again).
- `KEEP`: neither (the default).

Merging happens only between messages that are both still waiting, so it costs nothing when nobody
is behind: the first message of a burst goes out at once, and only what piles up behind it merges.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class UnderLoad(StrEnum):
    KEEP = "keep"
    MERGE = "merge"
    DROP = "drop"


def encode(frame: dict[str, Any]) -> str:
    """A frame as the JSON text every socket of a group is sent (encoded once per group message)."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str)


def merge_mark(data: dict[str, Any]) -> dict[str, Any]:
    """What a mergeable delta's envelope carries beside its text: which text, and where this piece
    starts and ends (Unicode code points, as the wire's `offset`)."""
    offset = int(data["offset"])
    return {"id": data["id"], "offset": offset, "end": offset + len(str(data["text"]))}


def droppable(message: dict[str, Any]) -> bool:
    return message.get("under_load") == UnderLoad.DROP


def mergeable(message: dict[str, Any]) -> bool:
    return message.get("under_load") == UnderLoad.MERGE and isinstance(message.get("merge"), dict)


def merge_into(pending: dict[str, Any], message: dict[str, Any]) -> bool:
    """Append `message`'s text to `pending`, the message still waiting just before it on the same
    stream, when both are pieces of one text and meet (pending's end is message's offset). In place;
    True if merged. `pending` must be the waiting consumer's own copy (`own_copy`)."""
    if not (mergeable(pending) and mergeable(message)):
        return False
    first, second = pending["merge"], message["merge"]
    if (
        pending["stream"] != message["stream"]
        or pending["event"] != message["event"]
        or first["id"] != second["id"]
        or first["end"] != second["offset"]
    ):
        return False
    parts: list[str] = pending.setdefault("parts", [_delta_text(pending)])
    parts.append(_delta_text(message))
    first["end"] = second["end"]
    return True


def own_copy(message: dict[str, Any]) -> dict[str, Any]:
    """A copy of a group message that one consumer may merge into (the original is shared by every
    socket of the process)."""
    copy = dict(message)
    if isinstance(copy.get("merge"), dict):
        copy["merge"] = dict(copy["merge"])
    if "parts" in copy:
        copy["parts"] = list(copy["parts"])
    return copy


def settled(message: dict[str, Any]) -> dict[str, Any]:
    """`message` ready to send: a merged delta gets its frame re-encoded with the whole text."""
    parts = message.get("parts")
    if parts is None:
        return message
    frame = json.loads(message["text"])
    frame["data"]["text"] = "".join(parts)
    settled = {key: value for key, value in message.items() if key != "parts"}
    settled["text"] = encode(frame)
    return settled


def _delta_text(message: dict[str, Any]) -> str:
    return str(json.loads(message["text"])["data"]["text"])
