"""What the headless app client may not bypass: sign-up rules (refused: sign up on the web), MFA
(allauth's second step), django-axes lockouts, and the rate limits on login and refresh."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.test import Client, override_settings

from domains.accounts.models import User
from tests.domains.tokens.helpers import LOGIN, REFRESH, SIGNUP, World, app_login, bearer, post_json
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP_REFUSED = {
    "status": 403,
    "errors": [
        {
            "message": "Sign-up is not available to app clients: create your account on the web sign-up page "
            "(it asks for your name and your consent to the policies), then sign in here.",
            "code": "signup_not_available",
        }
    ],
}


def test_app_sign_up_is_refused_and_creates_nothing(world: World) -> None:
    """allauth's headless sign-up lacks our consent, name and organisation-policy rules, so the app
    client's sign-up answers 403 with a clear error, and no account exists afterwards."""
    before = User.objects.count()

    response = post_json(Client(), SIGNUP, {"email": "new@example.test", "password": "a-long-new-password"})

    assert response.status_code == 403
    assert response.json() == SIGNUP_REFUSED
    assert User.objects.count() == before
    # allauth's config and its flows say so too (the account adapter closes sign-up for app clients).
    assert Client().get("/_allauth/app/v1/config").json()["data"]["account"]["is_open_for_signup"] is False
    flows = Client().get("/_allauth/app/v1/auth/session").json()["data"]["flows"]
    assert "signup" not in [flow["id"] for flow in flows]


@pytest.mark.parametrize(
    "path",
    [
        "/_allauth/app/v1/auth/provider/signup",
        "/_allauth/app/v1/auth/provider/token",
        "/_allauth/app/v1/auth/provider/redirect",
    ],
)
def test_app_social_sign_in_is_refused(world: World, path: str) -> None:
    """Provider sign-in from an app could create an account without consent: 403, clearly."""
    response = post_json(Client(), path, {"provider": "google", "process": "login", "token": {"id_token": "x"}})

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "provider_not_available"


def test_an_mfa_user_gets_allauth_s_second_step_before_any_token(world: World) -> None:
    """Given a person with TOTP, when the app signs in with the password, then no access token yet:
    401 with the pending `mfa_authenticate` flow and a session token; the code then completes it."""
    secret = "JBSWY3DPEHPK3PXP"
    TOTP.activate(world.learner, secret)

    first = post_json(Client(), LOGIN, {"email": world.learner.email, "password": PASSWORD})

    assert first.status_code == 401
    body = first.json()
    assert "access_token" not in body["meta"]
    assert {"id": "mfa_authenticate", "is_pending": True, "types": ["totp"]} in body["data"]["flows"]
    wrong = post_json(
        Client(),
        "/_allauth/app/v1/auth/2fa/authenticate",
        {"code": "000000"},
        **{"X-Session-Token": body["meta"]["session_token"]},
    )
    assert wrong.status_code == 400
    assert wrong.json() == {
        "status": 400,
        "errors": [{"message": "Incorrect code.", "code": "incorrect_code", "param": "code"}],
    }
    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    second = post_json(
        Client(),
        "/_allauth/app/v1/auth/2fa/authenticate",
        {"code": code},
        **{"X-Session-Token": body["meta"]["session_token"]},
    )
    assert second.status_code == 200, second.content
    access = second.json()["meta"]["access_token"]
    assert Client().get("/api/v1/notes", headers=bearer(access)).status_code == 200


def test_axes_locks_the_account_and_address_for_headless_logins_too(world: World) -> None:
    """Given AXES_FAILURE_LIMIT (5) wrong passwords from one address (the fifth already answers the
    lockout), then even the right password is refused from there: 429 with Retry-After (axes's
    lockout page, HTML), and no token."""
    for _ in range(4):
        wrong = post_json(Client(), LOGIN, {"email": world.learner.email, "password": "not-the-password"})
        assert wrong.status_code == 400
    fifth = post_json(Client(), LOGIN, {"email": world.learner.email, "password": "not-the-password"})

    locked = post_json(Client(), LOGIN, {"email": world.learner.email, "password": PASSWORD})

    for response in (fifth, locked):
        assert response.status_code == 429
        assert response["Retry-After"] == "300"  # AXES_COOLOFF_TIME
        assert response["Content-Type"].startswith("text/html")
        assert b"access_token" not in response.content


@override_settings(TOKENS_LOGIN_PER_MINUTE=2)
def test_logins_are_rate_limited_per_address_with_retry_after(world: World) -> None:
    """Past TOKENS_LOGIN_PER_MINUTE logins a minute from one address: 429, Retry-After, allauth's shape."""
    for _ in range(2):
        app_login(world.learner)

    refused = post_json(Client(), LOGIN, {"email": world.learner.email, "password": PASSWORD})

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 30
    assert refused.json() == {
        "status": 429,
        "errors": [{"message": "Too many requests from this address: try again later.", "code": "rate_limited"}],
    }


@override_settings(TOKENS_REFRESH_PER_MINUTE=1)
def test_refreshes_are_rate_limited_per_address_with_retry_after(world: World) -> None:
    """Nothing in allauth limits refreshes: past TOKENS_REFRESH_PER_MINUTE, 429 with Retry-After,
    and the refresh token is not used up by the refused call."""
    meta = app_login(world.learner)["meta"]
    first = post_json(Client(), REFRESH, {"refresh_token": meta["refresh_token"]})
    assert first.status_code == 200

    refused = post_json(Client(), REFRESH, {"refresh_token": first.json()["data"]["refresh_token"]})

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["code"] == "rate_limited"


@override_settings(ACCOUNT_RATE_LIMITS={"login": "1/m/ip", "login_failed": "100/m/ip"})
def test_allauth_s_own_login_limit_also_says_when_to_retry(world: World) -> None:
    """When allauth's own limit refuses (it sends no Retry-After), the answer gains Retry-After: 60."""
    app_login(world.learner)

    refused = post_json(Client(), LOGIN, {"email": world.learner.email, "password": PASSWORD})

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert refused.json() == {"status": 429}
