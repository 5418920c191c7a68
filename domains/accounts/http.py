"""The request as views see it once `ActiveOrganisationMiddleware` has run.

Types only: at runtime every request is Django's `HttpRequest`, and the middleware sets these
attributes on each one (domains/accounts/middleware.py). It lives in accounts, not domains/common,
because it names accounts' models and accounts imports domains.common (the domains stay acyclic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404, HttpRequest

from domains.accounts.models import Organisation, User

if TYPE_CHECKING:

    class OrganisationRequest(HttpRequest):
        """Any request: `organisation` is None for a visitor or a user without a membership."""

        organisation: Organisation | None
        roles: frozenset[str]
        organisations: list[Organisation]  # the user's, for the switcher (same query as `organisation`)

    class AuthenticatedRequest(OrganisationRequest):
        """A request that passed `@login_required` (or the API's session auth)."""

        user: User

else:
    OrganisationRequest = HttpRequest
    AuthenticatedRequest = HttpRequest


def organisation_or_404(request: OrganisationRequest) -> Organisation:
    """The session's organisation; a page outside any organisation does not exist."""
    if request.organisation is None:
        raise Http404("No organisation.")
    return request.organisation
