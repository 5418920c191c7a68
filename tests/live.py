"""The live stack: daphne and both Celery worker pools in subprocesses, against the test database.

Tests that use `live_stack` need `@pytest.mark.django_db(transaction=True)` (the subprocesses only
see committed rows) and `@pytest.mark.live`. The stack starts once per session, on free loopback
ports, configured only through environment variables (STACK-NOTES 10): `override_settings` and
in-process mocks do not reach it.

    live_stack.live_url                 http://localhost:<port>
    live_stack.ws_url                   ws://localhost:<port>
    live_stack.url("/healthz")          an absolute http URL
    live_stack.ws("/ws/ping/")          an absolute ws URL
    live_stack.login(user)              {"sessionid": ...}: a logged-in session's cookies
    live_stack.http(method, path, ...)  one request, no redirects followed, cookies remembered
    live_stack.websocket(path, ...)     a `websockets` client connection (use `async with`)
    live_stack.logs                     {"daphne": Path, "worker": Path, "worker-ai": Path}
    live_stack.mail_texts()             every mail the workers sent (the file backend's raw text)
    live_stack.wait_healthy()           poll /healthz until database, redis and both pools are ok
    live_stack.llm                      the fake OpenAI/Anthropic server behind the stack (`LiveLLM`)

The fake provider. `tests.fakes.llm_server` always runs with the stack (a thread of the test
process, on a free loopback port), and the subprocesses get OPENAI_BASE_URL / ANTHROPIC_BASE_URL
pointing at it with dummy keys, so the real SDKs inside the real `worker-ai` stream from it.
AI_DEFAULT_PROVIDER stays `offline`, so nothing changes for code that does not ask for a provider:
a lounge with `coach_provider="openai"` (or "anthropic"), or an `AIFeatureConfig` row, opts in.
Script it from the test: `live_stack.llm.queue({...})`, `.chat_requests`, `.prompts`, `.wait_chat(n)`;
the function fixture `live_llm` resets its scenarios and request log around a test.

Extra environment for the subprocesses comes from the session fixture `live_stack_extra_env`
(applied last, so it can override the above); override it in a conftest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_server import FakeLLMServer, RecordedRequest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = float(os.environ.get("COACHWIRE_LIVE_STARTUP_SECONDS", "90"))
STOP_SECONDS = 10.0
# Workers beat every second so /healthz recovers quickly after each test's Redis flush (tests/conftest.py).
HEARTBEAT_SECONDS = "1"
FAKE_API_KEY = "sk-fake-live-stack"
# /healthz shows worker hostnames only to the bearer of METRICS_TOKEN (project/metrics.py).
MONITORING_TOKEN = "live-stack-monitoring-token"
CHAT_PROTOCOLS = ("openai", "anthropic")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_from_settings() -> str:
    """The test database (after pytest-django created it) as a DATABASE_URL for the subprocesses,
    as the application role: the test process is the owner (project/settings/test.py), the product
    is not (ARCHITECTURE.md §9)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    role = settings.APPLICATION_DATABASE
    host = (db.get("OPTIONS") or {}).get("host") or db.get("HOST") or ""
    user = urllib.parse.quote(role.get("USER") or "postgres", safe="")
    password = role.get("PASSWORD") or ""
    auth = f"{user}:{urllib.parse.quote(password, safe='')}" if password else user
    name = db["NAME"]
    if host.startswith("/"):  # a unix socket directory
        return f"postgres://{auth}@/{name}?host={host}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{name}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class LiveLLM(FakeLLMServer):
    """The live stack's fake provider: `FakeLLMServer` (queue, reset, requests, wait_for, wait_done)
    plus views of the chat requests only (embeddings and probes left out)."""

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Chat requests (OpenAI Chat Completions or Anthropic Messages), oldest first."""
        return [r for r in self.requests if r.protocol in CHAT_PROTOCOLS]

    @property
    def chat_count(self) -> int:
        return len(self.chat_requests)

    @property
    def prompts(self) -> list[dict[str, Any]]:
        """What each chat request asked: {"protocol", "model", "system", "messages"}."""
        return [
            {
                "protocol": r.protocol,
                "model": (r.body or {}).get("model") if isinstance(r.body, dict) else None,
                "system": r.system,
                "messages": [m for m in r.messages if m.get("role") not in ("system", "developer")],
            }
            for r in self.chat_requests
        ]

    def wait_chat(self, count: int = 1, *, timeout: float = 10, done: bool = True) -> list[RecordedRequest]:
        """Block until at least `count` chat requests arrived (and, with `done`, were fully handled:
        answered, failed, or abandoned by the client); return the chat requests."""

        def arrived(requests: list[RecordedRequest]) -> bool:
            chats = [r for r in requests if r.protocol in CHAT_PROTOCOLS]
            return len(chats) >= count and (not done or all(r.done.is_set() for r in chats[:count]))

        if not self.wait_for(arrived, timeout):
            raise AssertionError(f"expected {count} finished chat request(s) within {timeout}s: {self.chat_requests}")
        return self.chat_requests


@dataclass
class LiveResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class LiveStack:
    port: int
    log_dir: Path
    env: dict[str, str]
    llm: LiveLLM | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    @property
    def live_url(self) -> str:
        # localhost, not 127.0.0.1: it is in ALLOWED_HOSTS and is what the Origin check compares.
        return f"http://localhost:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://localhost:{self.port}"

    def url(self, path: str) -> str:
        return self.live_url + path

    def ws(self, path: str) -> str:
        return self.ws_url + path

    # ------------------------------------------------------------------ identity
    def login(self, user: Any, **session_data: Any) -> dict[str, str]:
        """Cookies of a fresh session in which `user` is logged in (needs database access)."""
        from django.conf import settings

        from tests.helpers import session_for

        session = session_for(user, **session_data)
        return {settings.SESSION_COOKIE_NAME: session.session_key}

    def csrf_token(self, cookies: dict[str, str], path: str = "/accounts/logout/") -> str:
        """GET a page with a form; the csrftoken cookie it sets is added to `cookies` and returned."""
        from django.conf import settings

        response = self.http("GET", path, cookies=cookies)
        assert response.status == 200, f"GET {path} answered {response.status}"
        token = cookies.get(settings.CSRF_COOKIE_NAME)
        assert token, f"GET {path} set no {settings.CSRF_COOKIE_NAME} cookie"
        return token

    # ------------------------------------------------------------------ clients
    def http(
        self,
        method: str,
        path: str,
        *,
        cookies: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> LiveResponse:
        """One request; redirects are returned, not followed. Set-Cookie lands in `cookies`."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # Always http://localhost:<port>: no file: or custom schemes can reach this.
        request = urllib.request.Request(  # noqa: S310
            self.url(path), data=body, method=method, headers=dict(headers or {})
        )
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if cookies:
            request.add_header("Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items()))
        try:
            raw = _OPENER.open(request, timeout=timeout)
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            raw = error
        with raw:
            set_cookies: dict[str, str] = {}
            for header in raw.headers.get_all("Set-Cookie") or []:
                parsed: SimpleCookie = SimpleCookie()
                parsed.load(header)
                set_cookies.update({name: morsel.value for name, morsel in parsed.items()})
            if cookies is not None:
                cookies.update(set_cookies)
            return LiveResponse(raw.status, dict(raw.headers.items()), raw.read(), set_cookies)

    def websocket(
        self,
        path: str,
        *,
        cookies: dict[str, str] | None = None,
        origin: str | None = "default",
        **kwargs: Any,
    ) -> Any:
        """A `websockets` asyncio client connection; `async with live_stack.websocket(...) as ws:`.

        The Origin is this stack's own unless given (None sends none)."""
        from websockets.asyncio.client import connect

        headers = {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        return connect(
            self.ws(path),
            origin=self.live_url if origin == "default" else origin,  # type: ignore[arg-type]
            additional_headers=headers,
            proxy=None,
            open_timeout=10,
            close_timeout=5,
            **kwargs,
        )

    # ------------------------------------------------------------------ health and logs
    def health(self) -> tuple[int, dict[str, Any]]:
        response = self.http("GET", "/healthz", timeout=5, headers={"Authorization": f"Bearer {MONITORING_TOKEN}"})
        try:
            return response.status, response.json()
        except ValueError:
            return response.status, {"body": response.text[:500]}

    def wait_healthy(self, timeout: float = 30) -> dict[str, Any]:
        """Poll /healthz until it answers 200 (database, redis and both worker pools ok)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_running()
            try:
                status, body = self.health()
                last = (status, body)
                if status == 200:
                    return body
            except OSError as error:
                last = repr(error)
            time.sleep(0.1)
        raise AssertionError(f"/healthz not ok within {timeout}s; last answer: {last}\n{self.logs_tail()}")

    def check_running(self) -> None:
        dead = {name: proc.returncode for name, proc in self.processes.items() if proc.poll() is not None}
        if dead:
            raise AssertionError(f"live-stack processes exited: {dead}\n{self.logs_tail()}")

    def mail_texts(self) -> list[str]:
        """Every mail the stack's workers sent so far, as the raw text the file backend wrote."""
        folder = self.log_dir / "mail"
        if not folder.exists():
            return []
        return [path.read_text(errors="replace") for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime)]

    def logs_tail(self, chars: int = 6000) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"----- {name} ({path}) -----\n{text[-chars:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        python = sys.executable
        commands = {
            "daphne": [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "project.asgi:application"],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "workers.celery",
                "worker",
                "-Q",
                "default,beat",
                "-P",
                "prefork",
                "-c",
                "1",
                "-n",
                "default@live",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            "worker-ai": [
                python,
                "-m",
                "celery",
                "-A",
                "workers.celery",
                "worker",
                "-Q",
                "ai",
                "-P",
                "threads",
                "-c",
                "8",
                "-n",
                "ai@live",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
            ],
        }
        for name, command in commands.items():
            log_path = self.log_dir / f"{name}.log"
            self.logs[name] = log_path
            with log_path.open("wb") as log_file:
                # Own process group: stop() signals the whole group (prefork children included).
                self.processes[name] = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_running()
            try:
                response = self.http("GET", "/readyz", timeout=2)
                last = (response.status, response.text[:300])
                if response.status == 200:
                    break
            except OSError as error:
                last = repr(error)
            time.sleep(0.1)
        else:
            raise AssertionError(f"/readyz not ready within {timeout}s; last answer: {last}\n{self.logs_tail()}")
        self.wait_healthy(timeout=max(1.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after STOP_SECONDS."""
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.processes.values():
            # Also the group: a prefork child can outlive its parent for a moment.
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the group this fixture created for it (start_new_session)


# ---------------------------------------------------------------- websocket frames (live tests)
WS_RECEIVE_SECONDS = 10


async def recv_json(ws: Any, timeout: float = WS_RECEIVE_SECONDS) -> dict[str, Any]:
    """The next frame of a `websockets` client connection, decoded."""
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: Any, frame_type: str, timeout: float = WS_RECEIVE_SECONDS) -> dict[str, Any]:
    """Frames until one of `frame_type` arrives (bounded by `timeout` overall)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_json(ws, timeout)
            if frame.get("type") == frame_type:
                return frame


@pytest.fixture(scope="session")
def live_stack_extra_env() -> dict[str, str]:
    """Extra environment for the live-stack subprocesses; override in a conftest."""
    return {}


def fake_provider_env(llm: FakeLLMServer) -> dict[str, str]:
    """Environment that points both SDKs at the fake server, with dummy keys."""
    no_proxy = ",".join(
        dict.fromkeys(part for part in [*os.environ.get("NO_PROXY", "").split(","), "127.0.0.1", "localhost"] if part)
    )
    return {
        "OPENAI_BASE_URL": llm.openai_base_url,
        "OPENAI_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": llm.anthropic_base_url,
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        # Keys are set now, which would make "" pick OpenAI: keep the offline default unless asked.
        "AI_DEFAULT_PROVIDER": "offline",
        # Never send a loopback call through a proxy from the environment.
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


@pytest.fixture(scope="session")
def live_stack(
    django_db_setup: None, live_stack_extra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """daphne + worker (prefork: default, beat) + worker-ai (threads: ai), against the test database,
    with the fake LLM server (`live_stack.llm`) as their OpenAI and Anthropic."""
    from django.conf import settings

    env = {
        key: value
        for key, value in os.environ.items()
        # Never leak the test process's escape hatches or pytest's state into the servers.
        # Nor the owner's URL: the servers connect as the application role, as in production.
        if key not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST", "PYTEST_VERSION", "DATABASE_OWNER_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings.test",
        DATABASE_URL=database_url_from_settings(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        DATABASE_POOL="false",
        WORKER_HEARTBEAT_SECONDS=HEARTBEAT_SECONDS,
        METRICS_TOKEN=MONITORING_TOKEN,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    # Reachable from the subprocesses: a thread of this process, on a free port of 127.0.0.1.
    llm = LiveLLM()
    llm.start()
    env.update(fake_provider_env(llm))
    # The websocket Origin check allows http://<ALLOWED_HOSTS entry>:PORT (realtime/origin.py).
    env["PORT"] = str(port := free_port())
    log_dir = tmp_path_factory.mktemp("live-stack")
    # The workers send mail to files here (`live_stack.mail_texts()`), as `make run` does to its console.
    env.update(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(log_dir / "mail"))
    env["SITE_DOMAIN"] = f"localhost:{port}"  # where the mails' links point
    env.update(live_stack_extra_env)
    stack = LiveStack(port=port, log_dir=log_dir, env=env, llm=llm)
    try:
        stack.start()
        stack.wait_ready()
        yield stack
    finally:
        try:
            stack.stop()
        finally:
            llm.stop()


@pytest.fixture
def live_llm(live_stack: LiveStack) -> Iterator[LiveLLM]:
    """The live stack's fake provider with no queued scenarios and an empty request log, reset again
    after the test (a test's leftovers never script the next one)."""
    assert live_stack.llm is not None
    live_stack.llm.reset()
    yield live_stack.llm
    live_stack.llm.reset()
