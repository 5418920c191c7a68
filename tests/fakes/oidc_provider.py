"""A loopback OpenID Connect provider built with Authlib, speaking the real protocol over real HTTP.

It runs on 127.0.0.1 in a thread (pytest-socket allows loopback: pytest.ini) and serves:

- `GET /.well-known/openid-configuration`: discovery (validated with Authlib's metadata model);
- `GET /authorize`: the authorization endpoint. It signs nobody in: it approves `identity` at once
  (or refuses, `deny = True`) and redirects back with a code and the client's `state`;
- `POST /token`: authorization code grant; the client authenticates with `client_secret_post` or
  `client_secret_basic`; PKCE (S256) is required (`require_pkce`); the answer carries an ID token
  signed RS256 with a key generated at start (none is stored on disk);
- `GET /userinfo`: the identity's claims for a bearer access token, filtered by the granted scope;
- `GET /jwks`: the public key.

    provider = FakeOIDCProvider().start()
    provider.register_client("coachwire", "s3cret", ["http://testserver/accounts/oidc/sso/login/callback/"])
    provider.identity = Identity(sub="u-1", email="ada@example.test", email_verified=True, name="Ada")
    ...
    provider.stop()

The `oidc_provider` fixture starts one for the test session, resets it per test, and points
allauth's generic OpenID Connect app (provider id `sso`) at it. Import both fixtures into a test
module or conftest under their function names:

    from tests.fakes.oidc_provider import oidc_provider_fixture, oidc_provider_session_fixture  # noqa: F401
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    ResourceProtector,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import RSAKey

from project.settings.social import oidc_provider as oidc_provider_settings

SCOPES = ["openid", "profile", "email"]
AUTH_METHODS = ["client_secret_post", "client_secret_basic"]


@dataclass
class Identity:
    """The person the provider approves. `email_verified` is sent as given (a bool, or a string as
    some providers send it)."""

    sub: str = "fake-sub-1"
    email: str | None = "ada@example.test"
    email_verified: Any = True
    name: str | None = "Ada Lovelace"
    given_name: str | None = None
    family_name: str | None = None

    def claims(self) -> dict[str, Any]:
        claims = {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "given_name": self.given_name,
            "family_name": self.family_name,
        }
        return {key: value for key, value in claims.items() if value is not None}


@dataclass
class Client:
    """A registered relying party (implements Authlib's ClientMixin)."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    # The ID token's `iss`; None: the provider's own issuer. (The Google test plays Google's.)
    id_token_issuer: str | None = None
    client_metadata: dict[str, Any] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        requested = (scope or "").split()
        return " ".join(s for s in requested if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(client_secret) and client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    identity: Identity
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class Token:
    access_token: str
    scope: str
    client: Client
    identity: Identity
    issued_at: float
    expires_in: int

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> Identity:
        return self.identity

    def get_client(self) -> Client:
        return self.client


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return {key: values[0] for key, values in self._values.items() if values}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._values)


class _Request(OAuth2Request):
    """An HTTP request as Authlib's core wants it (what its Flask and Django integrations build)."""

    def __init__(self, method: str, uri: str, headers: Any, query: dict[str, list[str]], form: dict[str, list[str]]):
        super().__init__(method, uri, headers=headers)
        self._query = query
        self._form = form
        merged: dict[str, list[str]] = {key: list(values) for key, values in query.items()}
        for key, values in form.items():
            merged.setdefault(key, []).extend(values)
        self.payload = _Payload(merged)

    @property
    def args(self) -> dict[str, str]:
        return {key: values[0] for key, values in self._query.items() if values}

    @property
    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in self._form.items() if values}


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        provider: FakeOIDCProvider = self.server.provider
        provider.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            identity=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            nonce=data.get("nonce"),
            auth_time=int(time.time()),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        item = self.server.provider.codes.get(code)
        return item if item is not None and item.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Single use: a replayed code is refused with invalid_grant.
        self.server.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Identity:
        return authorization_code.identity


class _StrictCodeChallenge(CodeChallenge):
    """PKCE for every client, confidential ones too, and only S256 (`require_pkce` turns it off)."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if grant.server.provider.require_pkce:
            if not data.get("code_challenge"):
                raise InvalidRequestError("Missing 'code_challenge'", redirect_uri=redirect_uri)
            if data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("'code_challenge_method' must be S256", redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: FakeOIDCProvider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(code.nonce == nonce for code in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.kid, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": client.id_token_issuer or self.provider.issuer, "aud": [client.client_id]}

    def generate_user_info(self, user: Identity, scope: str) -> UserInfo:
        return UserInfo(user.claims()).filter(scope)


class _BearerValidator(BearerTokenValidator):
    def __init__(self, provider: FakeOIDCProvider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> Token | None:
        return self.provider.tokens.get(token_string)


class _Protector(ResourceProtector):
    """Authlib's generic protector; its UserInfoEndpoint asks for the token without the request
    (the Flask integration reads a global), so the request is handed over per thread."""

    def __init__(self, provider: FakeOIDCProvider) -> None:
        super().__init__()
        self.current = threading.local()
        self.register_token_validator(_BearerValidator(provider))

    def acquire_token(self, scopes: str | list[str]) -> Token:
        wanted = [scopes] if isinstance(scopes, str) else list(scopes)
        token: Token = self.validate_request(wanted, self.current.request)
        return token


class _UserInfo(UserInfoEndpoint):
    def create_endpoint_request(self, request: OAuth2Request) -> OAuth2Request:
        assert isinstance(self.resource_protector, _Protector)
        self.resource_protector.current.request = request
        return request

    def get_issuer(self) -> str:
        return self.server.provider.issuer

    def generate_user_info(self, user: Identity, scope: str) -> UserInfo:
        return UserInfo(user.claims()).filter(scope)


class _Server(AuthorizationServer):
    def __init__(self, provider: FakeOIDCProvider) -> None:
        super().__init__(scopes_supported=SCOPES)
        self.provider = provider
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **kwargs: generate_token(42),
                expires_generator=lambda client, grant_type: 3600,
            ),
        )

    def query_client(self, client_id: str) -> Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.provider.tokens[token["access_token"]] = Token(
            access_token=token["access_token"],
            scope=token.get("scope", ""),
            client=request.client,
            identity=request.user,
            issued_at=time.time(),
            expires_in=int(token.get("expires_in", 3600)),
        )

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers or [])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class FakeOIDCProvider:
    """The provider. Attributes a test sets: `identity` (who is approved), `deny` (refuse instead),
    `require_pkce`. It records `requests` as (method, path, parameters) for assertions."""

    def __init__(self) -> None:
        self.kid = generate_token(12)
        self.key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig", "alg": "RS256"}, private=True)
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, Token] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.identity = Identity()
        self.deny = False
        self.require_pkce = True
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None
        self.server = _Server(self)
        self.server.register_grant(_CodeGrant, [_StrictCodeChallenge(required=True), _OpenIDCode(self)])
        self.server.register_endpoint(_UserInfo(resource_protector=_Protector(self)))

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/userinfo"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    def start(self) -> FakeOIDCProvider:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-oidc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._thread = None

    def reset(self) -> None:
        with self._lock:
            self.clients.clear()
            self.codes.clear()
            self.tokens.clear()
            self.requests.clear()
            self.identity = Identity()
            self.deny = False
            self.require_pkce = True

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str], *, id_token_issuer: str | None = None
    ) -> Client:
        client = Client(client_id, client_secret, list(redirect_uris), id_token_issuer=id_token_issuer)
        self.clients[client_id] = client
        return client

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """The parameters of each request the provider received at `path`, in order."""
        return [params for _, p, params in self.requests if p == path]

    def discovery(self) -> dict[str, Any]:
        metadata = OpenIDProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=self.authorization_endpoint,
            token_endpoint=self.token_endpoint,
            userinfo_endpoint=self.userinfo_endpoint,
            jwks_uri=self.jwks_uri,
            scopes_supported=SCOPES,
            response_types_supported=["code"],
            grant_types_supported=["authorization_code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            token_endpoint_auth_methods_supported=AUTH_METHODS,
            code_challenge_methods_supported=["S256"],
            claims_supported=["sub", "email", "email_verified", "name", "given_name", "family_name"],
        )
        metadata.validate()
        return dict(metadata)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    # ---------------------------------------------------------------- endpoints
    def handle(self, method: str, url: str, headers: Any, body: bytes) -> tuple[int, Any, list[tuple[str, str]]]:
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
        form: dict[str, list[str]] = {}
        if method == "POST" and "application/x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
            form = parse_qs(body.decode(), keep_blank_values=True)
        params = {key: values[0] for key, values in {**query, **form}.items() if values}
        with self._lock:
            self.requests.append((method, parts.path, params))
        json_headers = [("Content-Type", "application/json")]
        if parts.path == "/.well-known/openid-configuration" and method == "GET":
            return 200, self.discovery(), json_headers
        if parts.path == "/jwks" and method == "GET":
            return 200, self.jwks(), json_headers
        request = _Request(method, url, headers, query, form)
        if parts.path == "/authorize" and method == "GET":
            return self._authorize(request)
        if parts.path == "/token" and method == "POST":
            return self.server.create_token_response(request)
        if parts.path == "/userinfo" and method in ("GET", "POST"):
            return self.server.create_endpoint_response("userinfo", request)
        return 404, {"error": "not_found"}, json_headers

    def _authorize(self, request: _Request) -> tuple[int, Any, list[tuple[str, str]]]:
        try:
            grant = self.server.get_consent_grant(request, end_user=self.identity)
        except OAuth2Error as error:
            return self.server.handle_error_response(request, error)
        user = None if self.deny else self.identity
        return self.server.create_authorization_response(request, grant_user=user, grant=grant)


def _handler_for(provider: FakeOIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = f"{provider.issuer}{self.path}"
            try:
                status, payload, headers = provider.handle(method, url, self.headers, body)
            except Exception as exc:  # noqa: BLE001 - a bug in the fake answers 500 and says what, never hangs
                status, payload, headers = 500, {"error": "server_error", "detail": repr(exc)}, []
            data = (
                payload
                if isinstance(payload, bytes)
                else (json.dumps(payload).encode() if isinstance(payload, dict) else str(payload or "").encode())
            )
            self.send_response(status)
            names = {name.lower() for name, _ in headers}
            for name, value in headers:
                self.send_header(name, value)
            if "content-type" not in names and isinstance(payload, dict):
                self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


def basic_auth(client_id: str, secret: str) -> str:
    """An HTTP Basic `Authorization` value (client_secret_basic)."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# ---------------------------------------------------------------- pytest fixtures
OIDC_PROVIDER_ID = "sso"
OIDC_PROVIDER_NAME = "Loopback SSO"
OIDC_CLIENT_ID = "coachwire-test"
OIDC_CLIENT_SECRET = "loopback-secret-not-a-real-one"


@pytest.fixture(scope="session", name="oidc_provider_session")
def oidc_provider_session_fixture() -> Iterator[FakeOIDCProvider]:
    provider = FakeOIDCProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(name="oidc_provider")
def oidc_provider_fixture(oidc_provider_session: FakeOIDCProvider, settings: Any) -> Iterator[FakeOIDCProvider]:
    """The session's provider, reset, with our client registered for the test client's callback
    (http://testserver/accounts/oidc/sso/login/callback/), and allauth's generic OpenID Connect app
    configured as project/settings/social.py builds it from OIDC_* variables, at its URL."""
    provider = oidc_provider_session
    provider.reset()
    provider.register_client(
        OIDC_CLIENT_ID,
        OIDC_CLIENT_SECRET,
        [f"http://testserver/accounts/oidc/{OIDC_PROVIDER_ID}/login/callback/"],
    )
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "openid_connect": oidc_provider_settings(
            provider_id=OIDC_PROVIDER_ID,
            name=OIDC_PROVIDER_NAME,
            client_id=OIDC_CLIENT_ID,
            secret=OIDC_CLIENT_SECRET,
            server_url=provider.issuer,
        ),
    }
    yield provider
    provider.reset()
