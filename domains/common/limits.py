"""One person's hourly allowance of an action: the check every service that can be abused makes
before it writes anything (creating templates, starting interviews, sending invitations, ...)."""

from __future__ import annotations

from domains.common.errors import Refusal
from realtime.ratelimit import Bucket, take


def hourly_allowance_take(*, key: str, per_hour: float, message: str, refusal: type[Refusal] = Refusal) -> None:
    """Take one from the hourly bucket `key` (`per_hour` <= 0: unlimited). When it is empty, raise
    `refusal("rate_limited", message)` carrying when to retry (at least a second), which the API
    answers as 429 with Retry-After and a page shows as the message."""
    if per_hour <= 0:
        return
    decision = take(key, Bucket.per_hour(per_hour))
    if not decision.allowed:
        raise refusal("rate_limited", message, retry_after=max(1.0, decision.retry_after))
