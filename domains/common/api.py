"""What every /api/v1 operation shares: the error body, the statuses each operation declares, the
JSON-only body parser, bounded pagination and bounded ids.

**One error shape.** Every 4xx the API answers has the body
`{"detail": "<one sentence for a person>", "errors": [{"loc": [...], "msg": "...", "type": "..."}]}`;
`errors` lists the fields at fault (ninja's `loc`: `["query", "q"]`, `["body", "payload", "title"]`)
and is empty when no one field is. `project.api.api_error` produces it, from every source
(schema validation, framework errors, a service's `Refusal`); `ErrorOut` declares it.
"""

from __future__ import annotations

from math import ceil
from typing import Annotated, Any

from django.http import HttpRequest, JsonResponse
from ninja import Field, Path, Schema
from ninja.pagination import LimitOffsetPagination
from ninja.parser import Parser
from ninja.schema import DjangoGetter
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from domains.common.validation import StorableSchema

# PostgreSQL bigint: the range of every primary key. A larger id cannot name a row, and sending one to
# the database raised "bigint out of range" (a 500).
ID_MAX = 2**63 - 1
PAGE_LIMIT_MAX = 100
PAGE_LIMIT_DEFAULT = 100  # ninja's default page size, kept so existing clients see the same pages
# Deep OFFSETs make PostgreSQL walk and discard every skipped row; past this, filter instead.
PAGE_OFFSET_MAX = 100_000

# A primary key in a path: `note_id: ObjectId`.
ObjectId = Annotated[int, Path(ge=1, le=ID_MAX)]


class ErrorItem(Schema):
    loc: list[str | int] = Field(description='Where: ["query", "q"], ["body", "payload", "title"] …')
    msg: str
    type: str = Field(description="Machine-readable: ninja's/pydantic's error type, or a refusal's code.")


class ErrorOut(Schema):
    detail: str = Field(description="One sentence for a person.")
    errors: list[ErrorItem] = Field(default_factory=list, description="The fields at fault; may be empty.")


class InputSchema(StorableSchema, Schema):
    """Base of every request-body schema: a JSON object (422 otherwise), whose every string is
    storable text (422 otherwise).

    The object check matters: ninja's `Schema` reads its input through attribute access (to accept
    ORM objects), so a bare JSON string body `"AAA"` validated as a note whose title was `"AAA".title()`.
    """

    @model_validator(mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        # ninja's own (outer, wrap) validator has already wrapped the input in a DjangoGetter.
        raw = value._obj if isinstance(value, DjangoGetter) else value
        if not isinstance(raw, dict):
            raise PydanticCustomError("model_type", "Send a JSON object.")
        return value


# Every operation can answer these: malformed JSON (400), no session (401), CSRF or rights (403),
# not found (404), a body over DATA_UPLOAD_MAX_MEMORY_SIZE (413), not JSON (415), invalid fields (422),
# and too many calls (429, with Retry-After: the API's rate limits, domains/common/api_throttle.py).
ERROR_STATUSES: tuple[int, ...] = (400, 401, 403, 404, 413, 415, 422, 429)


def responses(success: dict[int, Any], *extra_errors: int) -> dict[int, Any]:
    """`response=` for an operation: its success schemas plus `ErrorOut` for every error status it
    can answer (ERROR_STATUSES, and e.g. 409/429 where the operation can refuse so)."""
    declared: dict[int, Any] = dict(success)
    for status in (*ERROR_STATUSES, *extra_errors):
        declared.setdefault(status, ErrorOut)
    return declared


def error_response(
    status: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    *,
    retry_after: float | None = None,
) -> JsonResponse:
    """An API error in the one shape (see the module docstring)."""
    body = {
        "detail": detail,
        "errors": [
            {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
            for error in errors or ()
        ],
    }
    response = JsonResponse(body, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, ceil(retry_after)))
    return response


class UnsupportedMediaType(Exception):  # noqa: N818 - named after the status
    """A request body that is not JSON, sent to an operation that reads JSON (415)."""


JSON_MEDIA_TYPES = ("application/json",)


class JsonOnlyParser(Parser):
    """ninja's parser, but a body must say it is JSON: a form or multipart body gets 415, not a parse
    attempt (400) or, when CSRF had already read it as a form, `RawPostDataException` (a 500)."""

    def parse_body(self, request: HttpRequest) -> Any:
        media_type = (request.content_type or "").lower()
        if media_type not in JSON_MEDIA_TYPES and not (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            raise UnsupportedMediaType(media_type or "none")
        return super().parse_body(request)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` 1..100 and `?offset=` 0..100,000, validated by the schema (422 outside), so neither
    reaches the database as a number it cannot hold."""

    class Input(Schema):
        limit: int = Field(PAGE_LIMIT_DEFAULT, ge=1, le=PAGE_LIMIT_MAX)
        offset: int = Field(0, ge=0, le=PAGE_OFFSET_MAX)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=PAGE_LIMIT_MAX, **kwargs)
