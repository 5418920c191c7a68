"""The AI layer's public API: stream a chat reply, check quotas, cancel, record usage.

    for item in chat_stream(organisation=org, user=user, feature="coach", messages=[...], system="...",
                            cancel_key=f"message:{message.pk}", passages=passages):
        match item:
            case Delta(text): ...      # show it
            case Usage(): ...          # tokens spent (already recorded)
            case Result(): ...         # stop_reason, full text, provider, model, label

Everything here is synchronous: generations run on the `worker-ai` Celery threads pool.
`chat_stream` is the one retry layer (the SDKs' `max_retries` is 0); see docs/decisions/0002-ai-layer.md.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from domains.accounts.models import Organisation, User
from domains.ai.models import AIFeature, AIOutcome, AIProviderName, AIUsage
from domains.ai.providers.base import (
    ChatMessage,
    ChatOptions,
    ChatProvider,
    ChatRequest,
    Delta,
    Finish,
    Passage,
    ProviderEvent,
    Result,
    StreamItem,
    Usage,
    estimate_tokens,
    prompt_text,
)
from domains.ai.providers.errors import AIError, QuotaExceeded
from domains.ai.providers.offline import OfflineProvider
from domains.ai.selectors import ai_feature_settings, ai_quota_limits, ai_tokens_used_today, utc_day_bounds
from domains.common.errors import Refusal
from realtime.ratelimit import Bucket, take
from realtime.redis import get_sync_redis

logger = logging.getLogger(__name__)

_CANCEL_PREFIX = "cw:ai:cancel:"
_DETAIL_MAX = 300


# ---------------------------------------------------------------- providers
def provider_named(name: str) -> ChatProvider:
    """A provider by name ("" = choose by the keys that are set); the offline coach when it has no key."""
    if not name:
        if settings.OPENAI_API_KEY:
            name = AIProviderName.OPENAI
        elif settings.ANTHROPIC_API_KEY:
            name = AIProviderName.ANTHROPIC
        elif settings.OPENAI_BASE_URL:
            name = AIProviderName.OPENAI  # a local OpenAI-compatible server needs no key
        else:
            name = AIProviderName.OFFLINE
    if name == AIProviderName.OPENAI and (settings.OPENAI_API_KEY or settings.OPENAI_BASE_URL):
        from domains.ai.providers.openai import OpenAIProvider

        return OpenAIProvider(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            default_model=settings.AI_OPENAI_MODEL,
            connect_timeout=settings.AI_CONNECT_TIMEOUT,
            idle_timeout=settings.AI_IDLE_TIMEOUT,
        )
    if name == AIProviderName.ANTHROPIC and settings.ANTHROPIC_API_KEY:
        from domains.ai.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            default_model=settings.AI_ANTHROPIC_MODEL,
            connect_timeout=settings.AI_CONNECT_TIMEOUT,
            idle_timeout=settings.AI_IDLE_TIMEOUT,
        )
    if name != AIProviderName.OFFLINE:
        logger.warning("AI provider %r has no key configured; using the offline coach", name)
    return OfflineProvider()


def provider_for(*, organisation: Organisation | None, feature: str) -> ChatProvider:
    """The provider for an organisation's feature: its admin configuration → env defaults → offline."""
    return provider_named(ai_feature_settings(organisation=organisation, feature=feature).provider)


# ---------------------------------------------------------------- cancellation
def _cancel_key(cancel_key: str) -> str:
    return f"{_CANCEL_PREFIX}{cancel_key}"


def chat_cancel(*, cancel_key: str) -> None:
    """Ask the generation registered under `cancel_key` to stop. Any process may call this."""
    get_sync_redis().set(_cancel_key(cancel_key), "1", ex=settings.AI_CANCEL_TTL)


def chat_is_cancelled(*, cancel_key: str | None) -> bool:
    return bool(cancel_key) and bool(get_sync_redis().exists(_cancel_key(cancel_key)))  # type: ignore[arg-type]


# ---------------------------------------------------------------- usage and quotas
def ai_usage_record(
    *,
    organisation: Organisation | None,
    user: User | AnonymousUser | None,
    feature: str,
    outcome: str,
    provider: str = "",
    model: str = "",
    tokens_in: int = 0,
    tokens_out: int = 0,
    tokens_estimated: bool = False,
    ttft_ms: int | None = None,
    total_ms: int = 0,
    attempts: int = 0,
    detail: str = "",
) -> AIUsage:
    """Append one usage row (every call records one: success, cancel, error or quota refusal)."""
    return AIUsage.objects.create(
        organisation=organisation,
        user=user if isinstance(user, User) and user.pk is not None else None,
        feature=feature,
        provider=provider,
        model=model[:100],
        tokens_in=max(0, tokens_in),
        tokens_out=max(0, tokens_out),
        tokens_estimated=tokens_estimated,
        ttft_ms=ttft_ms,
        total_ms=max(0, total_ms),
        attempts=attempts,
        outcome=outcome,
        detail=detail[:_DETAIL_MAX],
    )


def _quota_refuse(
    *, organisation: Organisation | None, user: User | AnonymousUser | None, feature: str, limit: str, retry_after: int
) -> QuotaExceeded:
    ai_usage_record(
        organisation=organisation,
        user=user,
        feature=feature,
        outcome=AIOutcome.QUOTA_REFUSED,
        detail=f"{limit}; retry after {retry_after}s",
    )
    return QuotaExceeded(retry_after=retry_after, limit=limit)


def ai_quota_check(*, organisation: Organisation | None, user: User | AnonymousUser | None, feature: str) -> None:
    """Admit one AI request or raise `QuotaExceeded(retry_after=...)`, recording the refusal.

    Two limits (see `ai_quota_limits`): tokens per UTC day for the whole organisation, summed
    from the usage table; and requests per hour per user and feature, a Redis token bucket
    (atomic across processes) that refills continuously. An admitted request takes one token
    from the bucket; a refused one takes nothing.
    """
    _check_feature(feature)
    limits = ai_quota_limits(organisation=organisation, feature=feature)
    if limits.tokens_per_day_per_org and organisation is not None:
        now = timezone.now()
        if ai_tokens_used_today(organisation=organisation, now=now) >= limits.tokens_per_day_per_org:
            _, tomorrow = utc_day_bounds(now)
            raise _quota_refuse(
                organisation=organisation,
                user=user,
                feature=feature,
                limit="tokens_per_day_per_org",
                retry_after=max(1, math.ceil((tomorrow - now).total_seconds())),
            )
    if limits.requests_per_hour_per_user and user is not None and getattr(user, "pk", None) is not None:
        per_hour = limits.requests_per_hour_per_user
        decision = take(f"ai:req:{feature}:{user.pk}", Bucket.per_hour(per_hour))
        if not decision.allowed:
            raise _quota_refuse(
                organisation=organisation,
                user=user,
                feature=feature,
                limit="requests_per_hour_per_user",
                retry_after=max(1, math.ceil(decision.retry_after)),
            )


# ---------------------------------------------------------------- streaming
def _check_feature(feature: str) -> None:
    if feature not in AIFeature.values:
        raise ValueError(f"unknown AI feature {feature!r}; add it to AIFeature")


def ai_quota_admit(
    *, organisation: Organisation, user: User, feature: str, refusal: type[Refusal], message: str
) -> None:
    """`ai_quota_check` for a service: a refused request raises the caller's own `refusal` with
    code `quota`, `message` and when to try again (at least a minute when the limit says nothing)."""
    try:
        ai_quota_check(organisation=organisation, user=user, feature=feature)
    except QuotaExceeded as exceeded:
        raise refusal("quota", message, retry_after=float(exceeded.retry_after or 60)) from exceeded


def _messages(messages: Iterable[ChatMessage | dict[str, str]]) -> list[ChatMessage]:
    result = []
    for message in messages:
        if isinstance(message, ChatMessage):
            result.append(message)
        else:
            role = message["role"]
            if role not in ("user", "assistant"):
                raise ValueError(f"message role must be 'user' or 'assistant', not {role!r} (pass `system` separately)")
            result.append(ChatMessage(role=role, content=str(message["content"])))  # type: ignore[arg-type]
    return result


def _passages(passages: Sequence[Passage | str] | None) -> tuple[Passage, ...]:
    return tuple(p if isinstance(p, Passage) else Passage(text=str(p)) for p in passages or ())


def retry_delay(error: AIError, retries_done: int) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now.

    A server's `retry-after` is honoured as given, unless it is longer than AI_RETRY_AFTER_MAX
    (then the caller hears `RateLimited`/`Overloaded` with that `retry_after` instead of a worker
    thread sleeping). Without one: capped exponential backoff with jitter, so that workers hit by
    the same outage do not retry in step.
    """
    if error.retry_after is not None:
        return error.retry_after if error.retry_after <= settings.AI_RETRY_AFTER_MAX else None
    backoff = min(settings.AI_RETRY_MAX_DELAY, settings.AI_RETRY_BASE_DELAY * 2**retries_done)
    return backoff * (0.75 + 0.25 * random.random())


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _chat_request(
    *,
    organisation: Organisation | None,
    feature: str,
    messages: list[ChatMessage],
    system: str,
    options: ChatOptions,
    passages: Sequence[Passage | str] | None,
    provider: ChatProvider | None,
) -> tuple[ChatProvider, ChatRequest]:
    """The provider and the request: the call's options first, then the feature's configuration."""
    resolved = ai_feature_settings(organisation=organisation, feature=feature)
    provider = provider or provider_named(resolved.provider)
    request = ChatRequest(
        messages=messages,
        system=system,
        model=options.model or resolved.model or provider.default_model,
        temperature=options.temperature if options.temperature is not None else resolved.temperature,
        max_tokens=options.max_tokens or resolved.max_tokens,
        passages=_passages(passages),
        extra_headers=dict(options.extra_headers),
    )
    return provider, request


def _close(events: Iterator[Any]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()


@dataclass
class _Generation:
    """One `chat_stream` call in progress: its attempts, what streamed so far, and its one usage row."""

    organisation: Organisation | None
    user: User | AnonymousUser | None
    feature: str
    provider: ChatProvider
    request: ChatRequest
    cancel_key: str | None
    clock: Callable[[], float]
    started: float
    ttft_ms: int | None = None
    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    stop_reason: str = "stop"
    attempts: int = 0
    cancel_checked: float | None = None  # when the cancel flag was last read (the clock's time)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def run(self, *, max_retries: int, sleep: Callable[[float], None]) -> Iterator[Delta]:
        """Attempt until one stream ends, retrying what `_retry_delay` allows; stop when cancelled."""
        while not chat_is_cancelled(cancel_key=self.cancel_key):
            self.attempts += 1
            events = self.provider.stream(self.request)
            try:
                yield from self._deltas(events)
            except AIError as error:
                delay = self._retry_delay(error, max_retries=max_retries)
                if delay is None:
                    raise
                logger.info(
                    "AI %s: %s; retry %d of %d in %.2fs",
                    self.provider.name,
                    error.outcome,
                    self.attempts,
                    max_retries,
                    delay,
                )
                sleep(delay)
                continue
            finally:
                _close(events)
            return
        self.stop_reason = "cancelled"

    def _deltas(self, events: Iterator[ProviderEvent]) -> Iterator[Delta]:
        """One attempt's deltas, keeping its usage and stop reason; stops at a cancel."""
        for event in events:
            if isinstance(event, Delta):
                # Closing `events` closes the socket.
                if self._cancel_due() and chat_is_cancelled(cancel_key=self.cancel_key):
                    self.stop_reason = "cancelled"
                    return
                if self.ttft_ms is None:
                    self.ttft_ms = _ms(self.clock() - self.started)
                self.parts.append(event.text)
                yield event
            elif isinstance(event, Usage):
                self.usage = event
            elif isinstance(event, Finish):
                self.stop_reason = event.stop_reason

    def _cancel_due(self) -> bool:
        """Read the cancel flag on the first chunk, then at most every AI_CANCEL_CHECK_SECONDS: one
        Redis round trip per chunk was a third of worker-ai's work at 50 streams (docs/benchmarks.md)."""
        now = self.clock()
        if self.cancel_checked is not None and now - self.cancel_checked < settings.AI_CANCEL_CHECK_SECONDS:
            return False
        self.cancel_checked = now
        return True

    def _retry_delay(self, error: AIError, *, max_retries: int) -> float | None:
        """Seconds to wait before retrying after `error`, or None to raise it: never once text has streamed."""
        retries_done = self.attempts - 1
        if self.parts or not error.retryable or retries_done >= max_retries:
            return None
        return retry_delay(error, retries_done)

    def record(self, outcome: str, *, detail: str = "") -> AIUsage:
        reported = self.usage
        if reported is None:
            # No usage reported (cancelled, or failed mid-stream): count from the text, so quotas stay honest.
            spent = bool(self.parts) or (outcome == AIOutcome.CANCELLED and self.attempts > 0)
            reported = Usage(
                tokens_in=estimate_tokens(prompt_text(self.request)) if spent else 0,
                tokens_out=estimate_tokens(self.text),
                estimated=True,
            )
        return ai_usage_record(
            organisation=self.organisation,
            user=self.user,
            feature=self.feature,
            outcome=outcome,
            provider=self.provider.name,
            model=self.request.model,
            tokens_in=reported.tokens_in,
            tokens_out=reported.tokens_out,
            tokens_estimated=reported.estimated,
            ttft_ms=self.ttft_ms,
            total_ms=_ms(self.clock() - self.started),
            attempts=self.attempts,
            detail=detail,
        )

    def ending(self) -> Iterator[StreamItem]:
        """Record the finished stream, then yield its `Usage` and `Result`."""
        row = self.record(AIOutcome.CANCELLED if self.stop_reason == "cancelled" else AIOutcome.OK)
        yield Usage(tokens_in=row.tokens_in, tokens_out=row.tokens_out, estimated=row.tokens_estimated)
        yield Result(
            stop_reason=self.stop_reason,
            text=self.text,
            provider=self.provider.name,
            model=self.request.model,
            label=self.provider.label,
            tokens_in=row.tokens_in,
            tokens_out=row.tokens_out,
            ttft_ms=self.ttft_ms,
            total_ms=row.total_ms,
            attempts=self.attempts,
            usage_id=row.pk,
        )


def chat_stream(
    *,
    organisation: Organisation | None,
    user: User | AnonymousUser | None,
    feature: str,
    messages: Iterable[ChatMessage | dict[str, str]],
    system: str = "",
    options: ChatOptions | None = None,
    cancel_key: str | None = None,
    passages: Sequence[Passage | str] | None = None,
    provider: ChatProvider | None = None,
    enforce_quota: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[StreamItem, None, None]:
    """Stream a chat reply: `Delta`s, then one `Usage`, then one `Result`. Records one `AIUsage` row.

    - Quota: unless `enforce_quota=False` (the caller already ran `ai_quota_check` when the job
      was started), the quota is checked first; a refusal raises `QuotaExceeded`.
    - Retries: a retryable error (overloaded, rate-limited, provider down, stream broken) is
      retried at most AI_MAX_RETRIES times, honouring `retry-after`, and only while no delta
      has been yielded. Spend caps and other 4xx are never retried.
    - Cancellation: the Redis flag for `cancel_key` (see `chat_cancel`) is read on the first
      chunk, then at most every AI_CANCEL_CHECK_SECONDS (0.1 s; 0: every chunk); once set, the
      provider stream is closed (and with it the connection) and the result has
      `stop_reason="cancelled"`. Closing this generator early counts as a cancel too.
    - Errors: typed (`domains.ai.providers.errors`), with `partial_text` and `attempts` set.
    - `provider`, `sleep` and `clock` are for tests; `provider_for` chooses otherwise.
    Lazy, like any generator: nothing happens (not even the quota check) until the first `next()`.
    """
    _check_feature(feature)
    chat_messages = _messages(messages)
    options = options or ChatOptions()
    if enforce_quota:
        ai_quota_check(organisation=organisation, user=user, feature=feature)
    provider, request = _chat_request(
        organisation=organisation,
        feature=feature,
        messages=chat_messages,
        system=system,
        options=options,
        passages=passages,
        provider=provider,
    )
    max_retries = max(0, int(settings.AI_MAX_RETRIES))
    generation = _Generation(
        organisation=organisation,
        user=user,
        feature=feature,
        provider=provider,
        request=request,
        cancel_key=cancel_key,
        clock=clock,
        started=clock(),
    )
    try:
        yield from generation.run(max_retries=max_retries, sleep=sleep)
    except AIError as error:
        error.partial_text = generation.text
        error.attempts = generation.attempts
        generation.record(error.outcome, detail=error.message)
        raise
    except GeneratorExit:
        # The consumer stopped reading: the provider stream is closed above; count it as cancelled.
        generation.stop_reason = "cancelled"
        generation.record(AIOutcome.CANCELLED, detail="consumer closed the stream")
        raise
    except Exception as error:
        generation.record(AIOutcome.ERROR, detail=f"{type(error).__name__}: {error}")
        raise
    yield from generation.ending()


def chat_complete(**kwargs: Any) -> Result:
    """`chat_stream`, collected: for callers that need the whole text (evaluation, sentiment)."""
    result: Result | None = None
    for item in chat_stream(**kwargs):
        if isinstance(item, Result):
            result = item
    if result is None:
        raise RuntimeError("chat_stream ended without a Result")
    return result
