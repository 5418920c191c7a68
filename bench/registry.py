"""The scenario registry: every scenario and baseline registers here, by id, with the profiles it runs in.

S5 (SSE dashboards) is registered as pending: when its domain exists, write `run(ctx)` in
bench/scenarios/<name>.py and decorate it with `@scenario("S5", ...)`. S4 is bench/scenarios/interviews.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Scenario:
    id: str
    title: str
    run: Callable[[Any], dict[str, Any]] | None
    needs_stack: bool = True
    order: int = 0
    pending: str = ""  # why it does not run yet
    tags: list[str] = field(default_factory=list)


SCENARIOS: dict[str, Scenario] = {}


def scenario(sid: str, title: str, *, needs_stack: bool = True, order: int = 0) -> Callable[..., Any]:
    def register(func: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        SCENARIOS[sid] = Scenario(sid, title, func, needs_stack=needs_stack, order=order)
        return func

    return register


def pending(sid: str, title: str, why: str) -> None:
    SCENARIOS.setdefault(sid, Scenario(sid, title, None, pending=why, order=999))


def load_all() -> dict[str, Scenario]:
    # Importing the modules registers their scenarios.
    from bench.scenarios import interviews, realtime, redis_raw, relevance, retrieval  # noqa: F401

    pending("S5", "SSE dashboards", "the dashboards domain does not exist yet")
    return dict(sorted(SCENARIOS.items(), key=lambda item: (item[1].order, item[0])))
