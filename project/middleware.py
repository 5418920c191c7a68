"""Refuse, before any view runs, request text that PostgreSQL cannot store.

Why a middleware and not per-view checks: the HTML views read `request.GET` / `request.POST` directly
(no Django forms), so one check at the edge covers every page, and those added later, at once; it
runs before the views and before every middleware that could read or store a value (sessions,
organisation binding, consent, audit), so a refused request has changed nothing. The answer names
the field, so the error is still clear field by field. JSON bodies are not visible here: the API's
input schemas refuse them per field (`domains.common.validation.StorableSchema`).

What it answers:
- a NUL or unpaired surrogate in a query-string name or value, or a form field (name or value): 400
  on pages, 422 in the API's error shape (`{"detail", "errors": [{"loc", ...}]}`) under `/api/`;
  in the path itself: 400 either way;
- a form body over `DATA_UPLOAD_MAX_MEMORY_SIZE`: 413 (Django would answer 400 for `RequestDataTooBig`);
- a form body Django cannot parse (too many fields or files, a broken multipart): 400.

Async-capable (docs/stack-notes.md §21): it only inspects the request, so it runs inline either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.html import format_html

from domains.common.api import error_response
from domains.common.validation import UNSTORABLE_CODE, UNSTORABLE_MESSAGE, first_unstorable, is_storable

API_PREFIX = "/api/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _pairs(data: Any) -> Iterator[tuple[str, str]]:
    for name, values in data.lists():
        for value in values:
            yield name, value if isinstance(value, str) else ""


def _printable(name: str) -> str:
    """A field name as it can be shown (it may itself hold the offending characters)."""
    return name.encode("unicode_escape", "backslashreplace").decode("ascii")


class StorableTextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        refusal = self.refusal(request)
        if iscoroutinefunction(self):
            return self._async_call(request, refusal)
        return refusal or self.get_response(request)

    async def _async_call(self, request: HttpRequest, refusal: HttpResponse | None) -> HttpResponse:
        if refusal is not None:
            return refusal
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        """The answer to a request whose text cannot be stored, or None to let it through."""
        if not is_storable(request.path):
            return self._refuse(request, "path", None)
        name = first_unstorable(_pairs(request.GET))
        if name is not None:
            return self._refuse(request, "query", name)
        if request.method == "POST" and request.content_type in FORM_TYPES:
            # Reading POST here is what CsrfViewMiddleware does next anyway (same parse, cached).
            try:
                name = first_unstorable(_pairs(request.POST))
            except RequestDataTooBig:
                return self._error(request, 413, "The request body is too large.")
            except (SuspiciousOperation, MultiPartParserError):
                return self._error(request, 400, "The form could not be read.")
            if name is not None:
                return self._refuse(request, "form", name)
        return None

    def _refuse(self, request: HttpRequest, where: str, name: str | None) -> HttpResponse:
        shown = _printable(name) if name is not None else None
        if request.path.startswith(API_PREFIX):
            if shown is None:  # no field to blame: the address itself
                return error_response(400, f"The address is refused. {UNSTORABLE_MESSAGE}")
            error = {"loc": [where, shown], "msg": UNSTORABLE_MESSAGE, "type": UNSTORABLE_CODE}
            return error_response(422, "Some fields are invalid.", [error])
        what = f"The {where} field “{shown}”" if shown is not None else "The address"
        return self._page(400, f"{what} is refused. {UNSTORABLE_MESSAGE}")

    def _error(self, request: HttpRequest, status: int, detail: str) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            return error_response(status, detail)
        return self._page(status, detail)

    @staticmethod
    def _page(status: int, message: str) -> HttpResponse:
        # A bare page on purpose: the site templates need the session, the user and the
        # organisation, which the middleware after this one have not set up yet.
        html = format_html(
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bad request</title></head>'
            "<body><h1>The request was refused</h1><p>{}</p><p>Go back, correct it and try again.</p></body></html>",
            message,
        )
        return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
