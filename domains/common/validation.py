"""Text that PostgreSQL can store: one rule, used by the API schemas, the HTML middleware and forms.

PostgreSQL `text` cannot hold U+0000 (psycopg raises `DataError` the moment a query carries one,
even in a WHERE clause), and UTF-8 cannot encode a lone surrogate (U+D800 to U+DFFF, which JSON's
`"\\ud800"` escape produces), so both used to surface as 500s. Where the refusal happens:

- **JSON bodies and API parameters** (django-ninja): the `StorableStr` annotation (and
  `StorableSchema`, which applies it to every string field of an input schema), so the API answers
  422 with the field's `loc`, exactly like any other schema error, and the view never runs.
- **Query strings and form bodies of every request** (HTML pages, and the API's query strings as a
  second line of defence): `project.middleware.StorableTextMiddleware`, before any view or other
  middleware that reads the value runs, so nothing is written; it names the field.
- **Django forms and model fields**: `validate_storable_text`, a Django validator.

Refusing at the edge (rather than stripping the characters) keeps what is stored equal to what was
sent, and no caller can tell a refused request from a rejected value by side effects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from pydantic import AfterValidator, BaseModel, field_validator
from pydantic_core import PydanticCustomError

# NUL and the UTF-16 surrogate block: the code points a PostgreSQL UTF-8 `text` value cannot hold.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Text cannot contain NUL (U+0000) or unpaired surrogate characters."
UNSTORABLE_CODE = "unstorable_text"


def is_storable(value: str) -> bool:
    return UNSTORABLE.search(value) is None


def _check(value: str) -> str:
    if not is_storable(value):
        raise PydanticCustomError(UNSTORABLE_CODE, UNSTORABLE_MESSAGE)
    return value


# For ninja / pydantic: `q: Annotated[StorableStr, Query(max_length=500)]`.
StorableStr = Annotated[str, AfterValidator(_check)]


def _check_nested(value: Any) -> Any:
    if isinstance(value, str):
        return _check(value)
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _check_nested(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nested(key)
            _check_nested(item)
    return value


class StorableSchema(BaseModel):
    """Mix into an input schema: every string in it (lists and dicts included) must be storable.

    A mixin rather than per-field annotations so that a field added later cannot forget it."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _check_nested(value)


def validate_storable_text(value: Any) -> None:
    """A Django validator (forms, model fields)."""
    if isinstance(value, str) and not is_storable(value):
        raise ValidationError(UNSTORABLE_MESSAGE, code=UNSTORABLE_CODE)


def first_unstorable(items: Iterable[tuple[str, str]]) -> str | None:
    """The name of the first (name, value) pair whose name or value cannot be stored, else None."""
    for name, value in items:
        if not (is_storable(name) and is_storable(value)):
            return name
    return None
