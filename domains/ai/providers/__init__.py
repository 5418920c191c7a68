"""Chat providers behind one streaming interface (see base.py), and their typed errors (errors.py).

`openai.py` and `anthropic.py` import their SDKs; `offline.py` needs nothing. Pick one through
`domains.ai.services.provider_for`.
"""

from domains.ai.providers.base import (
    ChatMessage,
    ChatOptions,
    ChatProvider,
    ChatRequest,
    Delta,
    Finish,
    Passage,
    Result,
    StreamItem,
    Usage,
)
from domains.ai.providers.errors import (
    AIError,
    ContextTooLong,
    Overloaded,
    ProviderDown,
    QuotaExceeded,
    RateLimited,
    RequestRejected,
    SpendCapped,
    StreamBroken,
)

__all__ = [
    "AIError",
    "ChatMessage",
    "ChatOptions",
    "ChatProvider",
    "ChatRequest",
    "ContextTooLong",
    "Delta",
    "Finish",
    "Overloaded",
    "Passage",
    "ProviderDown",
    "QuotaExceeded",
    "RateLimited",
    "RequestRejected",
    "Result",
    "SpendCapped",
    "StreamBroken",
    "StreamItem",
    "Usage",
]
