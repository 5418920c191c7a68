"""Malformed API requests answer a 4xx in the API's one error shape, and change nothing.

Each case here was a 500 before: a NUL in text (PostgreSQL cannot hold it), numbers beyond bigint,
a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a form body sent to a JSON operation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, RequestFactory

from domains.common.errors import Refusal
from domains.notes.models import Note
from tests.domains.notes.helpers import World, embedded_note

URL = "/api/v1/notes"
HUGE = "9" * 25  # beyond bigint (19 digits)


@pytest.fixture
def world(db: None) -> World:
    from tests.domains.notes.helpers import build_world

    return build_world()


def _client(world: World, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(world.learner)
    return client


def _csrf_client(world: World) -> tuple[Client, dict[str, Any]]:
    """A client that enforces CSRF as a browser meets it (so CsrfViewMiddleware reads form bodies)."""
    client = _client(world, enforce_csrf_checks=True)
    token = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    return client, {"HTTP_X_CSRFTOKEN": token}


def _post_json(client: Client, url: str, data: Any, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(data), content_type="application/json", **extra)


def _assert_error_shape(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}
    return body


def _locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "loc"),
    [
        (f"{URL}/search?q=a%00b", ["query", "q"]),
        (f"{URL}?tag=a%00", ["query", "tag"]),
        (f"{URL}?tag=%00", ["query", "tag"]),
    ],
)
def test_nul_in_a_query_parameter_is_422_for_that_field(world: World, url: str, loc: list[str]) -> None:
    """A NUL byte in `q` or `tag` answers 422 naming the parameter (it was a 500)."""
    body = _assert_error_shape(_client(world).get(url), 422)
    assert loc in _locs(body)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "a\x00b"),
        ("body", "text \x00 more"),
        ("body", "lone \ud800 surrogate"),
        ("tags", ["ok", "a\x00"]),
    ],
)
def test_unstorable_text_in_a_json_body_is_422_and_writes_nothing(world: World, field: str, value: Any) -> None:
    """NUL and unpaired surrogates in any string field of a body: 422 for that field, no note."""
    payload = {"title": "Fine", field: value}
    # json.dumps escapes a lone surrogate as \ud800, which is exactly what a client would send.
    body = _assert_error_shape(_post_json(_client(world), URL, payload), 422)
    assert any(loc[:3] == ["body", "payload", field] for loc in _locs(body))
    assert Note.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("parameter", ["limit", "offset"])
def test_pagination_beyond_its_bounds_is_422(world: World, parameter: str) -> None:
    """`limit` and `offset` with 25 digits (bigint overflow, a 500 before) answer 422 for that field;
    the bounds are 1..100 and 0..100,000."""
    client = _client(world)
    body = _assert_error_shape(client.get(URL, {parameter: HUGE}), 422)
    assert _locs(body) == [["query", parameter]]
    assert client.get(URL, {"limit": 101}).status_code == 422
    assert client.get(URL, {"offset": 100_001}).status_code == 422
    assert client.get(URL, {"limit": 100, "offset": 100_000}).status_code == 200


@pytest.mark.django_db
def test_ids_beyond_bigint_are_refused_not_looked_up(world: World) -> None:
    """A path id or `lounge_id` beyond bigint answers 422 for that field (never reaches the database)."""
    client = _client(world)
    for method in ("get", "delete"):
        body = _assert_error_shape(getattr(client, method)(f"{URL}/{HUGE}"), 422)
        assert _locs(body) == [["path", "note_id"]]
    body = _assert_error_shape(_post_json(client, URL, {"title": "x", "lounge_id": int(HUGE)}), 422)
    assert ["body", "payload", "lounge_id"] in _locs(body)
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413(world: World) -> None:
    """A JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) answers 413, and nothing is written."""
    client, csrf = _csrf_client(world)
    big = {"title": "Big", "body": "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    _assert_error_shape(_post_json(client, URL, big, **csrf), 413)
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_a_form_body_sent_to_a_json_operation_is_415(world: World) -> None:
    """Multipart (RawPostDataException once CSRF has read it: a 500 before) and urlencoded bodies
    answer 415, with CSRF enforced as for a browser; nothing is written."""
    client, csrf = _csrf_client(world)
    _assert_error_shape(client.post(URL, {"title": "Multipart"}, **csrf), 415)  # multipart by default
    form = client.post(URL, "title=Form", content_type="application/x-www-form-urlencoded", **csrf)
    _assert_error_shape(form, 415)
    text = client.post(URL, '{"title": "Text"}', content_type="text/plain", **csrf)
    _assert_error_shape(text, 415)
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_malformed_json_is_400_and_a_non_object_is_422(world: World) -> None:
    """Broken JSON answers 400; JSON that is not an object (a bare string used to be read through
    attribute access, making a note titled "Aaa" from "AAA") answers 422, and so does a null for a
    field PATCH may leave out but not clear; nothing is written."""
    client, csrf = _csrf_client(world)
    _assert_error_shape(client.post(URL, "{bad", content_type="application/json", **csrf), 400)
    for payload in ("AAA", ["title"], 5):
        body = _assert_error_shape(_post_json(client, URL, payload, **csrf), 422)
        assert _locs(body) == [["body", "payload"]]
    note = embedded_note(organisation=world.org, owner=world.learner, title="Mine")
    patch = client.patch(f"{URL}/{note.pk}", json.dumps([None]), content_type="application/json", **csrf)
    _assert_error_shape(patch, 422)
    null = client.patch(f"{URL}/{note.pk}", json.dumps({"title": None}), content_type="application/json", **csrf)
    assert _locs(_assert_error_shape(null, 422)) == [["body", "payload", "title"]]
    assert list(Note.objects.values_list("title", flat=True)) == ["Mine"]


@pytest.mark.django_db
def test_unknown_api_addresses_answer_json_404(world: World) -> None:
    """An address under /api/ that no operation matches answers 404 in the error shape, not a page."""
    client = _client(world)
    _assert_error_shape(client.get(f"{URL}/not-a-number"), 404)
    _assert_error_shape(client.get("/api/v1/nothing-here"), 404)


@pytest.mark.django_db
def test_every_operation_documents_its_error_statuses() -> None:
    """Every operation in the OpenAPI schema lists 400, 401, 403, 404, 413, 415 and 422 with the
    error schema, so clients and schemathesis know every status the API can answer."""
    schema = Client().get("/api/openapi.json").json()
    error_ref = "#/components/schemas/ErrorOut"
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert operations
    for operation in operations:
        responses = operation["responses"]
        for status in ("400", "401", "403", "404", "413", "415", "422"):
            assert status in responses, (operation["operationId"], status)
            assert responses[status]["content"]["application/json"]["schema"]["$ref"] == error_ref
    bounds = schema["paths"]["/api/v1/notes"]["get"]["parameters"]
    limit = next(p for p in bounds if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 100)


@pytest.mark.parametrize(
    ("refusal", "status", "retry_after", "errors"),
    [
        (Refusal("not_found", "No such conversation."), 404, None, []),
        (Refusal("not_allowed", "Members only."), 403, None, []),
        (Refusal("busy", "Still answering."), 409, None, []),
        (
            Refusal("too_long", "At most 4096 bytes.", field="body"),
            422,
            None,
            [{"loc": ["body", "payload", "body"], "msg": "At most 4096 bytes.", "type": "too_long"}],
        ),
        (Refusal("quota", "Try again later.", retry_after=12.2), 429, "13", []),
    ],
)
def test_a_service_refusal_maps_to_one_4xx(refusal: Refusal, status: int, retry_after: str | None, errors: Any) -> None:
    """A `Refusal` raised by a service becomes the 4xx its code means, with its field and Retry-After."""
    from project.api import api, api_error

    response = api_error(RequestFactory().get(URL), refusal)
    assert response.status_code == status
    assert json.loads(response.content) == {"detail": refusal.message, "errors": errors}
    assert response.get("Retry-After") == retry_after
    assert api._lookup_exception_handler(refusal) is api_error  # wired into the API, not only callable


@pytest.mark.django_db
def test_the_schema_is_built_once_and_served_at_both_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema is built once per path prefix (a build costs about a second of CPU) and both
    addresses serve the same document."""
    import ninja.main

    from project.api import api

    api.openapi_schema_forget()
    builds: list[str] = []
    real_build = ninja.main.get_schema

    def counting_build(*, api: Any, path_prefix: str) -> Any:
        builds.append(path_prefix)
        return real_build(api=api, path_prefix=path_prefix)

    monkeypatch.setattr(ninja.main, "get_schema", counting_build)
    stable = [Client().get("/api/openapi.json") for _ in range(3)]
    versioned = Client().get("/api/v1/openapi.json")
    assert {response.status_code for response in [*stable, versioned]} == {200}
    assert builds == ["/api/v1/"]
    assert versioned.json() == stable[0].json()
    assert "/api/v1/notes" in stable[0].json()["paths"]
