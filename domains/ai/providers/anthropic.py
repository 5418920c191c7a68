"""Anthropic Messages, streaming, through the `anthropic` SDK (on httpx2).

The SDK's own retries are off (`max_retries=0`): `domains.ai.services` is the one retry layer.
The sync SDK stream lets transport errors (a reset, a read timeout) through unwrapped, so they
are caught here as httpx2 errors as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2

from domains.ai.providers.base import (
    ChatRequest,
    Delta,
    Finish,
    ProviderEvent,
    Usage,
    sdk_client,
    system_with_passages,
)
from domains.ai.providers.errors import (
    AIError,
    ContextTooLong,
    Overloaded,
    ProviderDown,
    RateLimited,
    RequestRejected,
    SpendCapped,
    StreamBroken,
    parse_retry_after,
)

_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "refusal": "content_filter"}


def _client(*, api_key: str, base_url: str, connect_timeout: float, idle_timeout: float) -> anthropic.Anthropic:
    return sdk_client(
        anthropic.Anthropic,
        api_key=api_key,
        base_url=base_url,
        connect_timeout=connect_timeout,
        idle_timeout=idle_timeout,
    )


class AnthropicProvider:
    name = "anthropic"
    label = "Anthropic"

    def __init__(
        self, *, api_key: str, base_url: str, default_model: str, connect_timeout: float, idle_timeout: float
    ) -> None:
        self.default_model = default_model
        self._client = _client(
            api_key=api_key, base_url=base_url, connect_timeout=connect_timeout, idle_timeout=idle_timeout
        )

    def _open(self, request: ChatRequest) -> Any:
        """Send the request; the SDK's stream once the answer's headers are in, or a typed error."""
        kwargs: dict[str, Any] = {}
        system = system_with_passages(request.system, request.passages)
        if system:
            kwargs["system"] = system
        # No temperature: anthropic 2.x's `messages.create` has no sampling parameters any more
        # (current models fix them), so the setting applies to OpenAI-protocol providers only.
        # Typed as Any: the SDK's overloads do not narrow on `stream=True` with `**kwargs`.
        messages_api: Any = self._client.messages
        try:
            return messages_api.create(
                model=request.model,
                max_tokens=request.max_tokens,
                messages=[{"role": m.role, "content": m.content} for m in request.messages],
                stream=True,
                extra_headers=request.extra_headers or None,
                **kwargs,
            )
        except anthropic.APIStatusError as exc:
            raise status_error(exc) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderDown(f"Anthropic unreachable: {exc.__cause__ or exc}", provider=self.name) from exc
        except httpx2.TransportError as exc:
            raise ProviderDown(f"Anthropic unreachable: {exc}", provider=self.name) from exc

    def stream(self, request: ChatRequest) -> Iterator[ProviderEvent]:
        stream = self._open(request)
        tokens_in = 0
        tokens_out = 0
        stop_reason = "stop"
        try:
            for event in stream:
                if event.type == "message_start":
                    tokens_in = event.message.usage.input_tokens
                    tokens_out = event.message.usage.output_tokens
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta" and event.delta.text:
                        yield Delta(event.delta.text)
                elif event.type == "message_delta":
                    tokens_out = event.usage.output_tokens
                    if event.usage.input_tokens is not None:
                        tokens_in = event.usage.input_tokens
                    if event.delta.stop_reason:
                        stop_reason = _STOP_REASONS.get(event.delta.stop_reason, event.delta.stop_reason)
        except anthropic.APIStatusError as exc:  # an `error` event after the 200 (status_code 200)
            raise status_error(exc) from exc
        except (anthropic.APITimeoutError, httpx2.TimeoutException) as exc:
            raise StreamBroken(
                "Anthropic stream stalled: no chunk within the idle timeout", provider=self.name
            ) from exc
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            raise StreamBroken(f"Anthropic stream broken: {exc}", provider=self.name) from exc
        finally:
            stream.close()
        yield Usage(tokens_in=tokens_in, tokens_out=tokens_out)
        yield Finish(stop_reason)


def _error_fields(exc: anthropic.APIStatusError) -> tuple[str, str]:
    kind: str = exc.type or ""
    message: str = exc.api_message or ""
    if not kind and isinstance(exc.body, dict):
        error = exc.body.get("error")
        if isinstance(error, dict):
            kind = str(error.get("type") or "")
            message = message or str(error.get("message") or "")
    return str(kind), message or str(exc)


def status_error(exc: anthropic.APIStatusError) -> AIError:
    """Map an error answer (or an `error` event mid-stream, status 200) to our typed errors."""
    status = exc.status_code
    kind, message = _error_fields(exc)
    retry_after = parse_retry_after(exc.response.headers) if status != 200 else None
    common: dict[str, Any] = {"status_code": status, "provider": "anthropic"}
    lowered = message.lower()
    if status == 402 or kind == "billing_error" or "credit balance" in lowered:
        return SpendCapped(message, **common)
    if status == 529 or kind == "overloaded_error":
        return Overloaded(message, retry_after=retry_after, **common)
    if status == 429 or kind == "rate_limit_error":
        return RateLimited(message, retry_after=retry_after, **common)
    if status == 413 or kind == "request_too_large" or "prompt is too long" in lowered:
        return ContextTooLong(message, **common)
    if status == 200:
        return StreamBroken(f"Anthropic stream error: {kind or message}", **common)
    if status >= 500:
        return ProviderDown(message, retry_after=retry_after, **common)
    return RequestRejected(message, **common)
