"""Token auth for app clients: allauth headless JWTs, websocket tickets, personal access tokens
(domains/tokens, docs/token-auth.md, ADR 0014).

The JWT signing key (RS256, a PEM private key) comes from `JWT_PRIVATE_KEY` (the PEM text; `\\n`
escapes allowed) or `JWT_PRIVATE_KEY_FILE` (a path). Production refuses to start without one.
Without either, `make run` generates one once into `.data/jwt-private-key.pem` (mode 0600, never
committed: .data/ is ignored), and the test settings generate one per process (exported to the
environment, so the servers a test starts share it). No key is in the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from project.settings.environment import BASE_DIR, env

PRODUCTION_SETTINGS = "project.settings.production"
TEST_SETTINGS = "project.settings.test"


def _generate_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()


def _development_key(path: Path) -> str:
    """The key in `path`, generated there first if missing. Several processes of `make run` start
    at once: the first to link its file wins, the others read that one."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(_generate_private_key())
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
    return path.read_text()


def jwt_private_key(*, settings_module: str) -> str:
    """The PEM private key that signs access and refresh tokens (see the module docstring)."""
    pem = env.str("JWT_PRIVATE_KEY", default="").replace("\\n", "\n").strip()
    key_file = env.str("JWT_PRIVATE_KEY_FILE", default="")
    if not pem and key_file:
        pem = Path(key_file).read_text().strip()
    if pem:
        return pem + "\n"
    if settings_module == PRODUCTION_SETTINGS:
        raise ImproperlyConfigured(
            "Production needs these environment variables: JWT_PRIVATE_KEY (or JWT_PRIVATE_KEY_FILE), "
            "an RSA private key in PEM (docs/token-auth.md, 'Operating it')"
        )
    if settings_module == TEST_SETTINGS:
        generated = _generate_private_key()
        os.environ["JWT_PRIVATE_KEY"] = generated  # the live stack's servers inherit it
        return generated
    return _development_key(BASE_DIR / ".data" / "jwt-private-key.pem")


# ---------------------------------------------------------------- allauth headless (app clients)
# Only the app client: our own pages stay ordinary Django views with session cookies.
HEADLESS_CLIENTS = ("app",)
HEADLESS_TOKEN_STRATEGY = "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy"  # noqa: S105 - a class path
HEADLESS_JWT_ALGORITHM = "RS256"
HEADLESS_JWT_PRIVATE_KEY = jwt_private_key(settings_module=os.environ.get("DJANGO_SETTINGS_MODULE", ""))
# Seconds. The access token is checked against its session on every request (stateful), so logout
# or an ended session refuses it at once, whatever its lifetime.
HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = env.int("JWT_ACCESS_TOKEN_SECONDS", default=300)
HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN = env.int("JWT_REFRESH_TOKEN_SECONDS", default=86400)
HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED = True
HEADLESS_JWT_ROTATE_REFRESH_TOKEN = True  # a refresh token works once

# Per client address, a token bucket each (domains/tokens/headless.py), before allauth's own limits
# (ACCOUNT_RATE_LIMITS "login", "login_failed"). 0 turns a bucket off.
TOKENS_LOGIN_PER_MINUTE = env.int("TOKENS_LOGIN_PER_MINUTE", default=30)
TOKENS_REFRESH_PER_MINUTE = env.int("TOKENS_REFRESH_PER_MINUTE", default=60)

# ---------------------------------------------------------------- websocket tickets
WS_TICKET_TTL_SECONDS = env.int("WS_TICKET_TTL_SECONDS", default=30)
WS_TICKET_PER_MINUTE = env.int("WS_TICKET_PER_MINUTE", default=30)  # per person

# ---------------------------------------------------------------- personal access tokens
PAT_MAX_DAYS = env.int("PAT_MAX_DAYS", default=366)
PAT_MAX_ACTIVE = env.int("PAT_MAX_ACTIVE", default=50)  # unrevoked, unexpired tokens per person
PAT_CREATE_PER_HOUR = env.int("PAT_CREATE_PER_HOUR", default=20)  # per person
# `last_used_at` is written at most this often per token (a script calling in a loop would
# otherwise write a row per request).
PAT_LAST_USED_RESOLUTION_SECONDS = env.int("PAT_LAST_USED_RESOLUTION_SECONDS", default=60)
