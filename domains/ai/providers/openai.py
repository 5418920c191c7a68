"""OpenAI Chat Completions, streaming, through the `openai` SDK (on httpx2).

`base_url` also reaches OpenAI-compatible servers (vLLM, Ollama, LM Studio). The SDK's own
retries are off (`max_retries=0`): `domains.ai.services` is the one retry layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai

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

_SPEND_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "billing_error"}


def _client(*, api_key: str, base_url: str, connect_timeout: float, idle_timeout: float) -> openai.OpenAI:
    return sdk_client(
        openai.OpenAI, api_key=api_key, base_url=base_url, connect_timeout=connect_timeout, idle_timeout=idle_timeout
    )


class OpenAIProvider:
    name = "openai"
    label = "OpenAI"

    def __init__(
        self, *, api_key: str, base_url: str, default_model: str, connect_timeout: float, idle_timeout: float
    ) -> None:
        self.default_model = default_model
        self._client = _client(
            api_key=api_key or "not-needed",  # local OpenAI-compatible servers accept any key
            base_url=base_url,
            connect_timeout=connect_timeout,
            idle_timeout=idle_timeout,
        )

    def _open(self, request: ChatRequest) -> Any:
        """Send the request; the SDK's stream once the answer's headers are in, or a typed error."""
        messages: list[dict[str, str]] = []
        system = system_with_passages(request.system, request.passages)
        if system:
            messages.append({"role": "system", "content": system})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        kwargs: dict[str, Any] = {}
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        # Typed as Any: the SDK's overloads do not narrow on `stream=True` with `**kwargs`.
        completions: Any = self._client.chat.completions
        try:
            return completions.create(
                model=request.model,
                messages=messages,
                max_completion_tokens=request.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
                extra_headers=request.extra_headers or None,
                **kwargs,
            )
        except openai.APIStatusError as exc:
            raise status_error(exc) from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError (connect, or no headers in time)
            raise ProviderDown(f"OpenAI unreachable: {exc.__cause__ or exc}", provider=self.name) from exc

    def stream(self, request: ChatRequest) -> Iterator[ProviderEvent]:
        stream = self._open(request)
        stop_reason = "stop"
        try:
            for chunk in stream:
                if chunk.usage is not None:
                    yield Usage(tokens_in=chunk.usage.prompt_tokens, tokens_out=chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield Delta(choice.delta.content)
                    if choice.finish_reason:
                        stop_reason = choice.finish_reason
        except openai.APIStatusError as exc:
            raise status_error(exc) from exc
        except openai.APITimeoutError as exc:
            raise StreamBroken("OpenAI stream stalled: no chunk within the idle timeout", provider=self.name) from exc
        except openai.APIConnectionError as exc:
            raise StreamBroken(f"OpenAI stream broken: {exc.__cause__ or exc}", provider=self.name) from exc
        except openai.APIError as exc:  # an error event after the 200
            raise stream_error_event(exc) from exc
        except httpx2.TransportError as exc:
            raise StreamBroken(f"OpenAI stream broken: {exc}", provider=self.name) from exc
        finally:
            # Closing the SDK stream closes the response, and so the socket: cancellation ends here.
            stream.close()
        yield Finish(stop_reason)


def _error_fields(body: object) -> tuple[str, str, str]:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("type") or ""), str(error.get("code") or ""), str(error.get("message") or "")
    return "", "", str(body or "")


def status_error(exc: openai.APIStatusError) -> AIError:
    """Map an HTTP error answer to our typed errors."""
    status = exc.status_code
    kind, code, message = _error_fields(exc.body)
    message = message or str(exc)
    retry_after = parse_retry_after(exc.response.headers)
    common: dict[str, Any] = {"status_code": status, "provider": "openai"}
    if status == 402 or code in _SPEND_CODES or kind in _SPEND_CODES:
        return SpendCapped(message, **common)
    if status == 429:
        return RateLimited(message, retry_after=retry_after, **common)
    if status == 529 or kind == "overloaded_error" or code == "overloaded":
        return Overloaded(message, retry_after=retry_after, **common)
    if status in (400, 413) and (
        code == "context_length_exceeded" or "context length" in message.lower() or status == 413
    ):
        return ContextTooLong(message, **common)
    if status >= 500:
        return ProviderDown(message, retry_after=retry_after, **common)
    return RequestRejected(message, **common)


def stream_error_event(exc: openai.APIError) -> AIError:
    """An `{"error": ...}` chunk after the 200: overloaded stays typed, anything else is a broken stream."""
    kind, code, message = _error_fields(exc.body)
    message = message or str(exc)
    if kind == "overloaded_error" or code == "overloaded":
        return Overloaded(message, provider="openai")
    if kind in ("rate_limit_error", "requests", "tokens") or code == "rate_limit_exceeded":
        return RateLimited(message, provider="openai")
    return StreamBroken(f"OpenAI stream error: {message}", provider="openai")
