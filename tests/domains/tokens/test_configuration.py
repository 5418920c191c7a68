"""The JWT signing key: required in production, generated where no one configured one (make run:
once, into .data/; tests: per process), never in the repository. The schema declares both auths."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from project.settings import tokens as token_settings

ROOT = Path(__file__).resolve().parents[3]


def _production_check(**extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_FILE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings.production",
        SECRET_KEY="x" * 64 + "-A1b2C3d4E5f6G7h8",
        ALLOWED_HOSTS="coachwire.example",
        DATABASE_URL="postgres://coachwire:secret@db.invalid:5432/coachwire",
        REDIS_URL="redis://cache.invalid:6379/0",
        SITE_DOMAIN="coachwire.example",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_signing_key() -> None:
    result = _production_check()
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "JWT_PRIVATE_KEY" in result.stderr


def test_production_starts_with_a_key_file(tmp_path: Path) -> None:
    key = tmp_path / "jwt.pem"
    key.write_text(token_settings._generate_private_key())
    result = _production_check(JWT_PRIVATE_KEY_FILE=str(key))
    assert result.returncode == 0, result.stderr


def test_development_generates_its_key_once_private_to_the_owner(tmp_path: Path) -> None:
    path = tmp_path / ".data" / "jwt-private-key.pem"

    first = token_settings._development_key(path)
    second = token_settings._development_key(path)

    assert first == second
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["jwt-private-key.pem"]


def test_the_settings_are_as_documented() -> None:
    assert settings.HEADLESS_CLIENTS == ("app",)
    assert settings.HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED is True
    assert settings.HEADLESS_JWT_ROTATE_REFRESH_TOKEN is True
    assert settings.HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN == 300
    assert settings.HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN == 86400
    assert settings.HEADLESS_JWT_PRIVATE_KEY.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.django_db
def test_the_schema_declares_the_bearer_and_the_cookie_auth() -> None:
    schema = Client().get("/api/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["ThrottledSessionAuth"]["type"] == "apiKey"
    assert schema["paths"]["/api/v1/notes"]["get"]["security"] == [{"BearerAuth": []}, {"ThrottledSessionAuth": []}]
