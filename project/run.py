"""`make run`: the whole product on one machine, on embedded defaults.

1. Start embedded PostgreSQL (pgvector) and Valkey under .data/, unless DATABASE_URL / REDIS_URL are set;
   the embedded PostgreSQL has an owner role and an application role (project/embedded.py).
2. Migrate as the owner (DATABASE_OWNER_URL), and seed the idempotent demo as the application.
3. Run the Procfile (daphne, both Celery workers, beat) through honcho.
4. Print the URL and the demo logins.
Ctrl-C (or SIGTERM) stops every process, the embedded servers included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from project.embedded import ensure_services

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


def _wait_until_up(port: int, deadline: float) -> bool:
    """Until /healthz says every part is up: the database, Redis, and both worker pools."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def main() -> int:
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.dev")
    port = int(os.environ.setdefault("PORT", "8000"))
    data_root = ROOT / ".data"
    data_root.mkdir(exist_ok=True)
    services = ensure_services(data_root, valkey_port=int(os.environ.get("VALKEY_PORT", "0")) or None)
    honcho: subprocess.Popen[bytes] | None = None

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        manage = [sys.executable, "manage.py"]
        # Migrations run as the owner role; everything else, the demo seed included, as the application
        # role that owns nothing (ARCHITECTURE.md §9). Without DATABASE_OWNER_URL, one role does both.
        owner_env = dict(os.environ, DATABASE_URL=services.database_owner_url or os.environ["DATABASE_URL"])
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], check=True, env=owner_env)
        subprocess.run([*manage, "seed_demo"], check=True)
        # The children find the venv's python first, and inherit DATABASE_URL (the application role)
        # and REDIS_URL.
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("DATABASE_OWNER_URL", None)  # the serving processes have no use for the owner
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile"], env=env, start_new_session=True
        )
        if _wait_until_up(port, time.monotonic() + 90):
            print(_banner(port), flush=True)
        else:
            print("Coachwire was not healthy within 90 s; see the logs above and /healthz.", flush=True)
        return honcho.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if honcho is not None and honcho.poll() is None:
            # honcho forwards SIGTERM to every process it started, then waits for them.
            os.killpg(honcho.pid, signal.SIGTERM)
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
        services.stop()
        print("Coachwire stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
