"""Every event on a lounge stream `lounge.<id>`, as TypedDicts (docs/realtime-protocol.md, "Lounges").

The one place lounge payloads are defined: services build these (`MessageCreated(type=...,
message=message_payload(message))`), and `realtime.publish` accepts only events, so mypy checks each
call. `tests/domains/lounges/test_events.py` checks them against what the services publish.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

# The delta both coaches send is the kernel's (a domain one would make lounges import coach, a cycle);
# re-exported so that each domain's events are all found here. So are the shapes every streamed
# reply carries, which the AI layer's kit owns.
from domains.ai.replies import Citation as Citation
from domains.ai.replies import ErrorPayload as ErrorPayload
from domains.ai.replies import ReplyStatusName as ReplyStatusName
from realtime.livetext import COACH_DELTA as COACH_DELTA
from realtime.livetext import CoachDelta as CoachDelta

# The values of the models' choices (`AuthorKind`, `ReportStatus`), checked by the tests.
AuthorKindName = Literal["user", "coach", "system"]
ReportStatusName = Literal["open", "dismissed", "actioned"]


class UserRef(TypedDict):
    id: int


class AuthorPayload(TypedDict):
    id: int
    name: str


class Usage(TypedDict):
    tokens_in: int
    tokens_out: int


class MessagePayload(TypedDict):
    """`selectors.message_payload`: hidden and deleted text is withheld from non-moderators."""

    id: int
    author: AuthorPayload | None
    author_kind: AuthorKindName
    coach_name: NotRequired[str]  # coach replies only
    body: str
    html: str
    status: ReplyStatusName
    reply_to: int | None
    client_msg_id: str
    summoned_by: int | None
    created_at: str
    edited_at: str | None
    pinned: bool
    hidden: bool
    deleted: bool
    hidden_reason: str
    provider_label: str
    usage: Usage
    error: ErrorPayload | None
    citations: list[Citation]


class ReportPayload(TypedDict):
    """`selectors.report_payload`."""

    id: int
    message_id: int
    reporter: AuthorPayload | None
    reason: str
    reported_body: str
    status: ReportStatusName
    resolution: str
    created_at: str


# ------------------------------------------------------------------------------------------ durable
class MessageCreated(TypedDict):
    """A post, or a coach reply starting (`status: "streaming"`, empty body)."""

    type: Literal["message.created"]
    message: MessagePayload


class MessageEdited(TypedDict):
    type: Literal["message.edited"]
    message: MessagePayload


class MessageCompleted(TypedDict):
    """A coach reply's end: the final text, `html`, status, usage, error and citations."""

    type: Literal["message.completed"]
    message: MessagePayload


MessageModeratedType = Literal["message.hidden", "message.deleted", "message.pinned", "message.unpinned"]


class MessageModerated(TypedDict):
    type: MessageModeratedType
    id: int
    by: int
    reason: str


class MessageUnhidden(TypedDict):
    """Members never had the hidden text, so it comes back with the event."""

    type: Literal["message.unhidden"]
    id: int
    by: int
    reason: str
    message: MessagePayload


class MemberChanged(TypedDict):
    type: Literal["member.joined", "member.left", "member.unbanned"]
    user: AuthorPayload
    by: int


class MemberMuted(TypedDict):
    type: Literal["member.muted"]
    user: AuthorPayload
    by: int
    until: str
    reason: str


class MemberUnmuted(TypedDict):
    type: Literal["member.unmuted"]
    user: AuthorPayload
    by: int
    until: None


class MemberRemoved(TypedDict):
    """Kicked or banned: the member's sockets in the lounge then close with 4404."""

    type: Literal["member.kicked", "member.banned"]
    user: AuthorPayload
    by: int
    reason: str


class MemberRoleChanged(TypedDict):
    """A member's role in the lounge changed (an ownership transfer publishes one for each side):
    that person's sockets get a fresh `rights` frame."""

    type: Literal["member.role_changed"]
    user: AuthorPayload
    by: int
    role: Literal["member", "moderator", "owner"]


class LoungeUpdated(TypedDict):
    type: Literal["lounge.updated"]
    locked: bool
    slow_mode_seconds: int
    by: int


class ReportEvent(TypedDict):
    """Moderators only: other sockets receive the `seq` as a `redacted` event."""

    type: Literal["report.created", "report.resolved"]
    audience: Literal["moderators"]
    report: ReportPayload


LoungeEvent = (
    MessageCreated
    | MessageEdited
    | MessageCompleted
    | MessageModerated
    | MessageUnhidden
    | MemberChanged
    | MemberMuted
    | MemberUnmuted
    | MemberRemoved
    | MemberRoleChanged
    | LoungeUpdated
    | ReportEvent
)


# ------------------------------------------------------------------------------------------ ephemeral
class Typing(TypedDict):
    """At most one per person per 2 s (realtime/consumers/lounge.py)."""

    type: Literal["typing"]
    user: AuthorPayload


class PresenceJoined(TypedDict):
    type: Literal["presence.joined"]
    user: AuthorPayload


class PresenceLeft(TypedDict):
    type: Literal["presence.left"]
    user: UserRef


LoungeEphemeralEvent = CoachDelta | Typing | PresenceJoined | PresenceLeft
