"""Notifications in the platform admin (/admin/), read-only: an operator can see what was sent to
whom and how its email went. Not in the organisation admin: a notification is its person's own,
and organisation staff see mail failures through `domains.mail`'s admin instead."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from domains.notifications.models import Notification, NotificationPreference


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(_ReadOnly):
    list_display = ["created_at", "user", "kind", "title", "read_at", "live_state", "email_state"]
    list_filter = ["kind", "email_state"]
    search_fields = ["user__email", "title"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "organisation", "email"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(_ReadOnly):
    list_display = ["user", "kind", "delivery", "updated_at"]
    list_filter = ["kind", "delivery"]
    search_fields = ["user__email"]
