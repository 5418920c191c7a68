"""Settings shared by every environment.

The environment is read here, through django-environ, and nowhere else. Per-integration
settings live in sibling modules (channels, celery, ai) imported at the bottom.
"""

from project.settings.environment import BASE_DIR, REDIS_MAX_CONNECTIONS, REDIS_URL, env

# ---------------------------------------------------------------- core
SECRET_KEY = env("SECRET_KEY", default="dev-insecure-0b1f2c3d4e5f-not-for-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_ID = 1
# The Sites row (domains/accounts/migrations/0002_site_name.py) and allauth's mail subjects carry
# the product's name, not Django's "example.com".
SITE_NAME = env("SITE_NAME", default="Coachwire")
SITE_DOMAIN = env("SITE_DOMAIN", default="localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "django_celery_beat",
    "django_prometheus",
    "pgtrigger",
    "pghistory",
    "rules.apps.AutodiscoverRulesConfig",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",  # active sessions: device, address, last seen (domains/accounts/sessions.py)
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.headless",  # app clients: JWT access and refresh tokens (domains/tokens, ADR 0014)
    "axes",
    "realtime",
    "corsheaders",
    "domains.accounts",
    "domains.compliance",
    "domains.mail",
    "domains.notifications",
    "domains.invitations",
    "domains.tokens",
    "domains.ai",
    "domains.lounges",
    "domains.coaching",  # retired: migrations only (ADR 0010)
    "domains.notes",
    "domains.coach",
    "domains.interviews",
    "domains.demo",  # the demo seed, above every domain
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # after whitenoise: static files need no policy
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",  # before CommonMiddleware (django-cors-headers' rule); /api/ only
    "django.middleware.common.CommonMiddleware",
    "project.middleware.StorableTextMiddleware",  # before anything reads a value: NUL in text is 400
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Keeps each session's row (device, address, last seen) current; allauth's own middleware
    # writes it on every request (USERSESSIONS_TRACK_ACTIVITY is off: project/settings/sessions.py).
    "domains.accounts.middleware.SessionActivityMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "domains.accounts.middleware.ActiveOrganisationMiddleware",
    "domains.compliance.middleware.ConsentRequiredMiddleware",
    # Last but for Prometheus' closing half (which must end the list): turns a lockout into its page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "domains.accounts.context_processors.navigation",
                "domains.notifications.context_processors.notifications",
            ],
        },
    },
]

# ---------------------------------------------------------------- data
# DATABASE_URL is always set: by the embedded launcher (`make run`, `make test`) or by the operator.
# It is the application role, which owns nothing (ARCHITECTURE.md §9). `migrate` runs with
# DATABASE_URL set to DATABASE_OWNER_URL, the owner role (project/run.py, docs/operations.md).
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@localhost:5432/coachwire")}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Servers pool their connections (psycopg pool, sized per process); tests set this to False.
DATABASE_POOL = env.bool("DATABASE_POOL", default=True)
DATABASE_POOL_MIN = env.int("DATABASE_POOL_MIN", default=2)
DATABASE_POOL_MAX = env.int("DATABASE_POOL_MAX", default=8)
if DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": DATABASE_POOL_MIN,
        "max_size": DATABASE_POOL_MAX,
        "timeout": 10,
    }


CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cw",
        "OPTIONS": {
            "CONNECTION_POOL_KWARGS": {"max_connections": REDIS_MAX_CONNECTIONS},
        },
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# ---------------------------------------------------------------- auth
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked (account, IP) pair before any backend checks the password.
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_FORMS = {"signup": "domains.accounts.forms.SignupForm"}
ACCOUNT_ADAPTER = "domains.accounts.adapter.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    # Per account only a slow-down for distributed guessing; the lockout is per (account, IP), in
    # django-axes (project/settings/security.py), so a stranger cannot lock the owner out.
    "login_failed": "10/m/ip,30/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# New sign-ups join this organisation as learners (the demo seeds it); empty means none.
SIGNUP_ORGANISATION_SLUG = env("SIGNUP_ORGANISATION_SLUG", default="coachwire-demo")

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / ".data" / "mail"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Coachwire <no-reply@coachwire.localhost>")

# ---------------------------------------------------------------- i18n, static
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# ---------------------------------------------------------------- security
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /metrics, and /healthz details, need `Authorization: Bearer <this>`; unset: only a process with
# MONITORING_OPEN (make run, on loopback: project/settings/dev.py) or DEBUG serves them.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
MONITORING_OPEN = False

# ---------------------------------------------------------------- logging
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=False)

from project.settings.logging import build_logging  # noqa: E402

LOGGING = build_logging(level=LOG_LEVEL, json=LOG_JSON)

SENTRY_DSN = env("SENTRY_DSN", default="")

# ---------------------------------------------------------------- integrations
from project.settings.ai import *  # noqa: E402
from project.settings.api import *  # noqa: E402
from project.settings.celery import *  # noqa: E402
from project.settings.channels import *  # noqa: E402
from project.settings.csp import *  # noqa: E402
from project.settings.interviews import *  # noqa: E402
from project.settings.invitations import *  # noqa: E402
from project.settings.lounges import *  # noqa: E402
from project.settings.mail import *  # noqa: E402
from project.settings.notes import *  # noqa: E402
from project.settings.notifications import *  # noqa: E402
from project.settings.security import *  # noqa: E402
from project.settings.sessions import *  # noqa: E402
from project.settings.social import *  # noqa: E402
from project.settings.tokens import *  # noqa: E402
