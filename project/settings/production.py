"""Production: refuses to start without its required configuration."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.base import *
from project.settings.environment import env
from project.settings.logging import build_logging

_REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "SITE_DOMAIN")
_missing = [name for name in _REQUIRED if not env.str(name, default="")]
# The token signing key may come as text or as a file (project/settings/tokens.py). Checked here too,
# not only by the settings module's name there: a site module that wraps this one must not sign
# tokens with a key generated on the spot.
if not (env.str("JWT_PRIVATE_KEY", default="") or env.str("JWT_PRIVATE_KEY_FILE", default="")):
    _missing.append("JWT_PRIVATE_KEY (or JWT_PRIVATE_KEY_FILE)")
if _missing:
    raise ImproperlyConfigured(f"Production needs these environment variables: {', '.join(_missing)}")

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes and scrapers reach each daphne process over plain HTTP on the private network; a redirect
# would only fail them (and repeat the bearer token). Matched against the path without its "/".
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
# Safe only behind a proxy that overwrites X-Forwarded-Proto on every request (docs/operations.md):
# a client reaching daphne directly could otherwise claim HTTPS. Client IPs: TRUSTED_PROXIES.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LOGGING = build_logging(level=LOG_LEVEL, json=True)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "project.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(dsn=SENTRY_DSN, send_default_pii=False, traces_sample_rate=0.0)

# Links in emails (allauth's, the notifications' and their one-click unsubscribe, which RFC 8058
# requires over HTTPS) are absolute: https://SITE_DOMAIN/... (SITE_SCHEME=http only for a local
# compose run without TLS).
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("SITE_SCHEME", default="https")
