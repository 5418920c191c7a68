"""Every event on a private coach thread's stream `coach.<id>`, as TypedDicts
(docs/realtime-protocol.md, "Private coach threads").

The one place thread payloads are defined: services build these (`ThreadMessageCreated(type=...,
message=thread_message_payload(message))`), and `realtime.publish` accepts only events, so mypy
checks each call. `tests/domains/coach/test_events.py` checks them against what the services publish.
"""

from __future__ import annotations

from typing import Literal, TypedDict

# The delta both coaches send is the kernel's (a domain one would make lounges import coach, a cycle);
# re-exported so that each domain's events are all found here. So are the shapes every streamed
# reply carries, which the AI layer's kit owns.
from domains.ai.replies import Citation as Citation
from domains.ai.replies import ErrorPayload as ErrorPayload
from domains.ai.replies import ReplyStatusName as ReplyStatusName
from realtime.livetext import COACH_DELTA as COACH_DELTA
from realtime.livetext import CoachDelta as CoachDelta

# The values of the models' choices (`ThreadRole`), checked by the tests.
ThreadRoleName = Literal["user", "coach"]


class ThreadMessagePayload(TypedDict):
    """`selectors.thread_message_payloads`: a question or one version of a reply to it."""

    id: int
    role: ThreadRoleName
    body: str
    html: str
    status: ReplyStatusName
    client_msg_id: str
    parent_id: int | None  # a reply's question
    version: int  # 1..versions among the replies to one question
    versions: int
    current: bool  # the newest reply to its question
    provider_label: str
    citations: list[Citation]
    error: ErrorPayload | None
    created_at: str


# ------------------------------------------------------------------------------------------ durable
class ThreadMessageCreated(TypedDict):
    """A question, or a reply starting (`status: "streaming"`, empty body)."""

    type: Literal["message.created"]
    message: ThreadMessagePayload


class ThreadMessageCompleted(TypedDict):
    """A reply's end: the final text, `html`, citations, status and error."""

    type: Literal["message.completed"]
    message: ThreadMessagePayload


class ThreadRenamed(TypedDict):
    type: Literal["thread.renamed"]
    title: str


ThreadEvent = ThreadMessageCreated | ThreadMessageCompleted | ThreadRenamed

# ------------------------------------------------------------------------------------------ ephemeral
ThreadEphemeralEvent = CoachDelta
