"""`make run` (project/run.py) stops on SIGINT and on SIGTERM with no process left, even when started
the way a script starts it in the background: with SIGINT ignored. Boot logs progress, not 503s.

Slow: the launcher boots everything (embedded PostgreSQL and Valkey, migrations, the demo seed,
daphne, both worker pools, beat). The first test boots a fresh data directory; the second reuses it,
so its boot skips initdb and the migrations. Both use a temporary data directory and free ports, so
a `make run` on this machine is not disturbed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BOOT_TIMEOUT = 300
STOP_TIMEOUT = 60

pytestmark = pytest.mark.live


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Launcher:
    """`python -m project.run` in a subprocess, its output collected line by line."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            PORT=str(free_port()),
            COACHWIRE_DATA_DIR=str(data_dir),
            WORKER_CONCURRENCY="1",
            AI_WORKER_CONCURRENCY="2",
            PYTHONUNBUFFERED="1",
        )
        self.lines: list[str] = []
        self.running = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "project.run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # As a script in the background would start it: with SIGINT ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "Coachwire is running." in line:
                self.running.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def everything(self) -> list[psutil.Process]:
        """Every process the launcher started: its descendants (honcho's processes, Valkey, the
        servers' watchers) and the PostgreSQL postmaster, which pg_ctl detaches, with its backends."""
        processes = [psutil.Process(self.process.pid)]
        processes += processes[0].children(recursive=True)
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [*processes, postmaster, *postmaster.children(recursive=True)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run-data")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_the_launcher_stops_every_process_on_a_signal(data_dir: Path, sig: signal.Signals) -> None:
    # given a running launcher that inherited SIGINT ignored
    launcher = Launcher(data_dir)
    try:
        booted = launcher.running.wait(BOOT_TIMEOUT)
        assert booted, launcher.output[-5000:]
        started = launcher.everything()
        assert len(started) > 8  # the launcher, honcho, daphne, workers, beat, Valkey, PostgreSQL...
        # when it gets the signal
        launcher.process.send_signal(sig)
        launcher.process.wait(STOP_TIMEOUT)
    finally:
        if launcher.process.poll() is None:
            launcher.process.kill()
    # then it stopped cleanly, and every process it started is gone
    assert launcher.process.returncode == 0, launcher.output[-5000:]
    _, alive = psutil.wait_procs(started, timeout=STOP_TIMEOUT)
    assert not alive, [(p.pid, p.cmdline()) for p in alive if p.is_running()]
    assert "Coachwire stopped." in launcher.output
    # and boot logged its progress, not every health poll as an error
    assert "Starting: database ✓  redis ✓  web ✓  worker ✓  worker-ai ✓" in launcher.output
    assert not [line for line in launcher.lines if " 503" in line or "Service Unavailable" in line]
