"""What services published, as the `capture_events` fixture records it (tests/conftest.py), and a
check that a published event is exactly what its TypedDict declares.

The record comes from `realtime.publish.event_published`, which the kernel's publish functions send
themselves: the real calls, nothing replaced. A durable event is recorded when its row is written,
in the service's transaction, so an event whose transaction then rolls back is still in the record
(read the `StreamEvent` rows, or `django_capture_on_commit_callbacks`, to see what committed). Only
this process's publishes are recorded: not those of a live stack's daphne or Celery subprocesses.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import typing_extensions


class Probe(TypedDict):
    """A kernel test's own event: any type, a few optional numbers (no domain owns it)."""

    type: str
    n: NotRequired[int]
    i: NotRequired[int]
    id: NotRequired[int]


@dataclass(frozen=True)
class Published:
    stream: str
    type: str
    payload: dict[str, Any]  # the frame's `data`, as JSON carries it
    seq: int | None  # None for an ephemeral event

    @property
    def durable(self) -> bool:
        return self.seq is not None

    @property
    def event(self) -> dict[str, Any]:
        """The event as the service built it: `{"type": ..., **payload}`."""
        return {"type": self.type, **self.payload}


class CapturedEvents:
    """Every event published while the fixture is active, in order."""

    def __init__(self) -> None:
        self.published: list[Published] = []

    def record(
        self, sender: Any, *, stream: str, type: str, payload: dict[str, Any], seq: int | None, **_: Any
    ) -> None:
        # Encoded as the envelope encodes it (realtime/publish.py), so the record is what clients get.
        data = json.loads(json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str))
        self.published.append(Published(stream=stream, type=type, payload=data, seq=seq))

    def select(self, stream: str | None = None, *, durable: bool | None = None) -> list[Published]:
        return [
            p
            for p in self.published
            if (stream is None or p.stream == stream) and (durable is None or p.durable == durable)
        ]

    def events(self, stream: str | None = None, *, durable: bool | None = None) -> list[dict[str, Any]]:
        """The events (`{"type", **payload}`), optionally of one stream, or only durable/ephemeral ones."""
        return [p.event for p in self.select(stream, durable=durable)]

    def types(self, stream: str | None = None, *, durable: bool | None = None) -> list[str]:
        return [p.type for p in self.select(stream, durable=durable)]

    def clear(self) -> None:
        self.published.clear()

    def __iter__(self) -> Iterator[Published]:
        return iter(self.published)

    def __len__(self) -> int:
        return len(self.published)


# ------------------------------------------------------------------------------------------ the contract
_WRAPPERS = (typing_extensions.NotRequired, typing_extensions.Required, typing_extensions.ReadOnly)
_UNIONS = (typing.Union, types.UnionType)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The bare type of a TypedDict item, and whether the key may be missing."""
    optional = False
    while typing_extensions.get_origin(annotation) in _WRAPPERS:
        optional = optional or typing_extensions.get_origin(annotation) is typing_extensions.NotRequired
        annotation = typing_extensions.get_args(annotation)[0]
    return annotation, optional


def mismatches(expected: Any, value: Any, path: str = "event") -> list[str]:
    """Where `value` (JSON data) departs from the type `expected`: a TypedDict's keys exactly (every
    required key present, no key it does not declare), recursively through lists, unions and Literals."""
    origin = typing_extensions.get_origin(expected)
    if typing_extensions.is_typeddict(expected):
        return _typeddict_mismatches(expected, value, path)
    if origin is typing_extensions.Literal:
        allowed = typing_extensions.get_args(expected)
        return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed!r}"]
    if origin in _UNIONS:
        branches = [mismatches(arm, value, path) for arm in typing_extensions.get_args(expected)]
        return [] if any(not b for b in branches) else min(branches, key=len)
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = typing_extensions.get_args(expected)
        return [problem for n, element in enumerate(value) for problem in mismatches(item, element, f"{path}[{n}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        _, item = typing_extensions.get_args(expected)
        return [problem for key, element in value.items() for problem in mismatches(item, element, f"{path}.{key}")]
    return _scalar_mismatches(expected, value, path)


def _typeddict_mismatches(expected: Any, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: {value!r} is not an object ({expected.__name__})"]
    hints = typing_extensions.get_type_hints(expected, include_extras=True)
    items = {key: _unwrap(hint) for key, hint in hints.items()}
    problems = [
        f"{path}: no key {key!r} ({expected.__name__})"
        for key, (_, opt) in items.items()
        if not opt and key not in value
    ]
    problems += [f"{path}: key {key!r} is not in {expected.__name__}" for key in value if key not in items]
    for key, (hint, _) in items.items():
        if key in value:
            problems += mismatches(hint, value[key], f"{path}.{key}")
    return problems


def _scalar_mismatches(expected: Any, value: Any, path: str) -> list[str]:
    if expected is Any or expected is object:
        return []
    if expected is None or expected is type(None):
        return [] if value is None else [f"{path}: {value!r} is not null"]
    if expected is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: {value!r} is not an int"]
    if expected in (str, bool, float):
        return [] if isinstance(value, expected) else [f"{path}: {value!r} is not a {expected.__name__}"]
    raise TypeError(f"{path}: no check for {expected!r}")


def event_types(union: Any) -> dict[str, Any]:
    """Each event type a union of event TypedDicts declares, with its TypedDict."""
    declared: dict[str, Any] = {}
    for member in typing_extensions.get_args(union) or (union,):
        hint, _ = _unwrap(typing_extensions.get_type_hints(member, include_extras=True)["type"])
        for name in typing_extensions.get_args(hint):
            assert name not in declared, f"{name} is declared twice"
            declared[name] = member
    return declared


def contract_mismatches(union: Any, published: list[Published]) -> list[str]:
    """How the published events depart from the union of TypedDicts their stream declares."""
    declared = event_types(union)
    problems = []
    for event in published:
        if event.type not in declared:
            problems.append(f"{event.type}: published on {event.stream} but not declared")
        else:
            problems += mismatches(declared[event.type], event.event, event.type)
    return problems
