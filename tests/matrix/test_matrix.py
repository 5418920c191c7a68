"""The role-by-tenant matrix: every endpoint, every role, an own/foreign/missing object, against
expected.yaml. A new endpoint without a row fails; a foreign object must answer like a missing one."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import pytest

from tests.matrix import harness
from tests.matrix.conftest import World, actors

_writing = pytest.mark.skipif(harness.WRITE, reason="MATRIX_WRITE=1: the cells test rewrites the table")


@_writing
def test_every_endpoint_has_a_row() -> None:
    """Every URL pattern, API operation, websocket endpoint and message type has a row in the table."""
    rows, _ = harness.load()
    covered = {harness.base_key(key) for key in rows}
    missing = sorted(set(harness.all_endpoints()) - covered)
    assert not missing, "add a row to tests/matrix/expected.yaml (or run MATRIX_WRITE=1) for:\n  " + "\n  ".join(
        missing
    )


@_writing
def test_every_row_names_an_endpoint() -> None:
    """A row whose endpoint is gone is stale and must be removed."""
    rows, _ = harness.load()
    endpoints = harness.all_endpoints()
    stale = sorted(key for key in rows if harness.base_key(key) not in endpoints)
    assert not stale, "stale rows in tests/matrix/expected.yaml (no such endpoint):\n  " + "\n  ".join(stale)
    homeless = sorted(key for key in rows if sum(belongs(key) for belongs in PARTS.values()) != 1)
    assert not homeless, "rows in no part (or in two) of test_the_matrix:\n  " + "\n  ".join(homeless)


def _cells_rows(rows: dict[str, dict[str, Any]], endpoints: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows to run: the table's, plus (when writing) a default row for every endpoint without one."""
    if not harness.WRITE:
        return rows
    merged: dict[str, dict[str, Any]] = {}
    for key, endpoint in endpoints.items():
        if not any(harness.base_key(existing) == key for existing in rows):
            merged[key] = harness.default_row(key, endpoint)
    for key, row in rows.items():
        if harness.base_key(key) in endpoints:
            merged[key] = {name: value for name, value in row.items() if name != "cells"}
    for key in sorted(set(rows) - set(merged)):
        print(f"dropped stale row (no such endpoint): {key}")
    for key in harness._EXTRA_ROWS:
        if key not in merged and harness.base_key(key) in endpoints:
            merged[key] = harness.default_row(key, endpoints[harness.base_key(key)])
    return merged


def _kind(key: str) -> str:
    if key.startswith("HTTP /admin/"):
        return "admin"
    return key.split(" ", 1)[0].lower()


def _clients(world: World, ACTORS: list[str]) -> dict[str, Any]:  # noqa: N803
    from django.conf import settings
    from django.test import Client
    from django.utils.crypto import get_random_string

    clients = {}
    for actor in ACTORS:
        client = Client(enforce_csrf_checks=True)
        user = world.actor(actor)
        if user is not None:
            client.force_login(user)
        # The API's SessionAuth and Django's middleware both check this pair on unsafe methods.
        client.matrix_csrf = get_random_string(32)  # type: ignore[attr-defined]
        client.cookies[settings.CSRF_COOKIE_NAME] = client.matrix_csrf  # type: ignore[attr-defined]
        client.get("/")  # binds the session's organisation outside any cell's savepoint
        clients[actor] = client
    return clients


def _sides_for(
    key: str, request: harness.Request, endpoint: dict[str, Any], row: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per side, the values a cell uses. A message row's socket is always the own object's: the
    sides vary only the ids inside the message."""
    values = request.values
    if key.startswith("WS") and "send" in row:
        route_names = {m["name"] for m in harness._CONVERTER.finditer(endpoint["route"])}
        return {
            side: {**values[side], **{n: values["own"][n] for n in route_names if n in values["own"]}}
            for side in harness.SIDES
        }
    return values


def _scoped(
    key: str, request: harness.Request, endpoint: dict[str, Any], row: dict[str, Any], refs: harness.Refs
) -> bool:
    if key.startswith("WS") and "send" in row:
        route_names = {m["name"] for m in harness._CONVERTER.finditer(endpoint["route"])}
        return any(
            refs.resolve(str(ref))[3] for name, ref in (row.get("params") or {}).items() if name not in route_names
        )
    return request.scoped


class _Cells:
    """What the cells observed: per row, actor and side the label (and, for HTTP, the body), plus
    where the time went (per endpoint kind, and per row for MATRIX_PROFILE)."""

    def __init__(self) -> None:
        self.observed: dict[str, dict[str, Any]] = {}  # key -> actor -> side -> label
        self.bodies: dict[tuple[str, str, str], str] = {}
        self.ws_jobs: list[tuple[str, str, str, dict[str, Any]]] = []
        self.plans: dict[str, tuple[bool, dict[str, dict[str, Any]]]] = {}
        self.spent: dict[str, float] = {}
        self.per_row: dict[str, float] = {}

    def charge(self, kind: str, key: str, seconds: float) -> None:
        self.spent[kind] = self.spent.get(kind, 0.0) + seconds
        self.per_row[key] = self.per_row.get(key, 0.0) + seconds


def _observe_http(
    cells: _Cells,
    rows: dict[str, dict[str, Any]],
    endpoints: dict[str, dict[str, Any]],
    refs: harness.Refs,
    clients: dict[str, Any],
    ACTORS: list[str],  # noqa: N803
) -> None:
    """Plan every row's cells and run the HTTP ones; the websocket ones are queued in `ws_jobs`."""
    from django_redis import get_redis_connection

    for key, row in rows.items():
        if "skip" in row or harness.base_key(key) not in endpoints:
            continue  # a stale row fails test_every_row_names_an_endpoint
        # Every row starts with full rate buckets: the savepoints undo each cell's rows, not the
        # anonymous address's API budget, which a few hundred rows would otherwise spend.
        get_redis_connection("default").flushdb()
        endpoint = endpoints[harness.base_key(key)]
        built = harness.build(row, refs)
        sides = _sides_for(key, built, endpoint, row)
        scoped = _scoped(key, built, endpoint, row, refs)
        cells.plans[key] = (scoped, sides)
        cells.observed[key] = {actor: {} for actor in ACTORS}
        for actor in ACTORS:
            for side in harness.SIDES if scoped else ("own",):
                if key.startswith("WS"):
                    cells.ws_jobs.append((key, actor, side, sides[side]))
                    continue
                tick = time.monotonic()
                label, body = harness.observe_http(clients[actor], key, row, endpoint, sides[side])
                cells.charge(_kind(key), key, time.monotonic() - tick)
                cells.observed[key][actor][side] = label
                cells.bodies[(key, actor, side)] = body


def _observe_ws(
    cells: _Cells,
    rows: dict[str, dict[str, Any]],
    endpoints: dict[str, dict[str, Any]],
    sessions: dict[str, Any],
) -> None:
    """Run the queued websocket cells in one event loop, driven from this thread."""
    from asgiref.sync import async_to_sync
    from channels.layers import channel_layers

    async def run_ws() -> None:
        try:
            for key, actor, side, values in cells.ws_jobs:
                endpoint = endpoints[harness.base_key(key)]
                tick = time.monotonic()
                cells.observed[key][actor][side] = await harness.observe_ws(
                    sessions[actor], key, rows[key], endpoint, values
                )
                cells.charge("ws", key, time.monotonic() - tick)
        finally:
            await harness.settle()

    channel_layers.backends.clear()
    async_to_sync(run_ws)()
    channel_layers.backends.clear()


def _observed_table(rows: dict[str, dict[str, Any]], cells: _Cells, ACTORS: list[str]) -> dict[str, dict[str, Any]]:  # noqa: N803
    """The table as observed: every row as it was, with the cells it answered."""
    new_rows: dict[str, dict[str, Any]] = {}
    for key, row in rows.items():
        new_row = {name: value for name, value in row.items() if name != "cells"}
        if key in cells.observed:
            scoped, _ = cells.plans[key]
            observed = cells.observed[key]
            new_row["cells"] = {
                actor: (dict(observed[actor]) if scoped else observed[actor]["own"]) for actor in ACTORS
            }
        new_rows[key] = new_row
    return new_rows


def _oracle(cells: _Cells, comments: dict[tuple[str, str], str], ACTORS: list[str]) -> list[str]:  # noqa: N803
    """The security property, checked on what was observed: foreign == missing (operators excepted:
    they belong to no organisation, and Django's admin is theirs across all of them)."""
    oracle: list[str] = []
    for key, (scoped, _) in cells.plans.items():
        if not scoped:
            continue
        for actor in ACTORS:
            if actor == "operator" or "BUG" in comments.get((key, actor), ""):
                continue
            cell = cells.observed[key][actor]
            if cell["foreign"] != cell["missing"]:
                oracle.append(f"{key} [{actor}]: foreign {cell['foreign']} but missing {cell['missing']}")
            elif str(cell["foreign"]).startswith("404") and cells.bodies.get(
                (key, actor, "foreign")
            ) != cells.bodies.get((key, actor, "missing")):
                oracle.append(f"{key} [{actor}]: foreign and missing 404 bodies differ")
    return oracle


def _report_timing(cells: _Cells, elapsed: float) -> None:
    cell_count = sum(len(sides) for per_actor in cells.observed.values() for sides in per_actor.values())
    breakdown = ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in sorted(cells.spent.items()))
    if os.environ.get("MATRIX_PROFILE"):
        for key, seconds in sorted(cells.per_row.items(), key=lambda item: -item[1])[:25]:
            print(f"  {seconds:6.2f} s  {key}")
    print(f"\nmatrix: {len(cells.observed)} rows, {cell_count} cells in {elapsed:.1f} s ({breakdown})")


def _write_table(
    old_rows: dict[str, dict[str, Any]],
    new_rows: dict[str, dict[str, Any]],
    comments: dict[tuple[str, str], str],
    oracle: list[str],
) -> None:
    """MATRIX_WRITE=1: rewrite the table as observed, keeping the comments whose cell did not change."""
    kept = {}
    for (key, actor), comment in comments.items():
        old = (old_rows.get(key) or {}).get("cells", {}).get(actor)
        new = (new_rows.get(key) or {}).get("cells", {}).get(actor)
        if old == new:
            kept[(key, actor)] = comment
        else:
            print(f"dropped comment (value changed {old} -> {new}): {key} [{actor}] {comment}")
    harness.EXPECTED.write_text(harness.dump(new_rows, kept))
    for line in oracle:
        print("ORACLE:", line)


def _cell_diffs(old_rows: dict[str, dict[str, Any]], new_rows: dict[str, dict[str, Any]]) -> list[str]:
    diffs: list[str] = []
    for key, row in new_rows.items():
        expected_cells = (old_rows.get(key) or {}).get("cells")
        if "cells" not in row:
            continue
        for actor, cell in row["cells"].items():
            want = (expected_cells or {}).get(actor)
            if want != cell:
                diffs.append(f"{key} [{actor}]: expected {want}, observed {cell}")
    return diffs


# The cells run in three parts, each its own test with its own world, so that `make test`'s two
# workers can share them; MATRIX_WRITE=1 runs them all in one, since it rewrites the whole table.
PARTS = {
    "admin": lambda key: key.startswith(("HTTP /admin/", "HTTP /manage/")),
    "pages": lambda key: key.startswith("HTTP ") and not key.startswith(("HTTP /admin/", "HTTP /manage/")),
    "api-ws": lambda key: key.startswith(("API ", "WS ")),
}


def _in_part(part: str, key: str) -> bool:
    return part == "all" or PARTS[part](key)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("part", ["all"] if harness.WRITE else list(PARTS))
def test_the_matrix(
    part: str, matrix_world: World, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Every cell answers as the table says, and every foreign object answers exactly like a missing one."""
    import channels.db
    from django.db import transaction

    from tests.helpers import session_for

    started = time.monotonic()
    # Thousands of 4xx answers would each log two warnings; the table is the report.
    logging.disable(logging.WARNING)
    request.addfinalizer(lambda: logging.disable(logging.NOTSET))
    ACTORS = actors()  # noqa: N806
    endpoints = harness.all_endpoints()
    old_rows, comments = harness.load()
    rows = _cells_rows(old_rows, endpoints)
    rows = {key: row for key, row in rows.items() if _in_part(part, key)}
    old_rows = {key: row for key, row in old_rows.items() if _in_part(part, key)}
    only = os.environ.get("MATRIX_ONLY")  # a substring of row keys: run (and compare) only those rows
    if only:
        assert not harness.WRITE, "MATRIX_ONLY cannot be combined with MATRIX_WRITE"
        rows = {key: row for key, row in rows.items() if only in key}
        old_rows = {key: row for key, row in old_rows.items() if only in key}
    refs = harness.Refs(matrix_world)
    clients = _clients(matrix_world, ACTORS)

    cells = _Cells()
    _observe_http(cells, rows, endpoints, refs, clients, ACTORS)

    # Websockets in one event loop, driven from this thread: the consumers' database calls then run
    # here, inside this test's transaction, so each cell's savepoint undoes its writes. Two test-only
    # shims make that possible: channels' close_old_connections would close the connection mid-
    # transaction, and SET TRANSACTION ISOLATION cannot run inside a savepoint.
    monkeypatch.setattr(channels.db, "close_old_connections", lambda: None)
    monkeypatch.setattr("realtime.consumers.base.snapshot_transaction", transaction.atomic)
    sessions = {actor: (session_for(matrix_world.actor(actor)) if actor != "anonymous" else None) for actor in ACTORS}
    _observe_ws(cells, rows, endpoints, sessions)

    new_rows = _observed_table(rows, cells, ACTORS)
    oracle = _oracle(cells, comments, ACTORS)
    _report_timing(cells, time.monotonic() - started)

    if harness.WRITE:
        _write_table(old_rows, new_rows, comments, oracle)
        return

    diffs = _cell_diffs(old_rows, new_rows)
    problems = [*("CELL " + d for d in diffs), *("ORACLE " + o for o in oracle)]
    assert not problems, (
        f"{len(diffs)} cells differ from tests/matrix/expected.yaml and {len(oracle)} foreign cells answer "
        "unlike missing ones (fix the code, or review and regenerate with MATRIX_WRITE=1):\n  " + "\n  ".join(problems)
    )
