"""The organisation admin at /manage/: Django's admin, scoped to the organisation bound to the session.

Django's own `admin.site` (/admin/) is for platform operators (superusers) and sees every
organisation. Organisation staff use an `OrganisationAdminSite` instead (ARCHITECTURE.md §7):

- Access is the `staff` role in the session's organisation (`request.organisation`,
  `request.roles`, bound by `ActiveOrganisationMiddleware`), not the `is_staff`/superuser flags.
- Every add, change and delete made through it lands in the organisation's audit log.
- The scoping itself (querysets, form choices, list filters, the organisation field) is the
  admins' (`domains.common.scoped_admin`). Each domain's `admin.py` builds its own with them and
  registers them in its `register(site)`; `project/admin_site.py` builds the site and calls those,
  so no domain registers on a site another domain owns.
"""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, reverse

from domains.accounts.models import Role
from domains.common.scoped_admin import session_organisation
from domains.compliance.services import audit_record


def is_organisation_staff(request: HttpRequest) -> bool:
    """An active user holding the staff role in the organisation bound to this session."""
    user: Any = getattr(request, "user", None)
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and session_organisation(request) is not None
        and Role.STAFF in getattr(request, "roles", frozenset())
    )


class OrganisationAdminSite(admin.AdminSite):
    """An `OrganisationSite` (domains/common/scoped_admin.py) for the scoped admins."""

    site_header = "Organisation administration"
    site_title = "Coachwire organisation admin"
    index_title = "Run your organisation"

    def has_permission(self, request: HttpRequest) -> bool:
        return is_organisation_staff(request)

    def audit(self, request: HttpRequest, obj: Any, verb: str, message: Any) -> None:
        """Django's admin logs every add, change and delete it makes; each also lands in the
        organisation's audit log, where staff and auditors read it (sensitive actions are audited)."""
        audit_record(
            actor=request.user,
            organisation=session_organisation(request),
            action=f"admin.{obj._meta.model_name}_{verb}",
            target=obj,
            details={"change": message} if isinstance(message, list) and message else {},
            request=request,
        )

    def own_log_entries(self, request: HttpRequest, entries: QuerySet[LogEntry]) -> QuerySet[LogEntry]:
        """Entries by members of the session's organisation: an operator's edit in /admin/ may name
        other organisations' rows (a user's memberships elsewhere)."""
        return entries.filter(user__memberships__organisation=session_organisation(request)).distinct()

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Anonymous visitors go to allauth's login (MFA, rate limits), as on the operator site.
        allauth's `secure_admin_login` admits signed-in users by `is_staff`, which organisation
        staff do not have, so signed-in users are decided here by the site's own rule."""
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(reverse(f"{self.name}:index"))
            raise PermissionDenied
        return secure_admin_login(super().login)(request, extra_context)

    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # allauth's page, which also closes the person's other sockets and sessions.
        return HttpResponseRedirect(reverse("account_change_password"))

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # The content-type shortcut (`r/<ct>/<id>/`) looks objects up unscoped: not offered here.
        return [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]
