"""docs/token-auth.md §8, run as written: the Python example, extracted from the page, against a
live daphne (tests/live.py), and over real HTTP and a real websocket client without Origin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from domains.accounts.models import Role
from tests.factories import MembershipFactory
from tests.factories.accounts import PASSWORD
from tests.live import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]


def _example() -> str:
    page = (ROOT / "docs" / "token-auth.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    [script] = [block for block in blocks if "Coachwire as an app client" in block]
    return script


def test_the_documented_python_app_runs_against_a_live_server(live_stack: LiveStack, tmp_path: Path) -> None:
    """Sign in, read, refresh, open /ws/me/ with a ticket, log out: the socket gets force_close
    (4401) and the access token is refused afterwards, exactly as the page says it prints."""
    user = MembershipFactory.create(role=Role.LEARNER).user
    script = tmp_path / "app.py"
    script.write_text(_example())
    env = {
        **os.environ,
        "COACHWIRE_URL": live_stack.live_url,
        "COACHWIRE_EMAIL": user.email,
        "COACHWIRE_PASSWORD": PASSWORD,
        "NO_PROXY": "localhost,127.0.0.1",
    }

    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "notes: 0",
        "connected, protocol version 1",
        "closed with 4401",
        "{'type': 'force_close', 'reason': 'logout', 'code': 4401}",
        "after logout: 401",
    ]
