"""Invitations in the organisation admin (/manage/), read-only: inviting, resending and revoking
are the invitations page's (`/invitations/`), where they are audited and emailed. The secret's
hash and the pending assignments' data stay off the page."""

from __future__ import annotations

from django.contrib import admin

from domains.common.scoped_admin import OrganisationModelAdmin
from domains.invitations.models import Invitation


class OrganisationInvitationAdmin(OrganisationModelAdmin):
    staff_add = staff_change = staff_delete = False
    list_display = ["created_at", "email", "role", "status", "invited_by", "expires_at", "sent_count", "accepted_at"]
    list_filter = ["status", "role"]
    search_fields = ["email"]
    date_hierarchy = "created_at"
    list_select_related = ["invited_by"]
    fields = readonly_fields = (
        "email",
        "role",
        "status",
        "invited_by",
        "created_at",
        "expires_at",
        "sent_count",
        "last_sent_at",
        "accepted_at",
        "accepted_by",
    )


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(Invitation, OrganisationInvitationAdmin)
