"""The application connects as a role that owns nothing (ARCHITECTURE.md §9, decision 0008).

The test process is the owner (it creates, migrates and flushes the test database), so these tests
open their own psycopg connection as the application role, the role `make run`, the live stack and
production serve with, and prove on it what that role may and may not do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from psycopg import errors, sql

from domains.compliance.models import AuditEvent
from tests.live import LiveStack

AUDIT_TABLE = AuditEvent._meta.db_table


def _application_conninfo() -> str:
    """The test database, reached as the application role (DATABASE_URL's user and password)."""
    role = settings.APPLICATION_DATABASE
    db = connection.settings_dict
    host = (db.get("OPTIONS") or {}).get("host") or db.get("HOST") or None
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=role["USER"],
        password=role.get("PASSWORD") or None,
        host=host,
        port=db.get("PORT") or None,
    )


def _owner_conninfo() -> str:
    """The test database as the owner (this test process's own role)."""
    db = connection.settings_dict
    host = (db.get("OPTIONS") or {}).get("host") or db.get("HOST") or None
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"], user=db["USER"], password=db.get("PASSWORD") or None, host=host, port=db.get("PORT") or None
    )


@pytest.fixture
def app_db() -> Iterator[psycopg.Connection[Any]]:
    """A connection as the application role, in one transaction that is rolled back at the end.

    `lock_timeout`: a refused statement must fail, never wait behind the test's own transaction."""
    with psycopg.connect(_application_conninfo(), options="-c lock_timeout=5s") as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def _audit_trigger_name() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [AUDIT_TABLE])
        (name,) = cursor.fetchone()
    return str(name)


def _insert_audit_row(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {} (actor_label, action, target_type, target_id, target_label, details, user_agent,"
            " request_id, created_at) VALUES ('someone', 'role.probe', '', '', '', '{{}}', '', '', now())"
            " RETURNING id"
        ).format(sql.Identifier(AUDIT_TABLE))
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.django_db
def test_the_application_role_is_no_superuser_and_owns_nothing(app_db: psycopg.Connection[Any]) -> None:
    """The role the product connects as is not the owner, not a superuser, cannot create roles or
    databases, bypasses no row-level security, is no member of the owner, and owns no relation,
    function or database."""
    # given the application role's own connection
    owner = connection.settings_dict["USER"]
    # when it looks at itself
    row = app_db.execute(
        "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication,"
        " pg_has_role(current_user, %s, 'MEMBER'),"
        " (SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole),"
        " (SELECT count(*) FROM pg_proc WHERE proowner = current_user::regrole),"
        " (SELECT count(*) FROM pg_database WHERE datdba = current_user::regrole)"
        " FROM pg_roles WHERE rolname = current_user",
        [owner],
    ).fetchone()
    # then
    assert row is not None
    user, superuser, createdb, createrole, bypassrls, replication, member_of_owner, *owned = row
    assert user != owner
    assert (superuser, createdb, createrole, bypassrls, replication, member_of_owner) == (False,) * 6
    assert owned == [0, 0, 0]


@pytest.mark.django_db
def test_the_application_role_reads_and_writes_what_the_migrations_made(app_db: psycopg.Connection[Any]) -> None:
    """Every table the owner's migrations created is readable and writable by the application role
    (default privileges), except that the audit table takes inserts only; no table may be truncated,
    referenced or given triggers by it; and it writes an audit row for real."""
    # given the tables and sequences in the test database, created by the owner's migrations
    app_role = settings.APPLICATION_DATABASE["USER"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relkind,"
            " has_table_privilege(%(role)s, c.oid, 'SELECT'), has_table_privilege(%(role)s, c.oid, 'INSERT'),"
            " has_table_privilege(%(role)s, c.oid, 'UPDATE'), has_table_privilege(%(role)s, c.oid, 'DELETE'),"
            " has_table_privilege(%(role)s, c.oid, 'TRUNCATE, REFERENCES, TRIGGER')"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'",
            {"role": app_role},
        )
        tables = {name: tuple(privileges) for name, _, *privileges in cursor.fetchall()}
        cursor.execute(
            "SELECT count(*) FILTER (WHERE NOT has_sequence_privilege(%s, c.oid, 'USAGE, SELECT, UPDATE')), count(*)"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'",
            [app_role],
        )
        sequences_refused, sequences = cursor.fetchone()
    # then
    assert len(tables) > 20
    assert sequences > 20
    assert tables.pop(AUDIT_TABLE) == (True, True, False, False, False)
    assert {name: privileges for name, privileges in tables.items() if privileges != (True,) * 4 + (False,)} == {}
    assert sequences_refused == 0
    # and when the application role records and reads an audit event itself
    event_id = _insert_audit_row(app_db)
    found = app_db.execute(
        sql.SQL("SELECT action FROM {} WHERE id = %s").format(sql.Identifier(AUDIT_TABLE)), [event_id]
    ).fetchone()
    assert found == ("role.probe",)


@pytest.mark.django_db
def test_a_table_a_later_migration_creates_is_granted_to_the_application_role_by_default() -> None:
    """Default privileges on the owner's schema: a table the owner creates later is the application
    role's to read and write at once, and still not to truncate."""
    # given the owner (this test's connection), creating a table as a later migration would
    app_role = settings.APPLICATION_DATABASE["USER"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE roles_probe_later (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
        # when the privileges are read (in this transaction, which rolls the table back)
        cursor.execute(
            "SELECT has_table_privilege(%(role)s, 'roles_probe_later', 'SELECT, INSERT, UPDATE, DELETE'),"
            " has_table_privilege(%(role)s, 'roles_probe_later', 'SELECT'),"
            " has_table_privilege(%(role)s, 'roles_probe_later', 'INSERT'),"
            " has_table_privilege(%(role)s, 'roles_probe_later', 'TRUNCATE'),"
            " has_sequence_privilege(%(role)s, pg_get_serial_sequence('roles_probe_later', 'id'), 'USAGE')",
            {"role": app_role},
        )
        any_dml, select, insert, truncate, sequence_usage = cursor.fetchone()
    # then
    assert (any_dml, select, insert, truncate, sequence_usage) == (True, True, True, False, True)


# Each is one way to rewrite, remove or unprotect audit history; `{trigger}` is the append-only trigger.
REFUSED: dict[str, tuple[str, ...]] = {
    "update": ("UPDATE {table} SET action = 'rewritten' WHERE id = %(id)s",),
    "delete": ("DELETE FROM {table} WHERE id = %(id)s",),
    # pgtrigger's own escape hatch: any session may name a trigger in `pgtrigger.ignore`, and the
    # trigger then lets the statement through; the grants do not.
    "update under pgtrigger.ignore": (
        "SELECT set_config('pgtrigger.ignore', '{{{trigger}}}', true)",
        "UPDATE {table} SET action = 'rewritten' WHERE id = %(id)s",
    ),
    "truncate": ("TRUNCATE {table}",),
    "disable the trigger": ("ALTER TABLE {table} DISABLE TRIGGER {trigger}",),
    "disable every trigger": ("ALTER TABLE {table} DISABLE TRIGGER ALL",),
    "drop the trigger": ("DROP TRIGGER {trigger} ON {table}",),
    "replace the trigger's function": (
        "CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    ),
    "drop the table": ("DROP TABLE {table}",),
    "take the table": ("ALTER TABLE {table} OWNER TO CURRENT_USER",),
    # Replica mode skips ordinary triggers; only a superuser may set it.
    "skip triggers as a replica": ("SET session_replication_role = replica",),
}


def _execute_all(app_db: psycopg.Connection[Any], statements: tuple[str, ...], *, event_id: int, trigger: str) -> None:
    for statement in statements:
        query = statement.format(table=AUDIT_TABLE, trigger=trigger)
        app_db.execute(query.encode(), {"id": event_id} if "%(id)s" in query else None)


@pytest.mark.django_db
@pytest.mark.parametrize("statements", REFUSED.values(), ids=REFUSED.keys())
def test_the_application_role_cannot_rewrite_remove_or_unprotect_audit_history(
    app_db: psycopg.Connection[Any], statements: tuple[str, ...]
) -> None:
    """From the application role, an audit row cannot be updated or deleted (not even by asking the
    trigger to ignore itself), and the table cannot be truncated, dropped, taken over or have its
    trigger disabled, dropped or replaced: each is refused for lack of privilege, and the row stays."""
    # given an audit event the application role recorded
    event_id = _insert_audit_row(app_db)
    trigger = _audit_trigger_name()
    # when it tries
    with pytest.raises(errors.InsufficientPrivilege), app_db.transaction():
        _execute_all(app_db, statements, event_id=event_id, trigger=trigger)
    # then the event is as it was, and the trigger still guards the table
    found = app_db.execute(
        sql.SQL("SELECT action FROM {} WHERE id = %s").format(sql.Identifier(AUDIT_TABLE)), [event_id]
    ).fetchone()
    assert found == ("role.probe",)
    enabled = app_db.execute(
        "SELECT tgenabled FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [AUDIT_TABLE]
    ).fetchone()
    assert enabled == ("O",)


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_live_stack_serves_as_the_application_role(live_stack: LiveStack) -> None:
    """daphne, started as production starts it, queries the database as the application role, not
    as the owner or a superuser: caught in the act, waiting on a lock the test holds."""
    # given a login form, and the lockout table (which every login attempt reads) locked by the owner
    from axes.models import AccessAttempt

    cookies: dict[str, str] = {}
    token = live_stack.csrf_token(cookies, "/accounts/login/")
    table = AccessAttempt._meta.db_table
    with psycopg.connect(_owner_conninfo()) as holder:
        holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
        # when a login attempt reaches daphne
        with ThreadPoolExecutor(max_workers=1) as pool:
            attempt = pool.submit(
                live_stack.http,
                "POST",
                "/accounts/login/",
                cookies=cookies,
                data={"csrfmiddlewaretoken": token, "login": "nobody@example.test", "password": "wrong"},
                timeout=30,
            )
            waiting: list[str] = []
            deadline = time.monotonic() + 20
            while not waiting and time.monotonic() < deadline:
                # From another session: in the holder's transaction pg_stat_activity is a snapshot.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT a.usename FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE NOT l.granted AND l.relation = %s::regclass",
                        [table],
                    )
                    waiting = [name for (name,) in cursor.fetchall()]
                if not waiting:
                    time.sleep(0.05)  # polling for the request to arrive, not asserting a duration
            holder.rollback()  # release the lock: the request then finishes
            response = attempt.result(timeout=30)
    # then the session that waited was the application role's, and the request went on to answer
    assert waiting == [settings.APPLICATION_DATABASE["USER"]]
    assert response.status == 200
