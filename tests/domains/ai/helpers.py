"""Helpers for AI tests: run a stream to its end, script the fake per call."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from domains.ai.providers.base import ChatOptions, Delta, Result, StreamItem, Usage


def scenario(**fields: Any) -> ChatOptions:
    """Options whose request carries `X-Fake-Scenario` (every attempt of the call gets it)."""
    return ChatOptions(extra_headers={"X-Fake-Scenario": json.dumps(fields)})


def collect(stream: Iterable[StreamItem]) -> tuple[list[str], Usage, Result]:
    """The deltas' text, then the one `Usage` and the one `Result` every finished stream ends with."""
    deltas: list[str] = []
    usage: Usage | None = None
    result: Result | None = None
    for item in stream:
        if isinstance(item, Delta):
            deltas.append(item.text)
        elif isinstance(item, Usage):
            usage = item
        elif isinstance(item, Result):
            result = item
    assert usage is not None, "the stream ended without its usage"
    assert result is not None, "the stream ended without its result"
    return deltas, usage, result
