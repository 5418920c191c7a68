"""Helpers for AI tests: run a stream to its end, script the fake per call."""

from __future__ import annotations

import json
from typing import Any

from domains.ai.providers.base import ChatOptions, Delta, Result, Usage


def scenario(**fields: Any) -> ChatOptions:
    """Options whose request carries `X-Fake-Scenario` (every attempt of the call gets it)."""
    return ChatOptions(extra_headers={"X-Fake-Scenario": json.dumps(fields)})


def collect(stream: Any) -> tuple[list[str], Usage | None, Result | None]:
    deltas: list[str] = []
    usage = result = None
    for item in stream:
        if isinstance(item, Delta):
            deltas.append(item.text)
        elif isinstance(item, Usage):
            usage = item
        elif isinstance(item, Result):
            result = item
    return deltas, usage, result
