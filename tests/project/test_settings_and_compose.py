"""Production settings refuse to start without their configuration; the compose file is coherent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED | {"DJANGO_SETTINGS_MODULE"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="project.settings.production")
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def _production_env() -> dict[str, str]:
    return {
        "SECRET_KEY": "x" * 64 + "-A1b2C3d4E5f6G7h8",
        "ALLOWED_HOSTS": "coachwire.example",
        "DATABASE_URL": "postgres://coachwire:secret@db.invalid:5432/coachwire",
        "REDIS_URL": "redis://cache.invalid:6379/0",
    }


def test_production_refuses_to_start_without_each_required_variable() -> None:
    for missing in sorted(REQUIRED):
        env = {k: v for k, v in _production_env().items() if k != missing}
        result = _manage("check", env=env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr
        assert missing in result.stderr


def test_deploy_check_passes_under_production_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_defines_every_service_with_healthchecks_and_the_same_variables() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "valkey", "web", "worker", "worker-ai", "beat"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
    for name in ("web", "worker", "worker-ai", "beat"):
        environment = services[name]["environment"]
        keys = set(environment) if isinstance(environment, dict) else {e.split("=")[0] for e in environment}
        assert keys >= REQUIRED | {"DJANGO_SETTINGS_MODULE"}, name
    assert "pgvector/pgvector:0.8" in services["postgres"]["image"]
    assert "pg18" in services["postgres"]["image"]  # the embedded server's major version
    worker_ai = " ".join(services["worker-ai"]["command"])
    assert "-Q ai" in worker_ai
    assert "threads" in worker_ai
