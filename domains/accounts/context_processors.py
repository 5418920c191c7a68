from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from domains.accounts.branding import organisation_brand
from domains.accounts.models import Organisation, Role


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The navigation for the roles the user holds in the bound organisation."""
    roles: frozenset[str] = getattr(request, "roles", frozenset())
    items: list[tuple[str, str]] = [("home", "Dashboard")]
    if roles:
        items.append(("lounges:directory", "Lounges"))
        items.append(("notes:list", "Notes"))
        items.append(("coach:thread_list", "Coach"))
        items.append(("interviews:catalogue", "Interviews"))
    if Role.STAFF in roles or Role.MENTOR in roles:
        items.append(("accounts:members", "Members"))
        items.append(("invitations:list", "Invitations"))  # mentors invite candidates (domains/invitations)
    if Role.STAFF in roles:
        items.append(("accounts:organisation_settings", "Settings"))
        items.append(("interviews:review_queue", "Question review"))
        items.append(("compliance:audit", "Audit log"))
        # The organisation-scoped admin (domains/accounts/admin_site.py), not Django's /admin/.
        items.append(("org_admin:index", "Organisation admin"))
    if getattr(getattr(request, "user", None), "is_superuser", False):
        items.append(("admin:index", "Operator admin"))  # platform operators: every organisation
    organisation: Organisation | None = getattr(request, "organisation", None)
    return {
        "nav_items": items,
        "organisation": organisation,
        # The switcher's list and the header's branding come from the middleware's one query.
        "organisations": getattr(request, "organisations", []),
        "organisation_brand": organisation_brand(organisation),
        "roles": sorted(roles),
    }
