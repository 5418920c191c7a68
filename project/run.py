"""`make run`: the whole product on one machine, on embedded defaults.

1. Start embedded PostgreSQL (pgvector) and Valkey under .data/, unless DATABASE_URL / REDIS_URL are set;
   the embedded PostgreSQL has an owner role and an application role (project/embedded.py).
2. Migrate as the owner (DATABASE_OWNER_URL), and seed the idempotent demo as the application.
3. Run the Procfile (daphne, both Celery workers, beat) through honcho, `worker-ai` as many times as
   AI_WORKER_PROCESSES says (workers/sizing.py: by default one per core, at most 4).
4. Print boot progress, then the URL and the demo logins.
Ctrl-C, SIGINT, SIGTERM or SIGHUP stops every process, the embedded servers last. The handlers are
installed explicitly: a launcher started in the background by a script inherits SIGINT ignored.

PORT (8000), VALKEY_PORT (any free one) and COACHWIRE_DATA_DIR (.data/) choose where it runs, so a
second launcher (tests/project/test_run.py) does not disturb the first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from project.embedded import EmbeddedServices, ensure_services
from workers.heartbeat import HEARTBEAT_PREFIX, WORKER_POOLS
from workers.sizing import ai_worker_processes

ROOT = Path(__file__).resolve().parent.parent


def _banner(port: int) -> str:
    from domains.demo.logins import DEMO_PASSWORD, demo_logins

    lines = [
        "",
        "  Coachwire is running.",
        f"  Open http://localhost:{port}/   (health: http://localhost:{port}/healthz)",
        "",
        f"  Demo logins (password: {DEMO_PASSWORD}):",
        *[f"    {label:<10} {email:<32} {note}".rstrip() for label, email, note in demo_logins()],
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _boot_progress(port: int, redis: Any) -> dict[str, bool]:
    """Which parts serve yet: daphne accepts connections, and each worker pool sent a heartbeat.
    Read without asking /healthz, whose 503s until then would each be logged as an error."""
    queues: set[str] = set()
    try:
        for key in redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
            raw = redis.get(key)
            if raw:
                queues.update(json.loads(raw).get("queues", []))
    except Exception:  # noqa: BLE001, S110 - Redis not answering is "not up yet" here
        pass
    return {"web": _port_open(port), **{pool: queue in queues for pool, queue in WORKER_POOLS.items()}}


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_until_up(port: int, deadline: float) -> bool:
    """Until every part is up (the database and Redis are already: the migration ran), printing
    progress as it changes; then /healthz must agree."""
    import redis as redis_client

    client = redis_client.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)
    shown: dict[str, bool] = {}
    try:
        while time.monotonic() < deadline:
            parts = _boot_progress(port, client)
            if parts != shown:
                shown = parts
                marks = "  ".join(f"{name} {'✓' if up else '…'}" for name, up in parts.items())
                print(f"Starting: database ✓  redis ✓  {marks}", flush=True)
            if all(parts.values()) and _healthy(port):
                return True
            time.sleep(0.5)
    finally:
        client.close()
    return False


def honcho_command(ai_processes: int, procfile: str = "Procfile") -> list[str]:
    """honcho on the Procfile, with `worker-ai` started `ai_processes` times: honcho names them
    worker-ai.1, worker-ai.2 ..., and the Procfile gives each its Celery node name from that."""
    return [sys.executable, "-m", "honcho", "start", "-f", procfile, "-c", f"worker-ai={ai_processes}"]


def _stop_honcho(honcho: subprocess.Popen[bytes]) -> None:
    """honcho forwards SIGTERM to every process it started (each in a session of its own) and kills
    them after 5 s; whatever still runs after that, or if honcho itself hangs, is killed here."""
    import psutil

    try:
        started = psutil.Process(honcho.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    if honcho.poll() is None:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    for process in started:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(started, timeout=5)


def _stop_on_signals() -> None:
    """The first SIGINT, SIGTERM or SIGHUP stops everything (as Ctrl-C); later ones only say so,
    so that they cannot cut the shutdown short and leave a server running."""
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            print("Coachwire is stopping; it stops the embedded servers last.", flush=True)
            return
        stopping = True
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def main() -> int:
    os.chdir(ROOT)
    _stop_on_signals()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.dev")
    port = int(os.environ.setdefault("PORT", "8000"))
    ai_processes = ai_worker_processes()  # a bad AI_WORKER_PROCESSES stops the launch before anything starts
    data_root = Path(os.environ.get("COACHWIRE_DATA_DIR") or ROOT / ".data")
    data_root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("EMAIL_FILE_PATH", str(data_root / "mail"))
    services: EmbeddedServices | None = None
    honcho: subprocess.Popen[bytes] | None = None
    try:
        services = ensure_services(data_root, valkey_port=int(os.environ.get("VALKEY_PORT", "0")) or None)
        manage = [sys.executable, "manage.py"]
        # Migrations run as the owner role; everything else, the demo seed included, as the application
        # role that owns nothing (ARCHITECTURE.md §9). Without DATABASE_OWNER_URL, one role does both.
        owner_env = dict(os.environ, DATABASE_URL=services.database_owner_url or os.environ["DATABASE_URL"])
        print("Starting: migrating the database…", flush=True)
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], check=True, env=owner_env)
        subprocess.run([*manage, "seed_demo"], check=True)
        # The children find the venv's python first, and inherit DATABASE_URL (the application role)
        # and REDIS_URL.
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("DATABASE_OWNER_URL", None)  # the serving processes have no use for the owner
        honcho = subprocess.Popen(honcho_command(ai_processes), env=env, start_new_session=True)
        if _wait_until_up(port, time.monotonic() + 90):
            print(_banner(port), flush=True)
        else:
            print("Coachwire was not healthy within 90 s; see the logs above and /healthz.", flush=True)
        return honcho.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        print("Coachwire is stopping…", flush=True)
        if honcho is not None:
            _stop_honcho(honcho)
        if services is not None:
            services.stop()
        print("Coachwire stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
