"""Moving notes and coach threads out of `coaching` keeps an existing database's tables and data
(docs/decisions/0010-notes-and-coach.md).

A scratch database is migrated the way a deployment from before the move was (every app, `coaching`
only to its last migration), filled with rows there, then migrated by today's code: the same rows
come back through the new apps' models, in renamed tables, with their indexes and content types,
and writes work. Migrating the new apps back to zero restores the old names. Each step runs
`manage.py` in a subprocess, as an operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
SCRATCH = "coachwire_handover"

pytestmark = pytest.mark.django_db


def _conninfo(dbname: str) -> str:
    db = connection.settings_dict
    host = (db.get("OPTIONS") or {}).get("host") or db.get("HOST") or None
    return psycopg.conninfo.make_conninfo(
        dbname=dbname, user=db["USER"], password=db.get("PASSWORD") or None, host=host, port=db.get("PORT") or None
    )


@pytest.fixture
def scratch_env() -> Iterator[dict[str, str]]:
    """An empty database beside the test database, and the environment that points manage.py at it."""
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        admin.execute(f"CREATE DATABASE {SCRATCH}")
    owner_url = urlsplit(os.environ["DATABASE_OWNER_URL"])  # set by the embedded servers or the operator
    url = urlunsplit(owner_url._replace(path=f"/{SCRATCH}"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATABASE_OWNER_URL": url,
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
    }
    yield env
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


def _run(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _migrate(env: dict[str, str], *target: str) -> None:
    _run(env, "manage.py", "migrate", "--no-input", "-v", "0", *target)


def _report(env: dict[str, str]) -> dict[str, object]:
    return json.loads(_run(env, "-m", "tests.domains.notes.handover", "report"))


def _old_tables(env: dict[str, str]) -> list[str]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^(coaching|notes|coach)_'"
        ).fetchall()
    return sorted(row[0] for row in rows)


def test_an_existing_database_keeps_its_notes_and_threads_through_the_move(scratch_env: dict[str, str]) -> None:
    # given a database migrated and filled before the move
    _run(scratch_env, "-m", "tests.domains.notes.handover", "before")
    _run(scratch_env, "-m", "tests.domains.notes.handover", "seed")
    assert _old_tables(scratch_env) == [
        "coaching_coachthread",
        "coaching_note",
        "coaching_notechunk",
        "coaching_threadmessage",
    ]

    # when today's migrations run
    _migrate(scratch_env)

    # then the same rows are read through the new apps, in renamed tables with renamed indexes
    found = _report(scratch_env)
    assert found["tables"] == ["coach_coachthread", "coach_threadmessage", "notes_note", "notes_notechunk"]
    indexes = found["indexes"]
    assert isinstance(indexes, list)
    assert {"notes_chunk_embedding", "notes_chunk_search", "notes_note_owner", "coach_thread_recent"} <= set(indexes)
    # (Django finds the indexes it named itself, on foreign keys and primary keys, by introspection;
    # those keep their old names.)
    assert not {"coaching_chunk_embedding", "coaching_note_owner", "coaching_thread_recent"} & set(indexes)
    assert found["notes"] == [["STAR method", "private"], ["Salary negotiation", "lounge"]]
    assert found["chunks"] == 2
    assert found["search_top"] == "STAR method"
    assert found["messages"] == [["user", "How do I use STAR?"], ["coach", "Start with the situation."]]
    # the content types moved (with their permissions), none left behind, none duplicated
    assert found["content_types"] == [
        ["coach", "coachthread"],
        ["coach", "threadmessage"],
        ["notes", "note"],
        ["notes", "notechunk"],
    ]
    # and the identity sequence carried on past the seeded rows
    assert found["next_note"] == 3

    # when the move is migrated back
    _migrate(scratch_env, "notes", "zero")
    _migrate(scratch_env, "coach", "zero")

    # then the old tables hold the data again
    assert _old_tables(scratch_env) == [
        "coaching_coachthread",
        "coaching_note",
        "coaching_notechunk",
        "coaching_threadmessage",
    ]
    with psycopg.connect(scratch_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM coaching_note").fetchone() == (3,)


def test_a_fresh_database_ends_with_the_same_schema_as_the_models() -> None:
    """The test database itself was migrated from empty: coaching's tables were created and adopted,
    and the models' state matches the database (no pending model changes)."""
    from django.core.management import call_command

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('notes_note'), to_regclass('coach_threadmessage'), to_regclass('coaching_note')"
        )
        assert cursor.fetchone() == ("notes_note", "coach_threadmessage", None)
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
