"""Tests reach loopback only: pytest.ini's pytest-socket options refuse any other address before a
packet leaves, so no test can call a real AI provider, Stripe or anything else off the machine."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pytest_socket import SocketConnectBlockedError


def test_a_connection_off_the_machine_is_refused_at_once() -> None:
    """192.0.2.1 (TEST-NET-1, never routed) is refused by the guard itself: without it this would
    time out (OSError) rather than raise the guard's error."""
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=2)


def test_loopback_and_unix_sockets_stay_open(tmp_path: Path) -> None:
    """Loopback TCP (the embedded Valkey, the fakes, the live stack) and unix sockets still work."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        with socket.create_connection(("localhost", port), timeout=2):
            pass
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)  # how PostgreSQL's socket and asyncio's self-pipe are reached
