"""Typed AI errors: what every caller catches, whichever provider answered.

`retryable` says whether the one retry layer (`domains.ai.services.chat_stream`) may try the
call again; it only ever does so before the first delta has gone out.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping


class AIError(Exception):
    """Base class. `outcome` is what the usage row records."""

    outcome = "error"
    retryable = False

    def __init__(
        self,
        message: str = "",
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        provider: str = "",
    ) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        self.retry_after = retry_after
        self.status_code = status_code
        self.provider = provider
        # Set by the retry layer when it gives up: the text already sent, and how many attempts ran.
        self.partial_text = ""
        self.attempts = 0


class Overloaded(AIError):  # noqa: N818 - the names the issue and callers use
    """The provider is overloaded (HTTP 529, or an `overloaded_error` event)."""

    outcome = "overloaded"
    retryable = True


class RateLimited(AIError):  # noqa: N818 - the names the issue and callers use
    """HTTP 429 from the provider; `retry_after` in seconds when it said."""

    outcome = "rate_limited"
    retryable = True


class SpendCapped(AIError):  # noqa: N818 - the names the issue and callers use
    """The account's budget or credit is exhausted (402, `insufficient_quota`, `billing_error`). Never retried."""

    outcome = "spend_capped"


class ContextTooLong(AIError):  # noqa: N818 - the names the issue and callers use
    """The prompt does not fit the model's context window. Never retried."""

    outcome = "context_too_long"


class ProviderDown(AIError):  # noqa: N818 - the names the issue and callers use
    """5xx, or the provider could not be reached (connect error or timeout)."""

    outcome = "provider_down"
    retryable = True


class StreamBroken(AIError):  # noqa: N818 - the names the issue and callers use
    """The stream failed after a 200: an error event, a reset, or no chunk within the idle timeout."""

    outcome = "stream_broken"
    retryable = True  # only before the first delta; the retry layer enforces that


class RequestRejected(AIError):  # noqa: N818 - the names the issue and callers use
    """Any other 4xx (bad request, authentication, permission). Never retried."""

    outcome = "rejected"


class QuotaExceeded(AIError):  # noqa: N818 - the names the issue and callers use
    """Our own quota refused the call; try again in `retry_after` seconds."""

    outcome = "quota_refused"

    def __init__(self, message: str = "", *, retry_after: float, limit: str = "") -> None:
        super().__init__(message or f"AI quota exceeded ({limit})", retry_after=retry_after)
        self.limit = limit


ALL_ERRORS = (
    Overloaded,
    RateLimited,
    SpendCapped,
    ContextTooLong,
    ProviderDown,
    StreamBroken,
    RequestRejected,
    QuotaExceeded,
)


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if seconds == seconds and seconds >= 0:  # not NaN
            return seconds
    value = headers.get("retry-after")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed is not None:
            return max(0.0, float(email.utils.mktime_tz(parsed)) - (time.time() if now is None else now))
    return None
