from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from domains.common.scoped_admin import OrganisationModelAdmin
from domains.compliance.models import AuditEvent, Consent, PolicyDocument


@admin.register(PolicyDocument)
class PolicyDocumentAdmin(admin.ModelAdmin):
    list_display = ["kind", "version", "title", "published_at"]
    list_filter = ["kind"]


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["user", "document", "accepted_at", "ip_address"]
    list_filter = ["document"]
    search_fields = ["user__email"]
    readonly_fields = ["user", "document", "accepted_at", "ip_address", "user_agent", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the database refuses changes anyway."""

    list_display = ["created_at", "organisation", "actor_label", "action", "target_label", "ip_address", "request_id"]
    list_filter = ["action", "organisation"]
    search_fields = ["actor_label", "target_label", "request_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ------------------------------------------------------------------ the organisation admin (/manage/)
class OrganisationAuditEventAdmin(OrganisationModelAdmin, AuditEventAdmin):
    """The organisation's own audit trail, read-only (events without an organisation are the
    platform's, for operators)."""

    staff_add = staff_change = staff_delete = False


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(AuditEvent, OrganisationAuditEventAdmin)
