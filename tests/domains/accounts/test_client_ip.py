"""The client address: forwarded headers count only from TRUSTED_PROXIES, and the one resolved
address is what the audit log, consent records and allauth's rate limits see."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings

from domains.common.client_ip import client_ip
from domains.compliance.models import AuditEvent, Consent
from domains.compliance.services import policy_publish
from tests.factories import UserFactory
from tests.live import LiveStack, free_port

ROOT = Path(__file__).resolve().parents[3]
PROXY = "10.0.0.2"


def _failed_login(client: Client, email: str, **extra: Any) -> int:
    return client.post("/accounts/login/", {"login": email, "password": "wrong"}, **extra).status_code


def _failed_login_ips(email: str) -> list[str | None]:
    return list(
        AuditEvent.objects.filter(action="auth.login_failed", actor_label=email)
        .order_by("id")
        .values_list("ip_address", flat=True)
    )


# ---------------------------------------------------------------- the resolver


@pytest.mark.parametrize(
    ("meta", "proxies", "expected"),
    [
        # No trusted proxies: every forwarded header is ignored.
        ({"HTTP_X_FORWARDED_FOR": "198.51.100.7"}, [], "127.0.0.1"),
        ({"HTTP_X_REAL_IP": "198.51.100.7", "HTTP_FORWARDED": "for=198.51.100.7"}, [], "127.0.0.1"),
        # The socket peer is a trusted proxy: the hop before it is the client.
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, [PROXY], "198.51.100.7"),
        # ... and what the client itself put in front of the proxy's entry is ignored.
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"}, [PROXY], "198.51.100.7"),
        # A CIDR entry covers several proxies of one tier; two entries are two hops.
        ({"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, ["10.0.0.0/24"], "198.51.100.7"),
        (
            {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "2001:db8::7, 192.0.2.10"},
            ["192.0.2.0/24", PROXY],
            "2001:db8::7",
        ),
        # A client's unclosed quote or parameters must not swallow the hops the proxies appended
        # after it: each entry is a bare address or nothing (a lenient parser answered 9.9.9.9).
        (
            {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": '9.9.9.9, for="10.0.0.5";x=", 198.51.100.7'},
            ["10.0.0.0/8"],
            "198.51.100.7",
        ),
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": '9.9.9.9, "'}, [PROXY], PROXY),
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7:4431"}, [PROXY], PROXY),
        # An address is not a prefix of a longer one: 192.0.2.1 does not trust 192.0.2.12.
        ({"REMOTE_ADDR": "192.0.2.12", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, ["192.0.2.1"], "192.0.2.12"),
        # An untrusted peer's header is ignored, even when it names the trusted proxy.
        ({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, [PROXY], "203.0.113.9"),
        ({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": f"1.2.3.4, {PROXY}"}, [PROXY], "203.0.113.9"),
        # A trusted proxy with nothing usable forwarded is itself the client.
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "not-an-ip"}, [PROXY], PROXY),
        ({"REMOTE_ADDR": PROXY}, [PROXY], PROXY),
        # Validation: the peer's own address must be an address.
        ({"REMOTE_ADDR": "::ffff:192.0.2.1"}, [], "192.0.2.1"),
        ({"REMOTE_ADDR": "not-an-ip"}, [], None),
        ({"REMOTE_ADDR": ""}, [], None),
        ({"REMOTE_ADDR": "0.0.0.0"}, [], None),  # noqa: S104 - a peer address, not a bind
        ({"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": f"198.51.100.7, {PROXY}"}, [PROXY], None),
        ({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "\x00, [::1, 999.1.1.1, :::"}, [PROXY], PROXY),
    ],
)
def test_client_ip_trusts_forwarded_headers_only_from_configured_proxies(
    rf: RequestFactory, meta: dict[str, Any], proxies: list[str], expected: str | None
) -> None:
    """The client is the socket peer unless that peer is a configured proxy; a malformed or missing
    address resolves to None, never to an exception."""
    request = rf.get("/", **meta)

    with override_settings(TRUSTED_PROXIES=proxies):
        resolved = client_ip(request)

    assert resolved == expected


def test_the_request_without_any_peer_address_resolves_to_none(rf: RequestFactory) -> None:
    """A request with no REMOTE_ADDR at all (a unix socket) has no client address."""
    request = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.7")
    del request.META["REMOTE_ADDR"]

    assert client_ip(request, trusted_proxies=[PROXY]) is None


# ---------------------------------------------------------------- what records the address


@pytest.mark.django_db
def test_a_forged_forwarded_for_is_not_the_audited_address(client: Client) -> None:
    """Without trusted proxies, rotating X-Forwarded-For (or sending junk in it) changes nothing:
    each failed login is audited from the socket peer, and junk answers the normal page."""
    user = UserFactory.create()

    statuses = [
        _failed_login(client, user.email, HTTP_X_FORWARDED_FOR=forged)
        for forged in ("198.51.100.1", "198.51.100.2", "not-an-ip", "1.1.1.1, 2.2.2.2")
    ]

    assert statuses == [200, 200, 200, 200]
    assert _failed_login_ips(user.email) == ["127.0.0.1"] * 4


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY])
def test_behind_a_trusted_proxy_the_forwarded_client_is_audited(client: Client) -> None:
    """When the peer is a trusted proxy, the audit log records the client it forwarded; a peer
    that is not a trusted proxy is recorded as itself, whatever its header says."""
    user = UserFactory.create()

    _failed_login(client, user.email, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    _failed_login(client, user.email, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.8")

    assert _failed_login_ips(user.email) == ["198.51.100.7", "203.0.113.9"]


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY])
def test_consent_records_the_resolved_client_address(client: Client) -> None:
    """Consent is evidence: it stores the same resolved address as the audit log."""
    policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy")
    user = UserFactory.create()
    client.force_login(user)

    response = client.post(
        "/consent/",
        {"accept_policies": "on", "next": "/"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )

    assert response.status_code == 302
    assert list(Consent.objects.filter(user=user).values_list("ip_address", flat=True)) == ["198.51.100.7"]
    audited = AuditEvent.objects.get(action="consent.accepted", actor=user)
    assert audited.ip_address == "198.51.100.7"


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY], ACCOUNT_RATE_LIMITS={"login_failed": "2/m/ip"})
def test_allauths_per_ip_limit_counts_the_resolved_client(client: Client) -> None:
    """allauth's per-IP login limit counts each client behind the proxy separately, and a client
    that connects directly cannot leave its own bucket by rotating X-Forwarded-For."""
    user = UserFactory.create()

    def attempt(**extra: Any) -> bool:
        """True when allauth refused the attempt as rate limited."""
        response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"}, **extra)
        assert response.status_code == 200
        return "too_many_login_attempts" in {e.code for e in response.context["form"].non_field_errors().as_data()}

    behind_proxy = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    first = [attempt(**behind_proxy) for _ in range(3)]
    other_client = attempt(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.8")
    direct = [attempt(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}") for n in range(3)]

    assert first == [False, False, True]
    assert other_client is False
    assert direct == [False, False, True]


# ---------------------------------------------------------------- the real server


@contextlib.contextmanager
def _procfile_web(live_stack: LiveStack, log_dir: Path) -> Iterator[LiveStack]:
    """The Procfile's own `web` command (what `make run` serves), on a free port, with the live
    stack's environment: a client of the returned LiveStack talks to that daphne."""
    line = next(row for row in (ROOT / "Procfile").read_text().splitlines() if row.startswith("web:"))
    port = free_port()
    env = {
        **live_stack.env,
        "BIND": "127.0.0.1",
        "PORT": str(port),
        # `python` in the Procfile is this virtualenv's.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = (log_dir / "procfile-web.log").open("wb")
    proc = subprocess.Popen(
        ["/bin/sh", "-c", "exec " + line.split(":", 1)[1].strip()],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    web = LiveStack(port=port, log_dir=log_dir, env=env, logs={"web": log_dir / "procfile-web.log"})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the Procfile's web exited\n{web.logs_tail()}"
            with contextlib.suppress(OSError):
                if web.http("GET", "/readyz", timeout=2).status == 200:
                    break
            assert time.monotonic() < deadline, f"the Procfile's web never got ready\n{web.logs_tail()}"
            time.sleep(0.1)
        yield web
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_daphne_as_the_procfile_runs_it_does_not_believe_x_forwarded_for(live_stack: LiveStack, tmp_path: Path) -> None:
    """Over real HTTP to the Procfile's daphne: a forged X-Forwarded-For neither becomes the audited
    address nor breaks the page when it is not an address at all."""
    user = UserFactory.create()

    with _procfile_web(live_stack, tmp_path) as web:
        cookies: dict[str, str] = {}
        token = web.csrf_token(cookies, "/accounts/login/")
        statuses = [
            web.http(
                "POST",
                "/accounts/login/",
                cookies=cookies,
                data={"csrfmiddlewaretoken": token, "login": user.email, "password": "wrong"},
                headers={"X-Forwarded-For": forged},
            ).status
            for forged in ("203.0.113.66", "not-an-ip")
        ]

    assert statuses == [200, 200]
    assert _failed_login_ips(user.email) == ["127.0.0.1", "127.0.0.1"]
