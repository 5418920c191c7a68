"""The typed payloads lounges publish (docs/realtime-protocol.md, "Lounges")."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class AuthorPayload(TypedDict):
    id: int
    name: str


class MessagePayload(TypedDict):
    id: int
    author: AuthorPayload | None
    author_kind: Literal["user", "coach", "system"]
    coach_name: NotRequired[str]
    body: str
    html: str
    status: Literal["streaming", "complete", "stopped", "interrupted"]
    reply_to: int | None
    client_msg_id: str
    summoned_by: int | None
    created_at: str
    edited_at: str | None
    pinned: bool
    hidden: bool
    hidden_reason: str
    provider_label: str
    usage: dict[str, int]
    error: dict[str, str] | None


class MessageCreated(TypedDict):
    type: Literal["message.created"]
    message: MessagePayload


class MessageCompleted(TypedDict):
    type: Literal["message.completed"]
    message: MessagePayload


class MessageEdited(TypedDict):
    type: Literal["message.edited"]
    message: MessagePayload


class MessageModerated(TypedDict):
    type: Literal["message.hidden", "message.unhidden", "message.deleted", "message.pinned", "message.unpinned"]
    id: int
    by: int
    reason: str


class MemberChanged(TypedDict):
    type: Literal[
        "member.joined",
        "member.left",
        "member.muted",
        "member.unmuted",
        "member.kicked",
        "member.banned",
        "member.unbanned",
        "member.role_changed",
    ]
    user: AuthorPayload
    by: int | None
    until: NotRequired[str | None]
    role: NotRequired[str]
    reason: NotRequired[str]


class LoungeUpdated(TypedDict):
    type: Literal["lounge.updated"]
    locked: bool
    slow_mode_seconds: int
    by: int


class ReportCreated(TypedDict):
    """Moderators only: others receive the `seq` as a `redacted` event."""

    type: Literal["report.created", "report.resolved"]
    audience: Literal["moderators"]
    report: dict[str, object]


class CoachDelta(TypedDict):
    """Ephemeral. `offset` counts Unicode code points from the start of the reply."""

    type: Literal["coach.delta"]
    id: int
    offset: int
    text: str
