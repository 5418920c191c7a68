from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from domains.common.scoped_admin import OrganisationModelAdmin
from domains.mail.models import MailState, OutboundEmail
from domains.mail.services import mail_requeue


@admin.action(description=_("Retry the selected failed mails"))
def retry_failed(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
    queued = mail_requeue(emails=queryset.filter(state=MailState.FAILED))
    for email in queued:
        modeladmin.log_change(request, email, [{"changed": {"fields": ["state", "attempts"]}}])
    count = len(queued)
    modeladmin.message_user(
        request,
        ngettext("%(count)d mail queued again.", "%(count)d mails queued again.", count) % {"count": count},
        messages.SUCCESS,
    )


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    """Read-only: rows are written by `mail_queue` and moved by the delivery task; a failed one is
    queued again with the "retry" action."""

    list_display = ["created_at", "tag", "to", "subject", "state", "attempts", "sent_at", "organisation"]
    list_filter = ["state", "tag", "organisation"]
    search_fields = ["to", "subject", "tag"]
    date_hierarchy = "created_at"
    list_select_related = ["organisation"]
    raw_id_fields = ["organisation", "user"]
    actions = [retry_failed]
    readonly_fields = [field.name for field in OutboundEmail._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# ------------------------------------------------------------------ the organisation admin (/manage/)
class OrganisationOutboundEmailAdmin(OrganisationModelAdmin):
    """The organisation's own mails (notifications about its lounges and, later, its other work): who,
    what, and whether it went out. Mail with no organisation (verification, password reset, the
    daily digest, which gathers every organisation's) is only in the platform admin. Bodies and
    headers stay out: they carry the person's own links (unsubscribe, the notification's page)."""

    staff_add = staff_change = staff_delete = False
    list_display = ["created_at", "tag", "to", "subject", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "tag"]
    search_fields = ["to", "subject"]
    date_hierarchy = "created_at"
    fields = readonly_fields = ("to", "subject", "tag", "state", "attempts", "last_error", "created_at", "sent_at")
    actions = [retry_failed]


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(OutboundEmail, OrganisationOutboundEmailAdmin)
