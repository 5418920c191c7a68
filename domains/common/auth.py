"""What authenticated an API request, for the domains that must tell the kinds apart.

`domains/tokens/auth.py` sets `request.auth` to a `BearerIdentity` for a bearer token (its `kind`
is "access" for an app's access token, "personal" for a personal access token; `session_key` the
access token's login session); for the session cookie it is the user. These read it without
importing the tokens domain, which sits above the others.
"""

from __future__ import annotations

from django.http import HttpRequest

PERSONAL = "personal"
ACCESS = "access"


def authenticated_by_personal_token(request: HttpRequest) -> bool:
    """Did a personal access token authenticate this API request? A script's token is scoped to one
    organisation and may not act on the account itself (sessions, password, activity)."""
    return getattr(getattr(request, "auth", None), "kind", None) == PERSONAL


def authenticated_by_app_token(request: HttpRequest) -> bool:
    """Did an app's access token (allauth headless JWT) authenticate this API request?"""
    return getattr(getattr(request, "auth", None), "kind", None) == ACCESS


def login_session_key(request: HttpRequest) -> str | None:
    """The login session behind an API request: an app access token's, or the cookie's; None for a
    personal access token (it has none)."""
    auth = getattr(request, "auth", None)
    if getattr(auth, "kind", None) in (PERSONAL, ACCESS):
        return getattr(auth, "session_key", None)
    session = getattr(request, "session", None)
    return getattr(session, "session_key", None)
