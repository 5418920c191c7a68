"""The HTTP API (/api/v1): rate limits and cross-origin access."""

from project.settings.environment import env

# Calls an hour, a token bucket refilled evenly (domains/common/api_throttle.py): per signed-in
# person, and per client address for calls without one (counted before they are refused). 0: off.
API_RATE_USER_PER_HOUR = env.int("API_RATE_USER_PER_HOUR", default=1000)
API_RATE_ANON_PER_HOUR = env.int("API_RATE_ANON_PER_HOUR", default=100)

# CORS (django-cors-headers), for /api/ only and for the listed origins only (scheme://host[:port]);
# none by default. Credentials (cookies) stay off unless asked for: app clients will send a bearer
# token (the token-auth part of issue 15), and the session API needs its CSRF token anyway.
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = env.bool("CORS_ALLOW_CREDENTIALS", default=False)
CORS_EXPOSE_HEADERS = ["Retry-After"]
