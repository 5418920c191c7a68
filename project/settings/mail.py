"""Outbound mail: every email goes through `workers.tasks.mail.mail_deliver_task` (docs/mail.md).

EMAIL_BACKEND, DEFAULT_FROM_EMAIL and the SMTP settings (EMAIL_HOST, EMAIL_PORT ...) are Django's.
"""

from project.settings.environment import env

# A send is retried this many times after the first attempt, waiting MAIL_RETRY_BASE_SECONDS * 2^n
# (n = attempts so far - 1), at most MAIL_RETRY_MAX_SECONDS: a countdown stays well below the
# broker's visibility timeout (docs/stack-notes.md §3). A 5xx answer is not retried.
MAIL_MAX_RETRIES = env.int("MAIL_MAX_RETRIES", default=5)
MAIL_RETRY_BASE_SECONDS = env.float("MAIL_RETRY_BASE_SECONDS", default=30.0)
MAIL_RETRY_MAX_SECONDS = env.float("MAIL_RETRY_MAX_SECONDS", default=1800.0)
# Beat re-queues a pending mail untouched for this long (its task was lost: a worker died, the
# broker was down at commit). Longer than the longest retry wait, so a mail waiting to retry is left alone.
MAIL_STALE_SECONDS = env.int("MAIL_STALE_SECONDS", default=3600)
MAIL_SWEEP_SECONDS = env.int("MAIL_SWEEP_SECONDS", default=300)
# Django waits forever on a silent SMTP server by default; a delivery holds its row's lock meanwhile.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
