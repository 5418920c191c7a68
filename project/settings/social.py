"""Social login: Google and generic OpenID Connect through allauth.socialaccount (docs/social-login.md).

Each provider is configured from the environment and appears on the sign-in and sign-up pages only
when its client id is set. The apps live here (SOCIALACCOUNT_PROVIDERS ... "APPS"), never in the
database. The rules (who may sign up, when an email links to an account, the audit) are in
domains/accounts/social.py.
"""

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from project.settings.environment import env

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
# Becomes a URL segment (/accounts/oidc/<id>/login/) and the stored provider of every linked
# account: a short slug, and not the id of a provider allauth already has installed.
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
_RESERVED_PROVIDER_IDS = {"google", "openid_connect"}


def _https_or_loopback(name: str, url: str) -> str:
    """A provider's URL: https, or plain http only on this machine (a development provider)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return url.rstrip("/")
    raise ImproperlyConfigured(f"{name} must be an https:// URL (http:// only for localhost), not {url!r}.")


def _required_with(name: str, value: str, *, needed_by: str) -> str:
    if not value:
        raise ImproperlyConfigured(f"{needed_by} is set, so {name} is needed too.")
    return value


# ---------------------------------------------------------------- Google
GOOGLE_CLIENT_ID: str = env("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET: str = env("GOOGLE_CLIENT_SECRET", default="")

# ---------------------------------------------------------------- one generic OpenID Connect provider
OIDC_CLIENT_ID: str = env("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET: str = env("OIDC_CLIENT_SECRET", default="")
OIDC_SERVER_URL: str = env("OIDC_SERVER_URL", default="")
OIDC_PROVIDER_ID: str = env("OIDC_PROVIDER_ID", default="sso")
OIDC_PROVIDER_NAME: str = env("OIDC_PROVIDER_NAME", default="Single sign-on")


def google_provider(*, client_id: str, secret: str) -> dict[str, Any]:
    """SOCIALACCOUNT_PROVIDERS["google"] for one app (the tests build theirs with this too)."""
    return {
        "APPS": [{"client_id": client_id, "secret": secret}],
        # "openid" too, so Google answers with an ID token carrying email_verified.
        "SCOPE": ["openid", "profile", "email"],
        "OAUTH_PKCE_ENABLED": True,
    }


def oidc_provider(*, provider_id: str, name: str, client_id: str, secret: str, server_url: str) -> dict[str, Any]:
    """SOCIALACCOUNT_PROVIDERS["openid_connect"] for one app (the tests build theirs with this too)."""
    if not _PROVIDER_ID.match(provider_id) or provider_id in _RESERVED_PROVIDER_IDS:
        raise ImproperlyConfigured(
            "OIDC_PROVIDER_ID must be 1-30 lowercase letters, digits, '-' or '_' (not 'google' or "
            f"'openid_connect'), not {provider_id!r}."
        )
    if not name.strip():
        raise ImproperlyConfigured("OIDC_PROVIDER_NAME must not be empty.")
    return {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": provider_id,
                "name": name.strip(),
                "client_id": client_id,
                "secret": secret,
                "settings": {
                    # The issuer; allauth appends /.well-known/openid-configuration for discovery.
                    "server_url": _https_or_loopback("OIDC_SERVER_URL", server_url),
                    "oauth_pkce_enabled": True,
                },
            }
        ],
    }


SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {}
if GOOGLE_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["google"] = google_provider(
        client_id=GOOGLE_CLIENT_ID,
        secret=_required_with("GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET, needed_by="GOOGLE_CLIENT_ID"),
    )
if OIDC_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = oidc_provider(
        provider_id=OIDC_PROVIDER_ID,
        name=OIDC_PROVIDER_NAME,
        client_id=OIDC_CLIENT_ID,
        secret=_required_with("OIDC_CLIENT_SECRET", OIDC_CLIENT_SECRET, needed_by="OIDC_CLIENT_ID"),
        server_url=_required_with("OIDC_SERVER_URL", OIDC_SERVER_URL, needed_by="OIDC_CLIENT_ID"),
    )

SOCIALACCOUNT_ADAPTER = "domains.accounts.social.SocialAccountAdapter"
# A provider's email never signs anyone in to an existing account by itself, even a verified one:
# that would hand every account to whoever controls a provider identity with its address (a
# provider that lets people claim addresses, a recycled mailbox). A person who already has an
# account signs in with it and connects the provider at /accounts/3rdparty/ (docs/social-login.md).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
# A first login creates the account at once (the rules in domains/accounts/social.py decide whether
# it may); the provider's email must be verified by the provider.
SOCIALACCOUNT_AUTO_SIGNUP = True
# A GET on a provider's login URL shows a confirmation page; only a POST (with CSRF) starts the
# redirect, so another site cannot start a login in someone's browser.
SOCIALACCOUNT_LOGIN_ON_GET = False
# Provider tokens are not kept: we only need the identity.
SOCIALACCOUNT_STORE_TOKENS = False
# Seconds allauth waits for the provider's token, userinfo and discovery endpoints.
SOCIALACCOUNT_REQUESTS_TIMEOUT = env.int("SOCIALACCOUNT_REQUESTS_TIMEOUT", default=5)
