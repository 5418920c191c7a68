"""AI layer defaults. Staff override provider, model and quotas per organisation in admin.

Provider choice: `AI_DEFAULT_PROVIDER` ("openai", "anthropic", "offline"), or "" to pick by the
keys that are set (OpenAI, then Anthropic, else the offline coach). A provider without a key
falls back to the offline coach. `OPENAI_BASE_URL` alone (no key) also selects OpenAI, for
local OpenAI-compatible servers (vLLM, Ollama, LM Studio). See docs/ai.md.
"""

from project.settings.environment import env

AI_DEFAULT_PROVIDER = env("AI_DEFAULT_PROVIDER", default="")  # "" picks by the keys that are set
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")

# Default models, per provider (a feature's admin configuration may name another).
AI_OPENAI_MODEL = env("AI_OPENAI_MODEL", default="gpt-4.1-mini")
AI_ANTHROPIC_MODEL = env("AI_ANTHROPIC_MODEL", default="claude-haiku-4-5")
AI_MAX_TOKENS = env.int("AI_MAX_TOKENS", default=1024)
AI_TEMPERATURE = env.float("AI_TEMPERATURE", default=0.7)

# Timeouts, in seconds. The idle timeout bounds the wait for each chunk (and for the headers).
AI_CONNECT_TIMEOUT = env.float("AI_CONNECT_TIMEOUT", default=5.0)
AI_IDLE_TIMEOUT = env.float("AI_IDLE_TIMEOUT", default=30.0)

# The one retry layer (domains.ai.services.chat_stream). The SDKs' own retries are off.
AI_MAX_RETRIES = env.int("AI_MAX_RETRIES", default=2)  # retries after the first attempt
AI_RETRY_BASE_DELAY = env.float("AI_RETRY_BASE_DELAY", default=0.5)  # exponential backoff base
AI_RETRY_MAX_DELAY = env.float("AI_RETRY_MAX_DELAY", default=8.0)  # backoff cap
AI_RETRY_AFTER_MAX = env.float("AI_RETRY_AFTER_MAX", default=20.0)  # a longer retry-after fails at once

# How long a cancel flag lives in Redis.
AI_CANCEL_TTL = env.int("AI_CANCEL_TTL", default=3600)
# A streaming generation reads its cancel flag on its first chunk, then at most this often (seconds);
# 0 reads it on every chunk. The bound on how long a stopped reply keeps streaming.
AI_CANCEL_CHECK_SECONDS = env.float("AI_CANCEL_CHECK_SECONDS", default=0.1)

# Quota defaults (0 = unlimited). Per-organisation, per-feature values live in AIFeatureConfig.
AI_QUOTA_REQUESTS_PER_HOUR = env.int("AI_QUOTA_REQUESTS_PER_HOUR", default=60)  # per user and feature
AI_QUOTA_TOKENS_PER_DAY = env.int("AI_QUOTA_TOKENS_PER_DAY", default=2_000_000)  # per organisation (UTC day)
