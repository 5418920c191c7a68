from __future__ import annotations

from django.contrib import admin

from domains.lounges.models import Lounge, LoungeMembership, Message, MessageRevision, Report


class LoungeMembershipInline(admin.TabularInline):
    model = LoungeMembership
    extra = 0
    fields = ["user", "role", "muted_until", "is_banned", "joined_at"]
    autocomplete_fields = ["user"]


@admin.register(Lounge)
class LoungeAdmin(admin.ModelAdmin):
    list_display = ["title", "organisation", "slug", "access", "is_locked", "slow_mode_seconds", "coach_name"]
    list_filter = ["organisation", "access", "is_locked"]
    search_fields = ["title", "slug", "topic"]
    prepopulated_fields = {"slug": ("title",)}
    inlines = [LoungeMembershipInline]
    fieldsets = (
        (None, {"fields": ("organisation", "title", "slug", "topic", "category")}),
        ("Access", {"fields": ("access", "invite_code", "is_locked", "slow_mode_seconds")}),
        (
            "Coach persona",
            {
                "fields": (
                    "coach_name",
                    "coach_system_prompt",
                    "coach_provider",
                    "coach_model",
                    "coach_temperature",
                    "coach_max_tokens",
                )
            },
        ),
    )


class MessageRevisionInline(admin.TabularInline):
    model = MessageRevision
    extra = 0
    readonly_fields = ["body", "edited_by", "created_at"]
    can_delete = False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-mostly: moderation happens in the room, where it is audited and reaches everyone live."""

    list_display = ["pk", "lounge", "author_kind", "author", "status", "created_at", "hidden_at", "is_deleted"]
    list_filter = ["author_kind", "status", "lounge"]
    search_fields = ["body"]
    readonly_fields = [f.name for f in Message._meta.fields]
    inlines = [MessageRevisionInline]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["pk", "lounge", "message", "reporter", "status", "created_at"]
    list_filter = ["status", "lounge"]
    readonly_fields = ["lounge", "message", "reporter", "reason", "reported_body", "created_at"]
