"""frontend/static/js/realtime.js in a real browser, against a scripted fake WebSocket, so that gaps,
duplicates, reconnects and close codes happen exactly when the test says (no timing guesses).
The module itself is served by the live daphne, as pages load it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Installed before any page script: every `new WebSocket(url)` becomes a scripted fake.
FAKE_WEBSOCKET = """
window.__sockets = [];
class FakeWebSocket {
  static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
  constructor(url) {
    this.url = url; this.readyState = 0; this.sent = [];
    window.__sockets.push(this);
    queueMicrotask(() => { this.readyState = 1; this.onopen && this.onopen({}); });
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code = 1000) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose && this.onclose({ code }));
  }
  deliver(frame) { this.onmessage({ data: JSON.stringify(frame) }); }
  drop(code) { this.readyState = 3; this.onclose({ code }); }
}
window.WebSocket = FakeWebSocket;
"""

START = """async ({ heartbeat }) => {
  const { RealtimeSocket } = await import('/static/js/realtime.js');
  const status = document.createElement('span');
  status.setAttribute('data-conn-status', '');
  status.innerHTML = '<span class="label"></span>';
  document.body.append(status);
  window.__log = { events: [], snapshots: [], rights: [], errors: [], states: [] };
  window.__rt = new RealtimeSocket('/ws/me/', {
    onEvent: (f) => __log.events.push(f.seq ?? f.event),
    onSnapshot: (f, info) => __log.snapshots.push([f.type, info.resync]),
    onRightsChanged: (f) => __log.rights.push(f.reason),
    onError: (f) => __log.errors.push(f.code),
    onState: (s) => __log.states.push(s),
  }, { baseDelayMs: 1, maxDelayMs: 1 }).start();
  await new Promise((resolve) => setTimeout(resolve, 0));
  __sockets[0].deliver({ type: 'snapshot', v: 1, stream: 'user.1', cursors: { 'user.1': 3 },
                         data: {}, rights: {}, heartbeat });
}"""


def event(seq: int | None, name: str = "notification") -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "event", "stream": "user.1", "event": name, "data": {}, "at": ""}
    if seq is not None:
        frame["seq"] = seq
    return frame


@pytest.fixture
def client_page(page: Any) -> Any:
    """A same-origin page (no personal socket: nobody is signed in) with the fake WebSocket."""
    page.add_init_script(FAKE_WEBSOCKET)
    page.goto("/accounts/login/")
    return page


def deliver(page: Any, index: int, frame: dict[str, Any]) -> None:
    page.evaluate("([i, f]) => __sockets[i].deliver(f)", [index, frame])


def test_events_apply_in_seq_order_and_a_gap_asks_to_resume(client_page: Any) -> None:
    page = client_page
    page.evaluate(START, {"heartbeat": 25})
    status = page.locator("[data-conn-status]")
    expect(status).to_have_attribute("data-state", "live")
    expect(status.locator(".label")).to_have_text("live")

    deliver(page, 0, event(4))
    deliver(page, 0, event(6))  # 5 is missing: hold 6, ask for what follows 4
    deliver(page, 0, event(4))  # a duplicate
    assert page.evaluate("__log.events") == [4]
    assert page.evaluate("__sockets[0].sent") == [{"type": "resume", "cursors": {"user.1": 4}}]
    deliver(page, 0, event(5))
    deliver(page, 0, event(6))  # the replayed copy of what was held
    deliver(page, 0, {"type": "resumed", "stream": "user.1", "seq": 6})
    deliver(page, 0, event(None, "typing"))  # ephemeral: no seq, passed straight through
    assert page.evaluate("__log.events") == [4, 5, 6, "typing"]
    assert page.evaluate("__log.snapshots") == [["snapshot", False]]

    deliver(page, 0, {"type": "rights_changed", "reason": "role_granted", "rights": {}})
    deliver(page, 0, {"type": "error", "code": "rate_limited", "message": "slow down"})
    assert page.evaluate("[__log.rights, __log.errors]") == [["role_granted"], ["rate_limited"]]


def test_a_dropped_socket_reconnects_with_its_cursors_and_resyncs_when_told(client_page: Any) -> None:
    page = client_page
    page.evaluate(START, {"heartbeat": 25})
    deliver(page, 0, event(4))
    page.evaluate("__sockets[0].drop(1006)")

    page.wait_for_function("__sockets.length === 2")
    assert page.evaluate("__sockets[1].url").endswith("/ws/me/?resume=user.1:4")
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "reconnecting")
    deliver(page, 1, event(5))
    deliver(page, 1, {"type": "resumed", "stream": "user.1", "seq": 5})
    expect(page.locator("[data-conn-status]")).to_have_attribute("data-state", "live")

    deliver(
        page,
        1,
        {
            "type": "resync",
            "v": 1,
            "stream": "user.1",
            "cursors": {"user.1": 40},
            "data": {},
            "rights": {},
            "heartbeat": 25,
        },
    )
    deliver(page, 1, event(41))
    assert page.evaluate("__log.events") == [4, 5, 41]
    assert page.evaluate("__log.snapshots") == [["snapshot", False], ["resync", True]]
    assert page.evaluate("__log.states") == ["connecting", "live", "reconnecting", "live"]


def test_heartbeat_pings_at_the_snapshot_interval(client_page: Any) -> None:
    page = client_page
    page.evaluate(START, {"heartbeat": 0.05})
    # Polled inside the page by a compiled function: Playwright's polling `wait_for_function` needs
    # eval, which the Content-Security-Policy (rightly) refuses.
    page.evaluate(
        """(timeout) => new Promise((resolve, reject) => {
          const started = performance.now();
          const tick = () => {
            if (__sockets[0].sent.filter((f) => f.type === 'ping').length >= 2) resolve(true);
            else if (performance.now() - started > timeout) reject(new Error('fewer than 2 pings'));
            else setTimeout(tick, 10);
          };
          tick();
        })""",
        5000,
    )


def test_force_close_4401_stops_and_goes_to_the_login_page(client_page: Any) -> None:
    page = client_page
    page.goto("/policies/privacy/?x=1")  # any page: where to come back to after signing in
    page.evaluate(START, {"heartbeat": 25})
    with page.expect_navigation():
        deliver(page, 0, {"type": "force_close", "reason": "logout", "code": 4401})
    assert page.url.endswith("/accounts/login/?next=%2Fpolicies%2Fprivacy%2F%3Fx%3D1")


def test_another_protocol_version_reloads_the_page(client_page: Any) -> None:
    page = client_page
    page.evaluate(START, {"heartbeat": 25})
    page.evaluate("window.__marker = 1")
    with page.expect_navigation():
        deliver(
            page,
            0,
            {"type": "resync", "v": 2, "stream": "user.1", "cursors": {}, "data": {}, "rights": {}, "heartbeat": 25},
        )
    assert page.evaluate("window.__marker") is None
