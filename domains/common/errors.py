"""A refused action, as every service reports it. One mapping each turns it into an answer: a form's
field errors on pages (`domains.common.forms`), the API's error shape (`project.api.api_error`) and a
socket's `error` frame (`realtime.consumers.base.run_action`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class Refusal(Exception):  # noqa: N818 - reads as what it is
    """`code` is machine-readable, `message` is for the person; `field` names the one input at fault,
    or `fields` gives a message (or several) for each of several inputs refused at once."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        field: str | None = None,
        fields: Mapping[str, str | Sequence[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.field = field
        self.fields: dict[str, list[str]] = {
            name: [messages] if isinstance(messages, str) else list(messages)
            for name, messages in (fields or {}).items()
        }

    def field_errors(self) -> dict[str, list[str]]:
        """Every message by the input it is about: `field` (with `message`) and `fields` together."""
        errors = {name: list(messages) for name, messages in self.fields.items()}
        if self.field:
            errors.setdefault(self.field, []).insert(0, self.message)
        return errors
