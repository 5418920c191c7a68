"""Active sessions (allauth.usersessions): each signed-in browser or app, with its device, address
and last activity, which its owner can end (domains/accounts/sessions.py); and the limits of the
account operations over the API (/api/v1/users, docs/account.md)."""

from project.settings.environment import env

# allauth's per-request tracking is off: `SessionActivityMiddleware` (domains/accounts/middleware.py)
# refreshes a session's row at most once per USERSESSIONS_SEEN_EVERY_SECONDS instead (0: every request).
USERSESSIONS_TRACK_ACTIVITY = False
USERSESSIONS_SEEN_EVERY_SECONDS = env.int("USERSESSIONS_SEEN_EVERY_SECONDS", default=60)
# Ending a session also closes its sockets and is audited (domains/accounts/sessions.py).
USERSESSIONS_ADAPTER = "domains.accounts.sessions.UserSessionsAdapter"

# Token buckets (realtime.ratelimit), refilled evenly over the hour; 0 turns one off.
# Changing the password over the API, per person (each try counts: it guards the current password).
USERS_PASSWORD_CHANGE_PER_HOUR = env.int("USERS_PASSWORD_CHANGE_PER_HOUR", default=10)
# Sending the verification mail again, per person (allauth's own cooldown per address applies too).
USERS_VERIFICATION_MAIL_PER_HOUR = env.int("USERS_VERIFICATION_MAIL_PER_HOUR", default=5)
# Asking for a password reset mail: per client address, and per email address asked about.
USERS_PASSWORD_RESET_PER_HOUR_PER_ADDRESS = env.int("USERS_PASSWORD_RESET_PER_HOUR_PER_ADDRESS", default=20)
USERS_PASSWORD_RESET_PER_HOUR_PER_EMAIL = env.int("USERS_PASSWORD_RESET_PER_HOUR_PER_EMAIL", default=5)
# Setting a new password with the mailed key, per client address.
USERS_PASSWORD_RESET_CONFIRM_PER_HOUR_PER_ADDRESS = env.int(
    "USERS_PASSWORD_RESET_CONFIRM_PER_HOUR_PER_ADDRESS", default=20
)
