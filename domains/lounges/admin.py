from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from domains.common.scoped_admin import OrganisationModelAdmin, OrganisationTabularInline
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


# ------------------------------------------------------------------ the organisation admin (/manage/)
class OrganisationLoungeMembershipInline(OrganisationTabularInline):
    """Who is in the lounge and with which role. Read-only here: joining, leaving, roles, mutes and
    bans go through the lounge services (in the room), which audit them and tell open sockets."""

    model = LoungeMembership
    organisation_path = "lounge__organisation"
    extra = 0
    fields = ["user", "role", "muted_until", "is_banned", "joined_at"]
    readonly_fields = ["user", "role", "muted_until", "is_banned", "joined_at"]
    staff_add = staff_change = staff_delete = False


class OrganisationLoungeAdmin(OrganisationModelAdmin, LoungeAdmin):
    """The organisation's lounges; new ones belong to the session's organisation. Not deleted here
    (a delete would cascade to shared notes and stream history); lock the lounge instead. The coach's
    provider, model and token budget are the operator's (they spend the installation's keys)."""

    inlines = [OrganisationLoungeMembershipInline]
    staff_delete = False
    readonly_fields = ["coach_provider", "coach_model", "coach_max_tokens"]

    def save_model(self, request: HttpRequest, obj: Lounge, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


class OrganisationMessageRevisionInline(OrganisationTabularInline):
    model = MessageRevision
    organisation_path = "message__lounge__organisation"
    extra = 0
    fields = ["body", "edited_by", "created_at"]
    readonly_fields = ["body", "edited_by", "created_at"]
    staff_add = staff_change = staff_delete = False


class OrganisationMessageAdmin(OrganisationModelAdmin, MessageAdmin):  # type: ignore[misc]
    """Read-only: moderation happens in the room, where it is audited and reaches everyone live."""

    organisation_path = "lounge__organisation"
    staff_add = staff_change = staff_delete = False
    list_display = ["pk", "lounge", "author_kind", "author", "excerpt", "status", "created_at", "is_deleted"]
    list_select_related = ["lounge", "author"]
    inlines = [OrganisationMessageRevisionInline]

    @admin.display(description="text")
    def excerpt(self, obj: Message) -> str:
        return obj.body[:80]


class OrganisationReportAdmin(OrganisationModelAdmin, ReportAdmin):
    """Reports in the organisation's lounges. They are raised in the room, so none are added here."""

    organisation_path = "lounge__organisation"
    staff_add = staff_delete = False
    list_select_related = ["lounge", "message", "reporter"]


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(Lounge, OrganisationLoungeAdmin)
    site.register(Message, OrganisationMessageAdmin)
    site.register(Report, OrganisationReportAdmin)
