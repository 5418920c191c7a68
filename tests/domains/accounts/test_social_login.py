"""Social login (Google, generic OpenID Connect) through the real redirect dance.

Our side is Django's test client; the provider is tests/fakes/oidc_provider.py, a loopback OpenID
Connect provider built with Authlib, reached over real HTTP: the browser's step (authorize) with
`requests`, allauth's own steps (discovery, token, userinfo) from the view. Nothing in allauth or in
our adapter is mocked."""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.google import views as google_views
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client, RequestFactory
from joserfc import jwt
from joserfc.jwk import KeySet

from domains.accounts.models import Membership, Organisation, OrganisationSettings, SignupPolicy, User
from domains.compliance.models import AuditEvent, Consent
from domains.compliance.services import policy_publish
from project.settings.social import google_provider
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.fakes.oidc_provider import (  # noqa: F401 - fixtures
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    OIDC_PROVIDER_ID,
    FakeOIDCProvider,
    Identity,
    basic_auth,
    oidc_provider_fixture,
    oidc_provider_session_fixture,
)

pytestmark = pytest.mark.django_db

LOGIN = f"/accounts/oidc/{OIDC_PROVIDER_ID}/login/"
CALLBACK = f"http://testserver/accounts/oidc/{OIDC_PROVIDER_ID}/login/callback/"


@pytest.fixture
def policies() -> list:
    return [
        policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy"),
        policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms"),
    ]


@pytest.fixture
def signup_org() -> Organisation:
    return Organisation.objects.create(name="Coachwire Demo", slug="coachwire-demo")


def _start(client: Client, path: str = LOGIN, **params: str) -> str:
    """Click "Continue with …" (a POST, as the button does): our side answers with the redirect to
    the provider's authorization endpoint."""
    response = client.post(f"{path}?{urlencode(params)}" if params else path)
    assert response.status_code == 302, response.content
    return str(response["Location"])


def _authorize(url: str) -> str:
    """The browser at the provider: it approves and redirects back to our callback, which must be on
    the test client's host; the path and query to follow there."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc) == ("http", "testserver")
    return f"{back.path}?{back.query}"


def _social_login(client: Client, path: str = LOGIN, **params: str) -> Any:
    """The whole dance; the response of our callback."""
    return client.get(_authorize(_start(client, path, **params)))


def _signed_in_as(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def _actions(**filters: Any) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk").values_list("action", flat=True))


# ---------------------------------------------------------------- the loopback provider itself
def test_the_loopback_provider_speaks_openid_connect(oidc_provider: FakeOIDCProvider) -> None:
    """Discovery names every endpoint; authorize needs PKCE and gives a code; the token endpoint
    takes it once (client_secret_basic) with the verifier and answers an RS256 ID token that
    verifies with the JWKS; userinfo answers the identity for the access token."""
    config = requests.get(f"{oidc_provider.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert config["issuer"] == oidc_provider.issuer
    assert config["code_challenge_methods_supported"] == ["S256"]
    verifier = "v" * 43
    query = {
        "response_type": "code",
        "client_id": OIDC_CLIENT_ID,
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "xyz",
    }
    no_pkce = requests.get(config["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
    assert no_pkce.status_code == 302
    assert parse_qs(urlsplit(no_pkce.headers["Location"]).query)["error"] == ["invalid_request"]
    query |= {"code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
    approved = requests.get(config["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(approved.headers["Location"]).query)
    assert back["state"] == ["xyz"]
    form = {"grant_type": "authorization_code", "code": back["code"][0], "redirect_uri": CALLBACK}
    auth = {"Authorization": basic_auth(OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)}
    wrong = requests.post(config["token_endpoint"], data=form | {"code_verifier": "w" * 43}, headers=auth, timeout=10)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")

    approved = requests.get(config["authorization_endpoint"], params=query, allow_redirects=False, timeout=10)
    form["code"] = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    token = requests.post(config["token_endpoint"], data=form | {"code_verifier": verifier}, headers=auth, timeout=10)
    assert token.status_code == 200, token.text
    replay = requests.post(config["token_endpoint"], data=form | {"code_verifier": verifier}, headers=auth, timeout=10)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")

    keys = KeySet.import_key_set(requests.get(config["jwks_uri"], timeout=10).json())
    id_token = jwt.decode(token.json()["id_token"], keys, algorithms=["RS256"])
    assert id_token.header["alg"] == "RS256"
    assert id_token.claims["iss"] == oidc_provider.issuer
    assert id_token.claims["aud"] == [OIDC_CLIENT_ID]
    assert id_token.claims["sub"] == "fake-sub-1"
    assert id_token.claims["email_verified"] is True
    userinfo = requests.get(
        config["userinfo_endpoint"], headers={"Authorization": f"Bearer {token.json()['access_token']}"}, timeout=10
    )
    assert userinfo.json() == {
        "sub": "fake-sub-1",
        "email": "ada@example.test",
        "email_verified": True,
        "name": "Ada Lovelace",
    }
    refused = requests.get(config["userinfo_endpoint"], headers={"Authorization": "Bearer nope"}, timeout=10)
    assert refused.status_code == 401


def _id_token(provider: FakeOIDCProvider) -> str:
    """An ID token from the provider for its current identity, by the code flow with PKCE, as any
    relying party gets one."""
    verifier = "v" * 43
    approved = requests.get(
        provider.authorization_endpoint,
        params={
            "response_type": "code",
            "client_id": OIDC_CLIENT_ID,
            "redirect_uri": CALLBACK,
            "scope": "openid email profile",
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    token = requests.post(
        provider.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            "client_id": OIDC_CLIENT_ID,
            "client_secret": OIDC_CLIENT_SECRET,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    id_token: str = token.json()["id_token"]
    return id_token


def test_allauth_verifies_the_provider_id_token_with_its_jwks(oidc_provider: FakeOIDCProvider) -> None:
    """The provider's ID tokens pass allauth's own verification (`verify_token`: signature by the
    JWKS, issuer and audience from discovery), and one with a changed payload fails it. (In the
    web round trip allauth does not check the signature: it got the token from the provider itself.)"""
    id_token = _id_token(oidc_provider)
    request = RequestFactory().get("/")
    provider = get_adapter(request).get_provider(request, OIDC_PROVIDER_ID)
    login = provider.verify_token(request, {"id_token": id_token})
    assert login.account.uid == "fake-sub-1"
    assert oidc_provider.requests_to("/jwks") == [{}]
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(claims | {"sub": "someone-else"}).encode()).rstrip(b"=").decode()
    with pytest.raises(ValidationError):
        provider.verify_token(request, {"id_token": f"{header}.{forged}.{signature}"})


# ---------------------------------------------------------------- pages
def test_sign_in_and_sign_up_pages_offer_continue_with_each_configured_provider(
    client: Client, oidc_provider: FakeOIDCProvider
) -> None:
    """Each configured provider is a "Continue with <name>" POST button; Google, not configured
    here, is not offered."""
    for path in ("/accounts/login/", "/accounts/signup/"):
        page = client.get(path).content.decode()
        assert "Continue with Loopback SSO" in page
        assert f'action="{LOGIN}?process=login"' in page
        assert "Continue with Google" not in page


def test_a_get_on_the_login_address_only_asks_to_confirm(client: Client, oidc_provider: FakeOIDCProvider) -> None:
    """A link (GET) to the provider's login starts nothing: it shows a page whose button POSTs."""
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert b"Continue with Loopback SSO" in page.content
    assert oidc_provider.requests == []


# ---------------------------------------------------------------- first and second login
def test_a_first_login_creates_and_links_an_account_that_must_still_consent(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """The provider's verified identity becomes an account linked by `sub`, named by the provider,
    in the sign-up organisation as a learner; PKCE went both ways; the next page is the consent page."""
    oidc_provider.identity = Identity(
        sub="sub-ada", email="ada@example.test", email_verified=True, name="Ada  Lovelace"
    )

    response = _social_login(client)

    assert response.status_code == 302
    user = User.objects.get(email="ada@example.test")
    assert _signed_in_as(client) == user.pk
    assert user.display_name == "Ada Lovelace"
    assert not user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == (OIDC_PROVIDER_ID, "sub-ada")
    assert EmailAddress.objects.filter(user=user, email="ada@example.test", verified=True, primary=True).exists()
    assert Membership.objects.filter(user=user, organisation=signup_org, role="learner").exists()
    assert not Consent.objects.filter(user=user).exists()
    [authorize] = oidc_provider.requests_to("/authorize")
    assert authorize["code_challenge_method"] == "S256"
    assert len(authorize["code_challenge"]) == 43
    [token] = oidc_provider.requests_to("/token")
    assert len(token["code_verifier"]) >= 43
    assert len(oidc_provider.requests_to("/userinfo")) == 1
    assert _actions(actor=user) == [
        "user.signed_up",
        "auth.social_connected",
        "auth.login",
        "auth.social_login",
    ]
    social_login = AuditEvent.objects.get(action="auth.social_login")
    assert social_login.details == {"provider": OIDC_PROVIDER_ID, "uid": "sub-ada", "signup": True}

    home = client.get(response["Location"])
    assert home.status_code == 302
    assert home["Location"].startswith("/consent/")


def test_a_second_login_reuses_the_linked_account(
    oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """The same `sub` signs in to the account the first login made, even with a changed email; no
    second account or link is made."""
    oidc_provider.identity = Identity(sub="sub-ada", email="ada@example.test", email_verified=True)
    first = Client()
    _social_login(first)
    user = User.objects.get(email="ada@example.test")
    first.post("/consent/", {"accept_policies": "on", "next": "/"})

    oidc_provider.identity = Identity(sub="sub-ada", email="ada@elsewhere.test", email_verified=False)
    second = Client()
    response = _social_login(second)

    assert response.status_code == 302
    assert _signed_in_as(second) == user.pk
    assert User.objects.count() == 1
    assert SocialAccount.objects.filter(user=user).count() == 1
    logins = AuditEvent.objects.filter(action="auth.social_login").order_by("pk")
    assert list(logins.values_list("details", flat=True)) == [
        {"provider": OIDC_PROVIDER_ID, "uid": "sub-ada", "signup": True},
        {"provider": OIDC_PROVIDER_ID, "uid": "sub-ada", "signup": False},
    ]
    assert second.get("/").status_code == 200


# ---------------------------------------------------------------- account takeover
@pytest.mark.parametrize("email_verified", [False, "false", None])
def test_an_unverified_email_never_signs_in_to_an_existing_account(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation, email_verified: Any
) -> None:
    """A provider asserting alice's address without verifying it (false, the string "false", or no
    claim) gets no session, no link and no new account; alice's password still works."""
    alice = UserFactory.create(email="alice@example.test")
    oidc_provider.identity = Identity(sub="attacker", email="alice@example.test", email_verified=email_verified)

    response = _social_login(client)

    assert response.status_code == 403
    assert b'data-refusal="unverified_email"' in response.content
    assert _signed_in_as(client) is None
    assert not SocialAccount.objects.exists()
    assert list(User.objects.all()) == [alice]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    refused = AuditEvent.objects.get(action="auth.social_signup_refused")
    assert refused.details == {
        "provider": OIDC_PROVIDER_ID,
        "reason": "unverified_email",
        "email": "alice@example.test",
    }


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        (Identity(sub="s-1", email="new@example.test", email_verified=False), "unverified_email"),
        (Identity(sub="s-2", email=None, email_verified=None), "no_email"),
    ],
)
def test_a_first_login_without_a_verified_email_creates_nothing(
    client: Client,
    oidc_provider: FakeOIDCProvider,
    policies: list,
    signup_org: Organisation,
    identity: Identity,
    reason: str,
) -> None:
    """No account is made from an address the provider does not vouch for, or from none at all."""
    oidc_provider.identity = identity

    response = _social_login(client)

    assert response.status_code == 403
    assert f'data-refusal="{reason}"'.encode() in response.content
    assert _signed_in_as(client) is None
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_a_verified_email_of_an_existing_account_links_only_when_its_owner_connects(
    oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """Even a verified address does not sign in to alice's account (email authentication is off):
    she is told to sign in and connect. Signed in, she connects the provider; from then on the
    provider signs her in."""
    alice = UserFactory.create(email="alice@example.test")
    oidc_provider.identity = Identity(sub="sub-alice", email="alice@example.test", email_verified=True)
    stranger = Client()

    refused = _social_login(stranger)

    assert refused.status_code == 403
    assert b'data-refusal="email_in_use"' in refused.content
    assert _signed_in_as(stranger) is None
    assert not SocialAccount.objects.exists()

    owner = Client()
    assert owner.post("/accounts/login/", {"login": alice.email, "password": PASSWORD}).status_code == 302
    owner.post("/consent/", {"accept_policies": "on", "next": "/"})
    connected = _social_login(owner, process="connect")
    assert connected.status_code == 302
    assert connected["Location"] == "/accounts/3rdparty/"
    assert SocialAccount.objects.get(uid="sub-alice").user == alice
    assert AuditEvent.objects.filter(action="auth.social_connected", actor=alice).count() == 1
    page = owner.get("/accounts/3rdparty/").content.decode()
    assert "Loopback SSO" in page
    assert "Remove this connection" in page

    later = Client()
    assert _social_login(later).status_code == 302
    assert _signed_in_as(later) == alice.pk


# ---------------------------------------------------------------- the sign-up policy
def test_an_invite_only_organisation_refuses_a_new_social_account(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """Invite only: a first login through a provider makes no account, whatever the email."""
    OrganisationSettings.objects.create(organisation=signup_org, signup_policy=SignupPolicy.INVITE_ONLY)
    oidc_provider.identity = Identity(sub="sub-new", email="new@example.test", email_verified=True)

    response = _social_login(client)

    assert response.status_code == 403
    assert b'data-refusal="invite_only"' in response.content
    assert b"Coachwire Demo is invite only" in response.content
    assert _signed_in_as(client) is None
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


def test_an_email_domain_policy_refuses_other_domains(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """An email-domain organisation takes a social sign-up only from its domain."""
    OrganisationSettings.objects.create(
        organisation=signup_org, signup_policy=SignupPolicy.EMAIL_DOMAIN, signup_email_domain="school.test"
    )
    oidc_provider.identity = Identity(sub="sub-out", email="out@example.test", email_verified=True)
    assert _social_login(client).status_code == 403
    assert not User.objects.exists()

    oidc_provider.identity = Identity(sub="sub-in", email="in@school.test", email_verified=True)
    assert _social_login(Client()).status_code == 302
    assert Membership.objects.filter(user__email="in@school.test", organisation=signup_org).exists()


# ---------------------------------------------------------------- a broken round trip
def test_a_tampered_or_replayed_state_is_refused(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """A callback whose state this browser did not start gets the error page (401) and no session,
    before any code is exchanged; the genuine callback works once, and its replay is refused."""
    callback = _authorize(_start(client))
    path, query = callback.split("?", 1)
    params = parse_qs(query)
    tampered = {**{k: v[0] for k, v in params.items()}, "state": params["state"][0][:-1] + "X"}

    refused = client.get(f"{path}?{urlencode(tampered)}")

    assert refused.status_code == 401
    assert b"Sign-in failed" in refused.content
    assert _signed_in_as(client) is None
    assert oidc_provider.requests_to("/token") == []
    assert AuditEvent.objects.filter(action="auth.social_login_failed").count() == 1

    assert client.get(callback).status_code == 302
    assert _signed_in_as(client) is not None
    other = Client()
    assert other.get(callback).status_code == 401
    assert _signed_in_as(other) is None
    assert User.objects.count() == 1


def test_a_refusal_at_the_provider_signs_nobody_in(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """The person says no at the provider (access_denied): the cancelled page, nothing created."""
    oidc_provider.deny = True
    response = _social_login(client)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/3rdparty/login/cancelled/"
    assert _signed_in_as(client) is None
    assert not User.objects.exists()


# ---------------------------------------------------------------- Google
def test_continue_with_google_redirects_to_google_with_our_client_state_and_pkce(client: Client, settings: Any) -> None:
    """No network: the redirect to Google's own authorization endpoint carries our client id, our
    callback, a state this session holds, an S256 challenge and the OpenID scopes."""
    settings.SOCIALACCOUNT_PROVIDERS = {"google": google_provider(client_id="google-client-id", secret="g-secret")}
    assert b"Continue with Google" in client.get("/accounts/login/").content

    location = urlsplit(_start(client, "/accounts/google/login/"))

    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert query["client_id"] == "google-client-id"
    assert query["redirect_uri"] == "http://testserver/accounts/google/login/callback/"
    assert query["response_type"] == "code"
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert query["state"] in client.session["socialaccount_states"]
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43


def test_google_login_against_the_loopback_provider(
    client: Client,
    oidc_provider: FakeOIDCProvider,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    policies: list,
    signup_org: Organisation,
) -> None:
    """allauth's Google adapter reads its endpoints from SOCIALACCOUNT_PROVIDERS["google"] once, at
    import; pointed at the loopback provider (which plays Google, issuer included), a first login
    creates and links a Google account named from given and family names."""
    monkeypatch.setattr(google_views.GoogleOAuth2Adapter, "authorize_url", oidc_provider.authorization_endpoint)
    monkeypatch.setattr(google_views.GoogleOAuth2Adapter, "access_token_url", oidc_provider.token_endpoint)
    monkeypatch.setattr(google_views.GoogleOAuth2Adapter, "identity_url", oidc_provider.userinfo_endpoint)
    oidc_provider.register_client(
        "google-client-id",
        "g-secret",
        ["http://testserver/accounts/google/login/callback/"],
        id_token_issuer="https://accounts.google.com",
    )
    settings.SOCIALACCOUNT_PROVIDERS = {"google": google_provider(client_id="google-client-id", secret="g-secret")}
    oidc_provider.identity = Identity(
        sub="g-123",
        email="grace@example.test",
        email_verified=True,
        name=None,
        given_name="Grace",
        family_name="Hopper",
    )

    response = _social_login(client, "/accounts/google/login/")

    assert response.status_code == 302
    user = User.objects.get(email="grace@example.test")
    assert _signed_in_as(client) == user.pk
    assert user.display_name == "Grace Hopper"
    assert SocialAccount.objects.get(user=user).provider == "google"
    [token] = oidc_provider.requests_to("/token")
    assert token["client_id"] == "google-client-id"
    assert len(token["code_verifier"]) >= 43


# ---------------------------------------------------------------- connected accounts
def test_a_connection_is_removable_unless_it_is_the_only_way_in(
    client: Client, oidc_provider: FakeOIDCProvider, policies: list, signup_org: Organisation
) -> None:
    """/accounts/3rdparty/ lists the connection; an account made by a provider has no password, so
    its only connection cannot be removed; once it has a password, removing is audited and the
    provider no longer signs in to it."""
    oidc_provider.identity = Identity(sub="sub-ada", email="ada@example.test", email_verified=True)
    _social_login(client)
    client.post("/consent/", {"accept_policies": "on", "next": "/"})
    user = User.objects.get(email="ada@example.test")
    account = SocialAccount.objects.get(user=user)

    kept = client.post("/accounts/3rdparty/", {"account": account.pk})

    assert kept.status_code == 200
    assert b"Your account has no password set up." in kept.content
    assert SocialAccount.objects.filter(pk=account.pk).exists()

    user.set_password("another long passphrase")
    user.save(update_fields=["password"])
    client.force_login(user)
    removed = client.post("/accounts/3rdparty/", {"account": account.pk})

    assert removed.status_code == 302
    assert not SocialAccount.objects.filter(pk=account.pk).exists()
    audit = AuditEvent.objects.get(action="auth.social_disconnected")
    assert (audit.actor, audit.details) == (user, {"provider": OIDC_PROVIDER_ID, "uid": "sub-ada"})
    again = Client()
    assert _social_login(again).status_code == 403  # its verified email now belongs to an account
    assert _signed_in_as(again) is None


# ---------------------------------------------------------------- configuration
_OIDC_COMPLETE = {"OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s", "OIDC_SERVER_URL": "https://x"}


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"GOOGLE_CLIENT_ID": "g"}, "GOOGLE_CLIENT_ID is set, so GOOGLE_CLIENT_SECRET is needed too."),
        ({"OIDC_CLIENT_ID": "c", "OIDC_SERVER_URL": "https://id.example.test"}, "OIDC_CLIENT_SECRET is needed"),
        ({"OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s"}, "OIDC_SERVER_URL is needed"),
        (
            {"OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s", "OIDC_SERVER_URL": "http://id.example.test"},
            "OIDC_SERVER_URL must be an https:// URL",
        ),
        (
            {
                "OIDC_CLIENT_ID": "c",
                "OIDC_CLIENT_SECRET": "s",
                "OIDC_SERVER_URL": "https://x",
                "OIDC_PROVIDER_ID": "google",
            },
            "OIDC_PROVIDER_ID must be",
        ),
        (
            {
                "OIDC_CLIENT_ID": "c",
                "OIDC_CLIENT_SECRET": "s",
                "OIDC_SERVER_URL": "https://x",
                "OIDC_PROVIDER_ID": "a/b",
            },
            "OIDC_PROVIDER_ID must be",
        ),
    ],
)
def test_an_incomplete_or_unsafe_provider_configuration_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    """Settings refuse a half-configured provider and a provider URL over plain HTTP elsewhere than
    on this machine, naming the variable."""
    import project.settings.social as social_settings

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    try:
        with pytest.raises(ImproperlyConfigured, match=message):
            importlib.reload(social_settings)
    finally:
        monkeypatch.undo()
        importlib.reload(social_settings)


def test_a_complete_configuration_configures_both_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both providers from the environment, PKCE on, the OpenID Connect app under its id and name."""
    import project.settings.social as social_settings

    for name, value in {
        "GOOGLE_CLIENT_ID": "g-id",
        "GOOGLE_CLIENT_SECRET": "g-secret",
        "OIDC_CLIENT_ID": "o-id",
        "OIDC_CLIENT_SECRET": "o-secret",
        "OIDC_SERVER_URL": "https://id.example.test/realms/school/",
        "OIDC_PROVIDER_ID": "school",
        "OIDC_PROVIDER_NAME": "School login",
    }.items():
        monkeypatch.setenv(name, value)
    try:
        providers = importlib.reload(social_settings).SOCIALACCOUNT_PROVIDERS
    finally:
        monkeypatch.undo()
        importlib.reload(social_settings)
    assert providers["google"]["APPS"] == [{"client_id": "g-id", "secret": "g-secret"}]
    assert providers["google"]["OAUTH_PKCE_ENABLED"] is True
    assert providers["openid_connect"]["APPS"] == [
        {
            "provider_id": "school",
            "name": "School login",
            "client_id": "o-id",
            "secret": "o-secret",
            "settings": {"server_url": "https://id.example.test/realms/school", "oauth_pkce_enabled": True},
        }
    ]


@pytest.mark.parametrize(
    "path",
    ["/accounts/google/login/", "/accounts/google/login/callback/?code=x&state=y", "/accounts/google/login/token/"],
)
def test_an_installed_but_unconfigured_provider_is_404_not_500(client: Client, path: str) -> None:
    """With no GOOGLE_CLIENT_ID the Google addresses still exist (the provider app is installed):
    they answer 404, for a visitor and for a signed-in person alike."""
    assert client.get(path).status_code == 404
    client.force_login(UserFactory.create())
    assert client.get(path).status_code == 404
