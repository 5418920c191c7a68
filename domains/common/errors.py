"""A refused action, as every service reports it: sockets turn it into an `error` frame, pages into
a message beside the field."""

from __future__ import annotations


class Refusal(Exception):  # noqa: N818 - reads as what it is
    """`code` is machine-readable, `message` is for the person; `field` names the input at fault."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.field = field
