"""The one place that reads the process environment (through django-environ)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

REDIS_URL: str = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# redis-py 8 raises at once when its pool is full (STACK-NOTES 1): size every pool explicitly.
REDIS_MAX_CONNECTIONS: int = env.int("REDIS_MAX_CONNECTIONS", default=500)
