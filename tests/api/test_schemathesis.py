"""schemathesis over /api/openapi.json, in process, as a signed-in learner: no input the schema
admits, nor any it refuses, gives a server error, and every answer matches its documented status,
content type and body schema.

Bounded on purpose (10 examples per operation, no shrinking, derandomized), so it runs in `make
test` at a fixed cost; operations that would end the session or the account are excluded, or the
rest of the run would test the anonymous API.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import session_for

# Operations that end the session or the account: none exist in v1 yet; when logout or account
# deletion joins the API, this keeps them out (they would sign the learner out mid-run).
ENDS_SESSION = re.compile(r"log-?out|sign-?out|delete-account|erase|deactivate")
OWN_ACCOUNT_OR_SESSION = re.compile(r"/(me|account|accounts/me|session|sessions/current)/?$")
# Ends one of the caller's sessions: the generator could hit the learner's own.
OWN_SESSIONS = re.compile(r"/me/sessions/\{[a-z_]+\}$")
# Valid bodies that are refused by what only a person holds (the current password, a mailed reset
# key): a schema-valid guess is rightly 422 there, so "valid input is accepted" does not apply.
SECRET_GATED = {("POST", "/api/v1/users/me/password"), ("POST", "/api/v1/users/password-reset/confirm")}
# Bodies with rules across fields that JSON Schema does not carry (a multiple-choice question needs
# choices and a key among them; the rubric bands must cover 0-100; an assessment names a candidate
# or an email, not both, and closes after it opens): refused field by field with 422.
CROSS_FIELD_RULES = {("POST", "/api/v1/interviews/templates"), ("POST", "/api/v1/interviews/assignments")}


def ends_session_or_account(ctx: Any) -> bool:
    """Logout, sign-out, account deletion or erasure, and DELETE on the own account or session."""
    path, method = ctx.operation.path.lower(), ctx.operation.method.upper()
    return bool(ENDS_SESSION.search(path)) or (
        method == "DELETE" and bool(OWN_ACCOUNT_OR_SESSION.search(path) or OWN_SESSIONS.search(path))
    )


# The session cookie is the credential the fixture supplies, not an input to fuzz; anonymous access
# (401) is covered by tests/domains/notes/test_api.py.
# Unexpected methods (TRACE, OPTIONS … on every path) are left out with the check that judges them:
# Django answers 405 for those by itself.
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"with-security-parameters": False}, "phases": {"coverage": {"unexpected-methods": []}}}
)
# `make test` runs the bounded generate phase: 10 examples per operation, valid and invalid. With
# COACHWIRE_SCHEMATHESIS_COVERAGE=1 the deterministic coverage phase runs too (every bound ±1, each
# field missing or of the wrong type: ~55 cases per operation, ~8 s more).
PHASES = [Phase.explicit, Phase.generate] if os.environ.get("COACHWIRE_SCHEMATHESIS_COVERAGE") else [Phase.generate]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


@pytest.fixture
def api_schema(db: None) -> Iterator[Any]:
    """The live schema, served by Django's WSGI handler in this process, so requests see the test
    database (WSGI, not ASGI: the ASGI handler runs sync views on another thread, outside the test's
    transaction; the middleware stack is the same, async-capable either way). As in Django's test
    client, a finished request must not close the connection the test transaction lives on."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler(), config=CONFIG)
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def signed_in(db: None) -> dict[str, Any]:
    """A learner of an organisation with a few notes: the cookies and header a browser would send."""
    from tests.domains.notes.helpers import build_world, embedded_note

    world = build_world()
    for title in ("STAR answers", "Salary talk"):
        embedded_note(organisation=world.org, owner=world.learner, title=title, body=f"# {title}\n\nSome text.")
    token = _get_new_csrf_string()
    session = session_for(world.learner)
    return {
        "cookies": {django_settings.SESSION_COOKIE_NAME: session.session_key, django_settings.CSRF_COOKIE_NAME: token},
        "headers": {"X-CSRFToken": token},
    }


schema = schemathesis.pytest.from_fixture("api_schema").exclude(func=ends_session_or_account)


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=PHASES,
    suppress_health_check=list(HealthCheck),
)
def test_api_has_no_server_errors_and_matches_its_schema(case: Any, signed_in: dict[str, Any]) -> None:
    """Every operation, fed valid and invalid input, answers a documented 2xx/4xx in its schema."""
    checks = CHECKS
    if (case.operation.method.upper(), case.operation.path) in SECRET_GATED | CROSS_FIELD_RULES:
        checks = [check for check in CHECKS if check is not positive_data_acceptance]
    case.call_and_validate(cookies=signed_in["cookies"], headers=signed_in["headers"], checks=checks)
