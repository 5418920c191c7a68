"""How many `worker-ai` processes run: `AI_WORKER_PROCESSES`, or a default from the cores.

Read by the launchers (`make run`'s project/run.py, the bench's Stack) before any process starts, so
it is no Django setting. `AI_WORKER_CONCURRENCY` stays the threads of each process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Each process may hold AI_WORKER_CONCURRENCY + 2 database connections (docs/stack-notes.md §20):
# 4 * 66 = 264 of the embedded server's 300. Past that, add hosts.
AI_WORKER_PROCESSES_MAX = 4


def available_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_ai_worker_processes(cores: int) -> int:
    """One per core, at least one, at most AI_WORKER_PROCESSES_MAX. One threads process is bound by its
    GIL well before its core is: on 2 cores, S2 50x20 gave token delay p99 5.6 s with one process
    (78% of a core for 2,500 provider chunks/s) and 1.6 s with two (49% and 55%), with the web server
    and the load generator on the same cores (docs/decisions/0011-pubsub-layer.md). An idle process
    costs only memory."""
    return max(1, min(AI_WORKER_PROCESSES_MAX, cores))


def ai_worker_processes(environ: Mapping[str, str] | None = None, cores: int | None = None) -> int:
    """`AI_WORKER_PROCESSES` if set (any count of at least 1, the cap does not apply), else the
    default for `cores` (by default, the available ones)."""
    raw = (os.environ if environ is None else environ).get("AI_WORKER_PROCESSES", "").strip()
    if not raw:
        return default_ai_worker_processes(available_cores() if cores is None else cores)
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"AI_WORKER_PROCESSES must be a whole number of at least 1, not {raw!r}")
    return count
