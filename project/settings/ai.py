"""AI layer defaults. Staff override provider, model and quotas per organisation in admin."""

from project.settings.environment import env

AI_DEFAULT_PROVIDER = env("AI_DEFAULT_PROVIDER", default="")  # "" picks by the keys that are set
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")
