from __future__ import annotations

from functools import partial
from typing import Any

from django.http import HttpRequest

from domains.notifications.models import Notification
from domains.notifications.selectors import notification_list_for_user, unread_count

RECENT = 5


def _recent(user: Any) -> list[Notification]:
    return list(notification_list_for_user(user=user, unread=True)[:RECENT])


def notifications(request: HttpRequest) -> dict[str, Any]:
    """The unread count for the badge on every page (one indexed count), and the newest unread ones
    for a page that shows them (the dashboard; a callable, so other pages do not query). Live updates
    come over the personal stream (frontend/static/js/app.js)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(user=user), "recent_notifications": partial(_recent, user)}
