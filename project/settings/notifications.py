"""Notifications (domains/notifications)."""

from project.settings.environment import env

# The hour of the day, in each person's own time zone, at which their daily digest goes out.
NOTIFICATIONS_DIGEST_HOUR = env.int("NOTIFICATIONS_DIGEST_HOUR", default=8)
# How often beat looks for people whose digest hour it is (an hour at most, or someone is skipped).
NOTIFICATIONS_DIGEST_SWEEP_SECONDS = env.int("NOTIFICATIONS_DIGEST_SWEEP_SECONDS", default=900)
