"""The beat schedule. django-celery-beat's DatabaseScheduler copies it into the database, where
staff can see and pause entries in the admin. Intervals are settings, so tests can shorten them."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        "realtime-retention-sweep": {
            "task": "workers.tasks.realtime.stream_events_sweep_task",
            "schedule": float(settings.REALTIME_RETENTION_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
        "coach-thread-streams-sweep": {
            "task": "workers.tasks.coach.thread_streams_sweep_task",
            "schedule": float(settings.COACH_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
        "coach-lounge-streams-sweep": {
            "task": "workers.tasks.coach.lounge_streams_sweep_task",
            "schedule": float(settings.COACH_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
        "interviews-followups-sweep": {
            "task": "workers.tasks.interviews.interview_followups_sweep_task",
            "schedule": float(settings.COACH_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
        "notifications-digest": {
            "task": "workers.tasks.notifications.notifications_digest_task",
            "schedule": float(settings.NOTIFICATIONS_DIGEST_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
        "mail-stale-sweep": {
            "task": "workers.tasks.mail.mail_stale_sweep_task",
            "schedule": float(settings.MAIL_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
        "interviews-expire-sweep": {
            "task": "workers.tasks.interviews.interview_sessions_expire_task",
            "schedule": float(settings.INTERVIEWS_EXPIRE_SWEEP_SECONDS),
            "options": {"queue": "beat"},
        },
    }
