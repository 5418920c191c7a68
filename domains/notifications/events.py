"""Every event notifications publish on a person's personal stream `user.<id>`, as TypedDicts
(docs/realtime-protocol.md, "The personal stream").

Both are durable: a tab that was away gets them on resume, so the badge count is never stale.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from typing_extensions import ReadOnly

from realtime.publish import Event

PriorityName = Literal["low", "normal", "high"]


class NotificationPayload(TypedDict):
    """`selectors.notification_payload`."""

    id: int
    kind: str
    priority: PriorityName
    title: str
    body: str
    link: str  # a path on this site, or ""
    created_at: str
    read: bool


class NotificationCreated(Event):
    type: ReadOnly[Literal["notification.created"]]
    notification: NotificationPayload
    unread: int  # the person's unread count, this one included


class NotificationsRead(Event):
    """One notification marked read (`ids` = [it]), or all of them (`all`): every tab updates."""

    type: ReadOnly[Literal["notification.read"]]
    ids: list[int]
    all: bool
    unread: int
