"""The HTTP API at /api/v1/ (django-ninja), OpenAPI at /api/openapi.json.

Auth: `Authorization: Bearer <token>` (an app's access token or a personal access token, no CSRF:
domains/tokens/auth.py), else the session cookie, where ninja's SessionAuth enforces CSRF on unsafe
methods (docs/token-auth.md). Every call is rate limited, per person and, before authentication, per
client address (domains/common/api_throttle.py).

Every error the API answers goes through `api_error`, in the one shape `domains.common.api.ErrorOut`
describes: schema validation (422), malformed JSON (400), a body that is not JSON (415) or too big
(413), no session (401), CSRF or rights (403), not found (404), and a service's `Refusal` (by its
code; 429 with Retry-After when it carries `retry_after`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.views import defaults
from ninja import NinjaAPI
from ninja.errors import HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from domains.common.api import JsonOnlyParser, UnsupportedMediaType, error_response
from domains.common.api_throttle import ThrottledSessionAuth, UserRateThrottle
from domains.common.errors import Refusal
from domains.tokens.auth import BearerAuth


class CoachwireAPI(NinjaAPI):
    """Ninja's API, with its OpenAPI schema built once per path prefix: the routes are fixed at
    import, and a build takes about a second of CPU, which an anonymous caller could otherwise ask
    for as often as the rate limit allows."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        cache = self.__dict__.setdefault("_schemas", {})
        if path_prefix not in cache:
            cache[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return cache[path_prefix]

    def openapi_schema_forget(self) -> None:
        """Build the schema again on the next request (the tests register notification kinds)."""
        self.__dict__.pop("_schemas", None)


api = CoachwireAPI(
    title="Coachwire API",
    version="1",
    urls_namespace="api",
    # In order: a bearer token first; the cookie last, since its auth takes the anonymous rate
    # limit for every call nothing authenticated.
    auth=[BearerAuth(), ThrottledSessionAuth()],
    throttle=[UserRateThrottle()],
    parser=JsonOnlyParser(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/users", "domains.accounts.api.router")
api.add_router("/notes", "domains.notes.api.router")
api.add_router("/notifications", "domains.notifications.api.router")
api.add_router("/invitations", "domains.invitations.api.router")
api.add_router("/interviews", "domains.interviews.api.router")
api.add_router("/auth", "domains.tokens.api.auth_router")
api.add_router("/tokens", "domains.tokens.api.router")

# Refusal codes that are not about the input's validity. Everything else (invalid, too_long, …) is 422.
REFUSAL_STATUS = {
    "not_found": 404,
    "not_allowed": 403,
    "not_member": 403,
    "muted": 403,
    "locked": 403,
    "busy": 409,
}


def refusal_status(refusal: Refusal) -> int:
    """The HTTP status of a service's refusal: 429 when it says when to retry, else by its code."""
    if refusal.retry_after is not None:
        return 429
    return REFUSAL_STATUS.get(refusal.code, 422)


def _schema_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"loc": error.get("loc", ()), "msg": error.get("msg", ""), "type": error.get("type", "")} for error in errors
    ]


def _refusal_answer(exc: Refusal) -> JsonResponse:
    # A refused field sits where the schema's own errors for it do (ninja names the body
    # parameter `payload`), whether the refusal names one field or several.
    errors = [
        {"loc": ["body", "payload", name], "msg": text, "type": exc.code}
        for name, texts in exc.field_errors().items()
        for text in texts
    ]
    return error_response(refusal_status(exc), exc.message, errors, retry_after=exc.retry_after)


def _django_validation_answer(exc: DjangoValidationError) -> JsonResponse:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    errors = [
        {"loc": ["body", "payload", field], "msg": message, "type": "value_error"}
        for field, messages in fields.items()
        for message in messages
    ]
    return error_response(422, "Some fields are invalid.", errors)


def _http_error_answer(exc: HttpError) -> JsonResponse:
    if isinstance(exc.__cause__, UnsupportedMediaType):
        # ninja wraps every parser error as 400 "Cannot parse request body"; this one is the type.
        return _unsupported_media_type()
    if exc.status_code == 400 and exc.__cause__ is not None:
        return error_response(400, "The request body is not valid JSON.")
    return error_response(exc.status_code, str(exc))


# Checked in order, first match wins: order matters only where classes nest (`Throttled` is an
# `HttpError`, `RequestDataTooBig` a `SuspiciousOperation`).
_ANSWERS: tuple[tuple[type[Exception], Callable[[Any], JsonResponse]], ...] = (
    (NinjaValidationError, lambda exc: error_response(422, "Some fields are invalid.", _schema_errors(exc.errors))),
    (Refusal, _refusal_answer),
    (DjangoValidationError, _django_validation_answer),
    (Throttled, lambda exc: error_response(429, str(exc), retry_after=float(exc.wait or 1))),
    (HttpError, _http_error_answer),
    (Http404, lambda exc: error_response(404, "Not found.")),
    (PermissionDenied, lambda exc: error_response(403, str(exc) or "You are not allowed to do that.")),
    (RequestDataTooBig, lambda exc: request_too_big()),
    # CSRF (or the middleware) already read a form or multipart body: it was not JSON.
    (RawPostDataException, lambda exc: _unsupported_media_type()),
    (SuspiciousOperation, lambda exc: error_response(400, "The request is malformed.")),
)


def api_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The one mapping from an exception raised while serving an API operation to its 4xx answer
    (`_ANSWERS`). Anything not listed there stays a 500 (a bug, logged by Django)."""
    for kind, answer in _ANSWERS:
        if isinstance(exc, kind):
            return answer(exc)
    raise exc


def request_too_big() -> JsonResponse:
    return error_response(413, "The request body is too large.")


def _unsupported_media_type() -> JsonResponse:
    return error_response(415, "Send the request body as JSON (Content-Type: application/json).")


for _handled in (
    NinjaValidationError,
    Refusal,
    DjangoValidationError,
    HttpError,
    Http404,
    PermissionDenied,
    RequestDataTooBig,
    RawPostDataException,
    SuspiciousOperation,
):
    api.add_exception_handler(_handled, api_error)  # type: ignore[arg-type]  # ninja types `exc` as E | type[E]


# Django's own error views, for what fails before ninja sees the request (an address no route
# matches, a bad Host): JSON in the same shape under /api/, Django's pages elsewhere.
def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(400, "The request is malformed.")
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return error_response(404, "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return error_response(500, "Server error.")
    return defaults.server_error(request)


def openapi_json(request: HttpRequest) -> JsonResponse:
    """The schema at the stable address /api/openapi.json (also served under /api/v1/)."""
    return JsonResponse(api.get_openapi_schema(path_prefix="/api/v1/"))
