"""The project's fake LLM server (tests/fakes/llm_server.py), with two bench-only additions.

- Every streamed response records `started_at` (wall clock, `time.time()`) when its headers went out,
  returned by `GET /_fake/requests`. Token i of a paced stream is *intended* at started_at + i/tps: the
  bench measures token-to-client delay from that time, so any lag anywhere downstream counts.
- Pacing follows that absolute schedule (the original sleeps 1/tps between writes, which drifts).

Run: `python -m bench.fakellm --port N`.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes import llm_server as fake

_original_answer_openai = fake._Handler._answer_openai
_original_start_chunked = fake._Handler._start_chunked
_original_as_json = fake.RecordedRequest.as_json


def _answer_openai(self: Any, body: dict[str, Any], scenario: Any, recorded: Any) -> None:
    self._bench_recorded = recorded
    self._bench_sent = 0
    _original_answer_openai(self, body, scenario, recorded)


def _start_chunked(self: Any, headers: dict[str, str]) -> None:
    _original_start_chunked(self, headers)
    self._bench_t0 = time.time()
    recorded = getattr(self, "_bench_recorded", None)
    if recorded is not None:
        recorded.started_at = self._bench_t0


def _pace(self: Any, scenario: Any) -> None:
    if scenario.tokens_per_second <= 0:
        return
    self._bench_sent = getattr(self, "_bench_sent", 0) + 1
    target = getattr(self, "_bench_t0", time.time()) + self._bench_sent / scenario.tokens_per_second
    if self._client_went_away(max(0.0, target - time.time())):
        raise fake._ClientGone


def _as_json(self: Any) -> dict[str, Any]:
    data = _original_as_json(self)
    data["started_at"] = getattr(self, "started_at", None)
    return data


# socketserver's default listen backlog is 5: 50 coach streams starting at once overflow it, SYNs are
# dropped and retransmitted after 1 s, 3 s, 7 s…, past the provider's 5 s connect timeout.

fake._Handler._answer_openai = _answer_openai  # type: ignore[method-assign]
fake._Handler._start_chunked = _start_chunked  # type: ignore[method-assign]
fake._Handler._pace = _pace  # type: ignore[method-assign]
fake.RecordedRequest.as_json = _as_json  # type: ignore[method-assign]

if __name__ == "__main__":
    fake.main()
