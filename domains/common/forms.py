"""The one mapping from a service's `Refusal` to what an HTML page shows: each message beside the
field it names, the rest above the form (or, on a page without a form, as a flash message)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from django.contrib import messages
from django.http import HttpRequest

from domains.common.errors import Refusal


class FormErrors(Protocol):
    """What a form offers for errors: Django's `Form.add_error` (None: a non-field error)."""

    def add_error(self, field: str | None, error: str) -> None: ...


def refusal_to_form(form: FormErrors, refusal: Refusal, *, fields: Collection[str] | None = None) -> None:
    """Add the refusal's messages to `form`: beside a field the form shows (`fields`, by default the
    form's own `fields`), else as non-field errors, so no message is ever lost."""
    shown = fields if fields is not None else getattr(form, "fields", ())
    by_field = refusal.field_errors()
    if not by_field:
        form.add_error(None, refusal.message)
    for name, texts in by_field.items():
        for text in texts:
            form.add_error(name if name in shown else None, text)


def refusal_to_messages(request: HttpRequest, refusal: Refusal) -> None:
    """A page with no form to redisplay (a POST that redirects) shows the refusal as a flash message."""
    messages.error(request, refusal.message)
