"""Lounges and their coach."""

from project.settings.environment import env

# The recent conversation the coach sees, in estimated tokens.
COACH_CONTEXT_TOKENS = env.int("COACH_CONTEXT_TOKENS", default=3000)
# How often a streaming reply's text is flushed from Redis to PostgreSQL.
COACH_FLUSH_SECONDS = env.float("COACH_FLUSH_SECONDS", default=1.0)
# A streaming reply with no job and no progress for this long is marked interrupted by beat.
COACH_STALE_SECONDS = env.int("COACH_STALE_SECONDS", default=300)
COACH_SWEEP_SECONDS = env.int("COACH_SWEEP_SECONDS", default=60)
# Typing and presence: how long a presence entry lives without a heartbeat.
PRESENCE_TTL_SECONDS = env.int("PRESENCE_TTL_SECONDS", default=60)
