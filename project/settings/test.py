"""`make test`: real PostgreSQL and Valkey (embedded unless URLs are given), no pool, fast hashing."""

import copy

from project.settings.base import *
from project.settings.base import DATABASES
from project.settings.environment import env
from project.settings.logging import build_logging

DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
# Pools keep the test database busy at teardown (STACK-NOTES 20).
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
DATABASES["default"]["CONN_MAX_AGE"] = 0
# The application role (DATABASE_URL), as the product connects: the live stack's daphne and workers
# (tests/live.py) and the tests that prove the role's limits (tests/project/test_database_roles.py).
APPLICATION_DATABASE = copy.deepcopy(DATABASES["default"])
# The test process itself is the fixtures' side, so it connects as the owner (DATABASE_OWNER_URL), as
# `migrate` does: pytest-django creates, migrates and drops the test database, transactional tests
# flush it with TRUNCATE, and some tests rebuild indexes. Without an owner URL, one role does all.
if _owner_url := env("DATABASE_OWNER_URL", default=""):
    DATABASES["default"].update(env.db_url_config(_owner_url))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In-process tests read django.core.mail.outbox; the live stack's workers write files the browser
# tests read (tests/live.py sets EMAIL_BACKEND and EMAIL_FILE_PATH for them).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Unit tests run tasks in-process; the live-stack tests run real workers (tests/live.py).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
ACCOUNT_RATE_LIMITS = {"login_failed": "100/m/ip", "signup": "100/m/ip"}
LOGGING = build_logging(level=env("LOG_LEVEL", default="WARNING"), json=False)
