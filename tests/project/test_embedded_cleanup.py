"""A test session leaves no embedded server running: not when it passes, not when it is interrupted,
not even when it is killed outright.

Each case runs a tiny pytest session in a subprocess with this suite's conftest (as a plugin) and its
own temporary directory, then looks for any process working in that directory: the PostgreSQL
postmaster and its backends (their data directory is on the command line and is their working
directory) and Valkey (its working directory is its data directory).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# Both servers, connected to the way the suite connects, without the cost of a migrated test database.
_TINY = """
import os
import threading
from pathlib import Path

import psycopg


def test_uses_both_servers():
    from django_redis import get_redis_connection

    with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    assert get_redis_connection("default").ping()
    Path(__file__).with_name("started").touch()
    if Path(__file__).with_name("block").exists():
        threading.Event().wait(120)  # until the session is interrupted
"""


def servers_in(root: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cwd = process.info["cwd"] or ""
        cmdline = " ".join(process.info["cmdline"] or [])
        if cwd.startswith(str(root)) or f"-D {root}" in cmdline:
            found.append(process)
    return found


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def start_session(tmp_path: Path, *, block: bool) -> subprocess.Popen[bytes]:
    (tmp_path / "test_tiny.py").write_text(_TINY)
    if block:
        (tmp_path / "block").touch()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["COACHWIRE_TEST_TMP"] = str(tmp_path)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "-c",
            "pytest.ini",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_tiny.py"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # As a script in the background would start it: with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def assert_nothing_left(root: Path) -> None:
    assert wait_for(lambda: not servers_in(root), timeout=40), [p.info for p in servers_in(root)]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, subprocess.Popen[bytes]]]]:
    """The three sessions boot at once: each costs a fresh cluster (about 15 s), not each in turn."""
    started = {}
    for case, block in (("finished", False), ("interrupted", True), ("killed", True)):
        root = tmp_path_factory.mktemp(case)
        started[case] = (root, start_session(root, block=block))
    yield started
    for _, session in started.values():
        if session.poll() is None:
            session.kill()
            session.wait()


def test_a_finished_session_stops_its_servers(sessions: dict[str, tuple[Path, subprocess.Popen[bytes]]]) -> None:
    # given a session that ran a test against both servers
    root, session = sessions["finished"]
    output, _ = session.communicate(timeout=120)
    # then it passed, and nothing of it runs any more
    assert session.returncode == 0, output.decode()
    assert (root / "started").exists()
    assert_nothing_left(root)


@pytest.mark.parametrize(("case", "sig"), [("interrupted", signal.SIGINT), ("killed", signal.SIGKILL)])
def test_an_interrupted_or_killed_session_stops_its_servers(
    sessions: dict[str, tuple[Path, subprocess.Popen[bytes]]], case: str, sig: signal.Signals
) -> None:
    # given a session in the middle of a test, its servers up
    root, session = sessions[case]
    assert wait_for(lambda: (root / "started").exists() or session.poll() is not None, timeout=120)
    assert session.poll() is None, session.communicate()[0].decode()
    assert servers_in(root)
    # when it is interrupted (SIGINT, which it inherited ignored) or killed outright
    session.send_signal(sig)
    session.communicate(timeout=60)
    # then nothing of it runs any more
    assert_nothing_left(root)
