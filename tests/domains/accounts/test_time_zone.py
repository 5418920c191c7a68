"""The time zone a person saves in their settings is the one their pages show times in."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from domains.accounts.middleware import ActiveOrganisationMiddleware
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _zone_seen(user: object) -> str:
    """The current time zone as a view behind the middleware sees it."""
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    request = RequestFactory().get("/")
    request.user = user  # type: ignore[assignment]
    request.session = {}  # type: ignore[assignment]
    ActiveOrganisationMiddleware(view)(request)
    return seen[0]


def test_a_signed_in_persons_pages_use_their_time_zone_and_a_visitors_utc() -> None:
    from django.contrib.auth.models import AnonymousUser

    tokyo = UserFactory.create(time_zone="Asia/Tokyo")
    assert _zone_seen(tokyo) == "Asia/Tokyo"
    assert _zone_seen(AnonymousUser()) == "UTC"
