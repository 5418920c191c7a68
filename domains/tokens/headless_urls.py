"""Mounted at /_allauth/app/ (project/urls.py; allauth's own `allauth.headless.urls` is not mounted):
our overrides first (rate limits, sign-up and provider sign-in refused), then allauth's whole app
client, each view behind `fresh_user` (see headless.py)."""

from __future__ import annotations

from allauth.headless.constants import Client
from allauth.headless.urls import build_urlpatterns
from django.urls import URLPattern, URLResolver, include, path

from domains.tokens import headless


def _fresh(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    """Every view in `patterns` (built fresh for us, so allauth's own stay untouched) behind `fresh_user`."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _fresh(pattern.url_patterns)
        else:
            pattern.callback = headless.fresh_user(pattern.callback)
    return patterns


# allauth's patterns carry their own namespaces ("account", "tokens", …): ours keeps them apart
# from the project's own (`tokens:` is /account/tokens/).
app_name = "tokens_headless"

overrides = [
    path("auth/login", headless.fresh_user(headless.login), name="login"),
    path("tokens/refresh", headless.refresh, name="refresh"),
    path("auth/signup", headless.signup_refused, name="signup"),
    path("auth/provider/signup", headless.social_refused, name="provider_signup"),
    path("auth/provider/token", headless.social_refused, name="provider_token"),
    path("auth/provider/redirect", headless.social_refused, name="provider_redirect"),
]

urlpatterns = [path("v1/", include(overrides)), *_fresh(build_urlpatterns(Client.APP))]
