"""`make run` starts AI_WORKER_PROCESSES `worker-ai` processes from the Procfile's one line, each its
own Celery node (so /healthz sees every heartbeat) with its own database pool.

honcho runs project/run.py's command on a copy of the real Procfile, with a stand-in `python` first on
PATH that records how each process was started, then waits to be stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil

from project.run import honcho_command

ROOT = Path(__file__).resolve().parent.parent.parent
STAND_IN_PYTHON = """#!/bin/sh
printf '%s\\n' "$DATABASE_POOL_MAX" "$@" > "$RECORDS/$HONCHO_PROCESS_NAME"
exec sleep 120
"""


def _started(records: Path, expected: int, timeout: float = 30) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while len(list(records.iterdir())) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return {path.name: path.read_text().splitlines() for path in records.iterdir()}


def _stop(honcho: subprocess.Popen[bytes]) -> None:
    started = psutil.Process(honcho.pid).children(recursive=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(honcho.pid, signal.SIGTERM)
    try:
        honcho.wait(timeout=20)
    except subprocess.TimeoutExpired:
        honcho.kill()
        honcho.wait()
    for process in started:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def test_make_run_starts_each_worker_ai_process_as_its_own_node_with_its_own_pool(tmp_path: Path) -> None:
    # given the Procfile, and a `python` that records its arguments instead of starting anything
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(STAND_IN_PYTHON)
    (bin_dir / "python").chmod(0o755)
    records = tmp_path / "records"
    records.mkdir()
    shutil.copy(ROOT / "Procfile", tmp_path / "Procfile")
    env = dict(
        os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", RECORDS=str(records), AI_WORKER_CONCURRENCY="5"
    )
    # when honcho runs make run's command for three worker-ai processes
    honcho = subprocess.Popen(
        honcho_command(3),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        started = _started(records, expected=6)
    finally:
        _stop(honcho)
    # then every process type ran, worker-ai three times, each a Celery node of its own
    assert sorted(started) == ["beat.1", "web.1", "worker-ai.1", "worker-ai.2", "worker-ai.3", "worker.1"]
    ai = [started[f"worker-ai.{index}"] for index in (1, 2, 3)]
    nodes = [args[args.index("-n") + 1] for args in ai]
    assert len(set(nodes)) == 3
    assert nodes[0] != started["worker.1"][started["worker.1"].index("-n") + 1]
    # and each runs the configured threads with a pool of its own two connections larger
    for args in ai:
        assert args[args.index("-c") + 1] == "5"
        assert args[0] == "7"  # DATABASE_POOL_MAX
        assert args[args.index("-Q") + 1] == "ai"
