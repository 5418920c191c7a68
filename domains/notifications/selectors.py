"""Reading notifications: always the session user's own (a foreign id is simply not found)."""

from __future__ import annotations

from typing import cast

from django.db.models import QuerySet

from domains.accounts.models import User
from domains.notifications.events import NotificationPayload, PriorityName
from domains.notifications.kinds import Delivery, NotificationKind, kind_find, kinds_all
from domains.notifications.models import Notification, NotificationPreference


def notification_list_for_user(*, user: User, unread: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(user=user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def notification_get_for_user(*, user: User, notification_id: int) -> Notification:
    """The user's notification `notification_id`; Notification.DoesNotExist for anyone else's."""
    return Notification.objects.get(user=user, pk=notification_id)


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_payload(notification: Notification) -> NotificationPayload:
    kind = kind_find(notification.kind)
    priority = cast(PriorityName, kind.priority.value if kind is not None else "normal")
    return NotificationPayload(
        id=notification.pk,
        kind=notification.kind,
        priority=priority,
        title=notification.title,
        body=notification.body,
        link=notification.link,
        created_at=notification.created_at.isoformat(),
        read=notification.read_at is not None,
    )


def delivery_for(*, user: User, kind: NotificationKind) -> Delivery:
    """How `kind`'s email reaches `user`: their choice, else the kind's default; never for a kind
    that may not be emailed."""
    if not kind.email:
        return Delivery.OFF
    chosen = NotificationPreference.objects.filter(user=user, kind=kind.name).values_list("delivery", flat=True).first()
    return Delivery(chosen) if chosen else kind.default


def preferences_for_user(*, user: User) -> list[tuple[NotificationKind, Delivery]]:
    """Every registered kind with the user's delivery for it, by kind name."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    return [
        (kind, Delivery(chosen[kind.name]) if kind.email and kind.name in chosen else (kind.default))
        for kind in kinds_all()
    ]
