"""The role-by-tenant matrix: enumerate every endpoint, build concrete requests, observe each cell,
read and write expected.yaml. See README.md in this folder."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXPECTED = Path(__file__).with_name("expected.yaml")
WRITE = os.environ.get("MATRIX_WRITE") == "1"
MISSING_INT = 2_000_000_001  # an id no seeded row has (sequences start at 1 in the test database)
MISSING_SLUG = "matrix-missing"
OPEN_SOCKETS: list[Any] = []
SIDES = ("own", "foreign", "missing")

# ------------------------------------------------------------------------------------------ enumeration
_CONVERTER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


def _walk(
    patterns: list[Any], prefix: str = "", admin_prefix: str | None = None
) -> Iterator[tuple[str, Any, str | None]]:
    from django.urls import URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            route = prefix + str(pattern.pattern)
            inner_admin = route if pattern.app_name == "admin" else admin_prefix
            yield from _walk(pattern.url_patterns, route, inner_admin)
        else:
            yield prefix + str(pattern.pattern), pattern, admin_prefix


def _route_key(route: str, pattern: Any) -> str:
    """A stable key: the admin's app_list regex lists every installed app, so it is folded."""
    if pattern.name == "app_list":
        route = re.sub(r"\(\?P<app_label>[^)]*\)", "(?P<app_label>…)", route)
    return "/" + route


def _model_label(app_label: str, model_name: str) -> str | None:
    from django.apps import apps

    try:
        apps.get_model(app_label, model_name)
    except LookupError:
        return None
    return f"{app_label}.{model_name}"


def http_endpoints() -> dict[str, dict[str, Any]]:
    """Every Django URL pattern (admin sites and allauth included), keyed `HTTP /route`. Ninja's
    operation patterns are left to the API rows (one per OpenAPI operation)."""
    from django.urls import get_resolver

    found: dict[str, dict[str, Any]] = {}
    for route, pattern, admin_prefix in _walk(get_resolver().url_patterns):
        if getattr(pattern.callback, "__module__", "") == "ninja.operation":
            continue
        key = f"HTTP {_route_key(route, pattern)}"
        model = None
        if admin_prefix is not None:
            rest = route[len(admin_prefix) :].split("/")
            if len(rest) >= 3 and rest[0] and rest[1] and not rest[0].startswith(("^", "<")):
                model = _model_label(rest[0], rest[1])
        found.setdefault(key, {"route": route, "name": pattern.name, "admin_model": model, "admin": admin_prefix})
    return found


def api_endpoints() -> dict[str, dict[str, Any]]:
    from project.api import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    found: dict[str, dict[str, Any]] = {}
    for path, operations in schema["paths"].items():
        for method in operations:
            found[f"API {method.upper()} {path}"] = {"route": path, "method": method.upper()}
    return found


def ws_endpoints() -> dict[str, dict[str, Any]]:
    from realtime.routing import websocket_urlpatterns

    found: dict[str, dict[str, Any]] = {}
    for pattern in websocket_urlpatterns:
        route = "/" + str(pattern.pattern)
        consumer = pattern.callback.consumer_class
        found[f"WS {route}"] = {"route": route, "consumer": consumer.__name__}
        types = {**getattr(consumer, "_base_messages", {}), **getattr(consumer, "messages", {})}
        for message_type in sorted(types):
            found[f"WS {route} {message_type}"] = {"route": route, "consumer": consumer.__name__, "type": message_type}
    return found


def all_endpoints() -> dict[str, dict[str, Any]]:
    return {**http_endpoints(), **api_endpoints(), **ws_endpoints()}


def base_key(row_key: str) -> str:
    """`HTTP /x/ #post` is a variant row of the endpoint `HTTP /x/`."""
    return row_key.split(" #", 1)[0]


# ------------------------------------------------------------------------------------------ default rows
# The first generation takes these; afterwards expected.yaml is the source of truth for each row's
# request (params, method, body), and only its cells are rewritten.
_PARAM_DEFAULTS = {
    "slug": "lounge.open",
    "note_id": "note.private",
    "thread_id": "thread",
    "user_id": "member",
    "kind": "policy",
    "notification_id": "notification",
    "invitation_id": "invitation",
    "token_id": "token",
    # The account API's DELETE /me/sessions/{session_id} row names `user_session` itself (expected.yaml).
    "session_id": "interview_session",
    "template_id": "interview_template",
    "draft_id": "interview_draft",
    "answer_id": "interview_answer",
    "assignment_id": "interview_assignment",
}

_SKIPS = {
    "HTTP /accounts/^confirm-email/(?P<key>[-:\\w]+)/$": "needs an e-mail confirmation key from a sent mail",
    "HTTP /accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": "needs a reset key from a sent mail",
    "HTTP /accounts/login/code/confirm/": "needs a pending login-code flow in the session",
    "HTTP /accounts/2fa/authenticate/": "needs a pending MFA login stage in the session",
}

_EXTRA_ROWS: dict[str, dict[str, Any]] = {
    # Form posts on object URLs: the tenancy check that matters is on the write.
    "HTTP /lounges/<slug:slug>/join/ #post": {"method": "POST", "data": {}},
    "HTTP /lounges/<slug:slug>/leave/ #post": {"method": "POST", "data": {}},
    "HTTP /members/<int:user_id>/ #post": {"method": "POST", "data": {"roles": ["learner"]}},
    "HTTP /notes/<int:note_id>/delete/ #post": {"method": "POST", "data": {}},
    "HTTP /notes/<int:note_id>/edit/ #post": {"method": "POST", "data": {"title": "Matrix edit", "body": "x"}},
    "HTTP /coach/<int:thread_id>/rename/ #post": {"method": "POST", "data": {"title": "Matrix rename"}},
    "HTTP /coach/<int:thread_id>/delete/ #post": {"method": "POST", "data": {}},
    "HTTP /notes/new/ #post-lounge": {
        "method": "POST",
        "data": {"title": "Matrix note", "body": "x", "lounge": "{lounge}"},
        "params": {"lounge": "lounge_id.members"},
    },
    "HTTP /notes/new/ #post-invite": {
        "method": "POST",
        "data": {"title": "Matrix note", "body": "x", "lounge": "{lounge}"},
        "params": {"lounge": "lounge_id.invite"},
    },
    "HTTP /lounges/<slug:slug>/ #members": {"params": {"slug": "lounge.members"}},
    "HTTP /lounges/<slug:slug>/ #invite": {"params": {"slug": "lounge.invite"}},
    "HTTP /notes/<int:note_id>/ #shared": {"params": {"note_id": "note.shared"}},
    "API GET /api/v1/notes/{note_id} #shared": {"params": {"note_id": "note.shared"}},
    "API POST /api/v1/notes #invite": {
        "json": {"title": "Matrix note", "lounge_id": "{lounge}"},
        "params": {"lounge": "lounge_id.invite"},
    },
    # Without the token, an unsafe call is refused before anything else (ninja's SessionAuth).
    "API POST /api/v1/notes #no-csrf": {"csrf": False, "json": {"title": "Matrix note"}},
    "API DELETE /api/v1/notes/{note_id} #no-csrf": {"csrf": False},
    "API PATCH /api/v1/notes/{note_id} #shared": {
        "json": {"title": "Matrix renamed"},
        "params": {"note_id": "note.shared"},
    },
    "HTTP /notifications/<str:notification_id>/read/ #post": {"method": "POST", "data": {}},
    "HTTP /o/<slug:slug>/logo": {"params": {"slug": "organisation_slug"}},
    "HTTP /o/<slug:slug>/theme.css": {"params": {"slug": "organisation_slug"}},
    "HTTP /invitations/<str:invitation_id>/resend/": {"method": "POST", "data": {}},
    "HTTP /invitations/<str:invitation_id>/revoke/": {"method": "POST", "data": {}},
    "HTTP /members/<int:user_id>/deactivate/": {"method": "POST", "data": {}},
    "HTTP /members/<int:user_id>/reactivate/": {"method": "POST", "data": {}},
    "HTTP /members/<int:user_id>/remove/": {"method": "POST", "data": {}},
    "API POST /api/v1/invitations": {"json": {"email": "matrix-invitee@example.com", "role": "candidate"}},
    "API POST /api/v1/tokens": {"json": {"name": "matrix script", "scope": "read", "expires_in_days": 7}},
    "API PATCH /api/v1/users/me": {"json": {"display_name": "Matrix Renamed"}},
    "HTTP /account/tokens/<str:token_id>/revoke/": {"method": "POST", "data": {}},
    "HTTP /interviews/sessions/start/": {
        "method": "POST",
        "data": {"template_id": "{template}"},
        "params": {"template": "interview_template"},
    },
    "HTTP /interviews/sessions/<str:session_id>/submit/": {"method": "POST", "data": {}},
    "HTTP /interviews/sessions/<str:session_id>/grant/": {
        "method": "POST",
        "data": {"seconds": "60", "reason": "matrix"},
    },
    "HTTP /interviews/review/<str:draft_id>/approve/": {"method": "POST", "data": {}},
    "HTTP /interviews/review/<str:draft_id>/reject/": {"method": "POST", "data": {}},
    "HTTP /interviews/sessions/<str:session_id>/answers/<str:answer_id>/override/": {
        "method": "POST",
        "data": {"score": "50", "reason": "matrix"},
    },
    "API POST /api/v1/interviews/sessions": {
        "json": {"template_id": "{template}"},
        "params": {"template": "interview_template"},
    },
    "API PUT /api/v1/interviews/sessions/{session_id}/answer": {
        "json": {"question_id": "{question}", "revision": 3, "text": "matrix"},
        "params": {"session_id": "interview_session", "question": "interview_question"},
    },
    "API POST /api/v1/interviews/templates": {
        "json": {
            "title": "Matrix",
            "role": "QA",
            "interview_type": "technical",
            "difficulty": "easy",
            "level": "junior",
            "duration_minutes": 10,
            "rubric": "x",
            "questions": [],
        }
    },
    "HTTP /account/tokens/ #post": {
        "method": "POST",
        "data": {"name": "matrix", "scope": "read", "expires_in_days": "7"},
    },
    "HTTP /notifications/read-all/ #post": {"method": "POST", "data": {}},
    "HTTP /notifications/preferences/ #post": {"method": "POST", "data": {"kind-lounge.muted": "digest"}},
    "API PUT /api/v1/notifications/preferences": {
        "json": {"preferences": [{"kind": "lounge.muted", "delivery": "digest"}]},
    },
    "WS /ws/lounges/<slug:slug>/ #members": {"params": {"slug": "lounge.members"}},
    "WS /ws/lounges/<slug:slug>/ #invite": {"params": {"slug": "lounge.invite"}},
    "WS /ws/lounges/<slug:slug>/ moderate #ban": {
        "send": {"type": "moderate", "action": "ban", "user_id": "{member}"},
        "params": {"member": "member"},
    },
}

_WS_BODIES: dict[str, dict[str, Any]] = {
    "message.post": {"client_msg_id": "matrix-post", "body": "matrix hello"},
    "message.edit": {"message_id": "{message}", "body": "matrix edited"},
    "coach.summon": {"request_id": "matrix-summon"},
    "coach.stop": {"message_id": "{message}"},
    "coach.text": {"message_id": "{message}"},
    "moderate": {"action": "hide", "message_id": "{message}", "reason": "matrix"},
    "report": {"message_id": "{message}", "reason": "matrix"},
    "report.resolve": {"report_id": "{report}", "action": "dismiss"},
    "resume": {"cursors": {}},
    "echo": {"data": "matrix"},
    "coach.regenerate": {"request_id": "matrix-regenerate"},
    "thread.rename": {"title": "matrix renamed"},
    "answer.save": {"question_id": "{question}", "revision": 2, "text": "matrix answer"},
    "question.open": {"position": 2},
    "session.submit": {},
    "integrity.signal": {"kind": "paste"},
    "time.grant": {"seconds": 60, "reason": "matrix"},
}
_WS_PARAMS = {
    "message": "message",
    "report": "report",
    "question": "interview_question",
}
_API_BODIES = {
    "POST": {"title": "Matrix note", "lounge_id": "{lounge}"},
    "PUT": {"title": "Matrix replaced", "body": "x"},
    "PATCH": {"title": "Matrix renamed"},
}


def _param_default(name: str) -> str:
    return _PARAM_DEFAULTS.get(name, f"=matrix-{name}")


def _http_defaults(row: dict[str, Any], params: dict[str, Any], endpoint: dict[str, Any]) -> None:
    route = endpoint.get("route", "")
    for match in _CONVERTER.finditer(route):
        name = match["name"]
        if name in params:
            continue
        if name in ("object_id", "id") and endpoint.get("admin_model"):
            params[name] = f"admin:{endpoint['admin_model']}"
        elif name == "object_id":  # the admin's view-on-site redirect: a lounge's content type
            params[name] = "admin:lounges.lounge"
        elif name == "content_type_id":
            params[name] = "ct:lounges.lounge"
        else:
            params.setdefault(name, _param_default(name))
    if endpoint.get("name") == "app_list":
        row["path"] = f"/{endpoint['admin']}lounges/"
    elif route.endswith("(?P<url>.*)$"):
        row["path"] = f"/{endpoint['admin']}matrix-nowhere/"


def _api_defaults(row: dict[str, Any], params: dict[str, Any], endpoint: dict[str, Any]) -> None:
    route = endpoint.get("route", "")
    for match in re.finditer(r"\{(\w+)\}", route):
        params.setdefault(match[1], _param_default(match[1]))
    method = endpoint.get("method", "GET")
    if method in _API_BODIES and "json" not in row:
        row["json"] = _API_BODIES[method]
        if "{lounge}" in json.dumps(row["json"]):
            params.setdefault("lounge", "lounge_id.members")
    if route.endswith("/search"):
        row["query"] = {"q": "matrix"}


def _ws_defaults(row: dict[str, Any], params: dict[str, Any], endpoint: dict[str, Any]) -> None:
    for match in _CONVERTER.finditer(endpoint.get("route", "")):
        params.setdefault(match["name"], _param_default(match["name"]))
    message_type = endpoint.get("type")
    if message_type and "send" not in row:
        body = dict(_WS_BODIES.get(message_type, {}))
        if message_type in ("coach.stop", "coach.text"):
            coach = "coach_reply" if endpoint.get("consumer") == "CoachThreadConsumer" else "coach_message"
            params["message"] = coach
        row["send"] = {"type": message_type, **body}
    for placeholder, ref in _WS_PARAMS.items():
        if "{" + placeholder + "}" in json.dumps(row.get("send", {})):
            params.setdefault(placeholder, ref)


# By the row key's prefix: what a default row of that kind of endpoint needs besides its extras.
_DEFAULTS_BY_KIND: tuple[tuple[str, Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None]], ...] = (
    ("HTTP", _http_defaults),
    ("API", _api_defaults),
    ("WS", _ws_defaults),
)


def default_row(key: str, endpoint: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    base = base_key(key)
    if base in _SKIPS:
        return {"skip": _SKIPS[base]}
    if key in _EXTRA_ROWS:
        row.update(json.loads(json.dumps(_EXTRA_ROWS[key])))
    params = dict(row.get("params", {}))
    for prefix, fill in _DEFAULTS_BY_KIND:
        if key.startswith(prefix):
            fill(row, params, endpoint or {})
            break
    if params:
        row["params"] = params
    return row


# ------------------------------------------------------------------------------------------ object references
class Refs:
    """Turns a param reference into (own, foreign, missing) values, and says whether it is scoped
    to an organisation (a global reference has one value, the same in all three)."""

    def __init__(self, world: Any) -> None:
        self.world = world

    def resolve(self, ref: str) -> tuple[Any, Any, Any, bool]:
        if ref.startswith("="):
            value = ref[1:]
            return value, value, value, False
        if ref.startswith("when:"):
            # A moment this many seconds from now, as ISO 8601 (windows that must lie ahead).
            from datetime import timedelta

            from django.utils import timezone

            moment = (timezone.now() + timedelta(seconds=int(ref[5:]))).isoformat()
            return moment, moment, moment, False
        if ref == "policy":
            return self.world.policy_kind, self.world.policy_kind, "matrix-missing", False
        if ref.startswith("ct:"):
            from django.contrib.contenttypes.models import ContentType

            app_label, model = ref[3:].split(".")
            pk = ContentType.objects.get(app_label=app_label, model=model).pk
            return pk, pk, pk, False
        if ref.startswith("admin:"):
            return self._admin(ref[6:])
        own, foreign = self._named(ref, self.world.own), self._named(ref, self.world.foreign)
        missing = MISSING_SLUG if isinstance(own, str) else MISSING_INT
        return own, foreign, missing, True

    @staticmethod
    def _named(ref: str, objects: Any) -> Any:
        kind, _, detail = ref.partition(".")
        if kind == "lounge":
            return objects.lounges[detail or "open"].slug
        if kind == "lounge_id":
            return objects.lounges[detail or "open"].pk
        if kind == "note":
            return (objects.note_shared if detail == "shared" else objects.note_private).pk
        if kind == "member":
            return objects.users[detail or "learner"].pk
        if kind in (
            "thread",
            "message",
            "mentor_message",
            "report",
            "coach_reply",
            "coach_message",
            "notification",
            "invitation",
            "token",
            "user_session",
            "interview_template",
            "interview_question",
            "interview_session",
            "interview_answer",
            "interview_draft",
            "interview_assignment",
        ):
            return getattr(objects, kind).pk
        if kind == "organisation":
            return objects.organisation.pk
        if kind == "organisation_slug":
            return objects.organisation.slug
        raise KeyError(f"unknown param reference {ref!r}")

    _ORG_PATHS = (
        "organisation",
        "lounge__organisation",
        "thread__organisation",
        "note__organisation",
        "message__lounge__organisation",
        "memberships__organisation",
        "user__memberships__organisation",
        "owner__memberships__organisation",
    )

    def _admin(self, label: str) -> tuple[Any, Any, Any, bool]:
        from django.apps import apps

        from domains.accounts.models import Organisation

        model = apps.get_model(label)
        if model is Organisation:
            return self.world.own.organisation.pk, self.world.foreign.organisation.pk, MISSING_INT, True
        preferred = {
            "accounts.user": "member",
            "lounges.lounge": "lounge_id.open",
            "lounges.message": "message",
            "lounges.report": "report",
        }.get(label.lower())
        if preferred:
            return self._named(preferred, self.world.own), self._named(preferred, self.world.foreign), MISSING_INT, True
        for path in self._ORG_PATHS:
            if self._has_path(model, path):
                own = model._default_manager.filter(**{path: self.world.own.organisation}).order_by("pk").first()
                foreign = (
                    model._default_manager.filter(**{path: self.world.foreign.organisation}).order_by("pk").first()
                )
                return (own.pk if own else MISSING_INT), (foreign.pk if foreign else MISSING_INT), MISSING_INT, True
        first = model._default_manager.order_by("pk").first()
        value = first.pk if first else MISSING_INT
        return value, value, MISSING_INT, False

    @staticmethod
    def _has_path(model: Any, path: str) -> bool:
        from django.contrib.auth import get_user_model
        from django.core.exceptions import FieldDoesNotExist

        current = model
        for part in path.split("__"):
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                return False
            # Forward foreign keys only (a Group's reverse `user` is no path to an organisation),
            # except a user's own memberships.
            forward = (field.many_to_one or field.one_to_one) and not field.auto_created
            if not forward and not (current is get_user_model() and part == "memberships"):
                return False
            current = field.related_model
            if current is None:
                return False
        return True


@dataclass
class Request:
    """One row made concrete: the values for each side, and whether the row is scoped."""

    values: dict[str, dict[str, Any]]  # side -> param -> value
    scoped: bool


def build(row: dict[str, Any], refs: Refs) -> Request:
    values: dict[str, dict[str, Any]] = {side: {} for side in SIDES}
    scoped = False
    for name, ref in (row.get("params") or {}).items():
        own, foreign, missing, is_scoped = refs.resolve(str(ref))
        scoped = scoped or is_scoped
        for side, value in zip(SIDES, (own, foreign, missing), strict=True):
            values[side][name] = value
    return Request(values=values, scoped=scoped)


def fill(template: Any, values: dict[str, Any]) -> Any:
    """`{name}` placeholders in strings; a string that is exactly one placeholder keeps the value's type."""
    if isinstance(template, str):
        whole = re.fullmatch(r"\{(\w+)\}", template)
        if whole and whole[1] in values:
            return values[whole[1]]
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m[1], m[0])), template)
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def concrete_path(key: str, row: dict[str, Any], endpoint: dict[str, Any], values: dict[str, Any]) -> str:
    if row.get("path"):
        return fill(row["path"], values)
    route = endpoint["route"]
    if key.startswith("API"):
        return re.sub(r"\{(\w+)\}", lambda m: str(values[m[1]]), route)
    path = _CONVERTER.sub(lambda m: str(values[m["name"]]), route)
    if "(?P<" in path or path.startswith("^"):
        raise ValueError(f"{key}: a regex route needs `path:` or `skip:` in expected.yaml")
    return path if path.startswith("/") else "/" + path


# ------------------------------------------------------------------------------------------ observing
def _normalise_body(body: bytes, values: dict[str, Any]) -> str:
    text = body.decode("utf-8", "replace")
    for name, value in values.items():
        # Whole values only: a page's own digits (`utf-8`, `initial-scale=1`) are not ids.
        text = re.sub(rf"(?<![\w.=-]){re.escape(str(value))}(?![\w.-])", "{" + name + "}", text)
    text = re.sub(r"[A-Za-z0-9]{64}", "<token>", text)
    return re.sub(r'nonce="[^"]*"', 'nonce=""', text)


def http_label(response: Any, values: dict[str, Any]) -> int | str:
    """The status; for a redirect, also where to (`login` for any login page; ids made generic)."""
    status = response.status_code
    if 300 <= status < 400:
        location = response.get("Location", "").split("?", 1)[0]
        if location.endswith(("/accounts/login/", "/admin/login/", "/manage/login/")):
            return f"{status} login"
        # Only values of the request's own path name a redirect's target (`/members/{user_id}/`); a
        # body field's id (a lounge chosen in a form) may equal a new row's id by chance.
        asked = str(getattr(response, "request", {}).get("PATH_INFO", "")).rstrip("/") + "/"
        for name, value in values.items():
            if f"/{value}/" in asked:
                location = location.replace(f"/{value}/", "/{" + name + "}/")
        # An id the request created (a new note, say) differs from run to run.
        location = re.sub(r"/\d+/", "/<id>/", location)
        return f"{status} {location}"
    return status


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run one cell in a savepoint and undo it: no cell sees another's writes."""
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(sid)


def observe_http(
    client: Any, key: str, row: dict[str, Any], endpoint: dict[str, Any], values: dict[str, Any]
) -> tuple[int | str, str]:
    """(label, normalised body) for one HTTP or API cell."""
    path = concrete_path(key, row, endpoint, values)
    method = (endpoint.get("method") if key.startswith("API") else row.get("method")) or "GET"
    kwargs: dict[str, Any] = {}
    if method != "GET" and row.get("csrf", True):
        kwargs["HTTP_X_CSRFTOKEN"] = client.matrix_csrf
    if "json" in row:
        kwargs["data"] = json.dumps(fill(row["json"], values))
        kwargs["content_type"] = "application/json"
    elif "data" in row:
        kwargs["data"] = fill(row["data"], values)
    elif "query" in row:
        kwargs["data"] = row["query"]
    with rolled_back():
        response = getattr(client, method.lower())(path, **kwargs)
    body = _normalise_body(response.content, values) if response.status_code == 404 else ""
    return http_label(response, values), body


async def observe_ws(
    session: Any, key: str, row: dict[str, Any], endpoint: dict[str, Any], values: dict[str, Any]
) -> str:
    from asgiref.sync import sync_to_async
    from django.db import transaction

    from tests.helpers import communicator

    path = concrete_path(key, row, endpoint, values)
    sid = await sync_to_async(transaction.savepoint)()
    try:
        comm = communicator(path, session=session)
        connected, code = await comm.connect(timeout=5)
        if not connected:
            return f"reject {code}"
        first = await comm.receive_output(timeout=5)
        if first["type"] == "websocket.close":
            return f"close {first.get('code')}"
        try:
            if "send" not in row:
                return "accept"
            await comm.send_json_to({**fill(row["send"], values), "ref": "matrix"})
            await comm.send_json_to({"type": "ping", "ref": "matrix-after"})
            while True:
                output = await comm.receive_output(timeout=5)
                if output["type"] == "websocket.close":
                    return f"close {output.get('code')}"
                frame = json.loads(output["text"])
                if frame.get("type") == "event":
                    continue
                if frame.get("ref") == "matrix-after" and frame.get("type") == "pong" and row["send"]["type"] != "ping":
                    return "no reply"
                if frame.get("type") == "error":
                    return f"error {frame.get('code')}"
                return str(frame.get("type"))
        finally:
            # Closed all at once in `settle`: a lounge socket's orderly close costs ~150 ms, and
            # nothing it does touches what the next cell observes.
            OPEN_SOCKETS.append(comm)
    finally:
        await sync_to_async(transaction.savepoint_rollback)(sid)


async def settle() -> None:
    """End what the sockets left running (as tests/conftest.py's `_settle_loop`)."""
    from tests.helpers import settle_tasks

    sockets, OPEN_SOCKETS[:] = list(OPEN_SOCKETS), []
    await asyncio.gather(*(comm.disconnect(timeout=5) for comm in sockets), return_exceptions=True)
    await settle_tasks()


# ------------------------------------------------------------------------------------------ the table
HEADER = """\
# The role-by-tenant matrix: what every endpoint answers to every role, for an object of the own
# organisation (own), of another organisation (foreign) and for an id that does not exist (missing).
# Observed behaviour, checked by tests/matrix/test_matrix.py; read tests/matrix/README.md.
# Regenerate: MATRIX_WRITE=1 pytest tests/matrix   (a `# BUG: ...` comment stays on a line whose
# value did not change; a changed value drops its comment and the run prints it).
"""


def load() -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    """The rows, and the `# BUG:` (or any) comments by (row key, role)."""
    if not EXPECTED.exists():
        return {}, {}
    text = EXPECTED.read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the table is thousands of lines
    document = yaml.load(text, Loader=loader) or {}  # noqa: S506 - a safe loader (C or Python)
    rows = document.get("rows") or {}
    comments: dict[tuple[str, str], str] = {}
    row_key = None
    for line in text.splitlines():
        row_match = re.match(r"^  (\S.*):\s*$", line)
        if row_match:
            row_key = yaml.load(row_match[1], Loader=loader)  # noqa: S506 - a safe loader
            continue
        cell_match = re.match(r"^      (\w+):.*?\s+(#.*)$", line)
        if cell_match and row_key is not None:
            comments[(row_key, cell_match[1])] = cell_match[2]
    return rows, comments


def _scalar(value: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return (
        yaml.dump(value, Dumper=dumper, default_flow_style=True, width=10_000, sort_keys=False)
        .strip()
        .removesuffix("...")
        .strip()
    )


def dump(rows: dict[str, dict[str, Any]], comments: dict[tuple[str, str], str]) -> str:
    out = [HEADER, "rows:"]
    for key in sorted(rows):
        row = rows[key]
        out.append(f"  {_scalar(key)}:")
        for name in ("skip", "path", "method", "csrf", "params", "query", "data", "json", "send"):
            if name in row:
                out.append(f"    {name}: {_scalar(row[name])}")
        if "cells" in row:
            out.append("    cells:")
            for role, cell in row["cells"].items():
                comment = comments.get((key, role))
                line = f"      {role}: {_scalar(cell)}"
                out.append(f"{line}  {comment}" if comment else line)
    return "\n".join(out) + "\n"
