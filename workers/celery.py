"""The Celery app. Workers: `worker` (prefork; queues default, beat) and `worker-ai` (threads; queue ai)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from workers.beat import beat_schedule
from workers.heartbeat import heartbeat_start, heartbeat_stop

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.dev")

app = Celery("coachwire")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every task's queue, in one table (Celery 5.7 deprecates the per-task `queue` attribute).
# Queues: `ai` (worker-ai, threads pool), `beat` (periodic housekeeping), `default` (the rest).
app.conf.task_routes = {
    "workers.tasks.coach.lounge_reply_task": {"queue": "ai"},
    "workers.tasks.coach.lounge_streams_sweep_task": {"queue": "beat"},
    "workers.tasks.realtime.stream_events_sweep_task": {"queue": "beat"},
    "workers.tasks.notes.note_embed_task": {"queue": "ai"},
    "workers.tasks.coach.thread_reply_task": {"queue": "ai"},
    "workers.tasks.coach.thread_streams_sweep_task": {"queue": "beat"},
    "workers.tasks.mail.mail_deliver_task": {"queue": "default"},
    "workers.tasks.mail.mail_stale_sweep_task": {"queue": "beat"},
    "workers.tasks.notifications.notifications_digest_task": {"queue": "beat"},
    "workers.tasks.interview_drafts.question_drafts_generate_task": {"queue": "ai"},
    "workers.tasks.interviews.interview_sessions_expire_task": {"queue": "beat"},
    "workers.tasks.interviews.interview_session_grade_task": {"queue": "ai"},
    "workers.tasks.interviews.interview_followup_task": {"queue": "ai"},
    "workers.tasks.interviews.interview_followups_sweep_task": {"queue": "beat"},
}
app.conf.include = [
    "workers.tasks.realtime",
    "workers.tasks.notes",
    "workers.tasks.coach",
    "workers.tasks.mail",
    "workers.tasks.notifications",
    "workers.tasks.interview_drafts",
    "workers.tasks.interviews",
]
app.conf.beat_schedule = beat_schedule()


@worker_process_init.connect
def _reset_connections_after_fork(**kwargs: object) -> None:
    """A forked child must not share its parent's database connections or pools (docs/stack-notes.md §20)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()


@worker_ready.connect
def _start_heartbeat(sender: object = None, **kwargs: object) -> None:
    heartbeat_start(sender)


@worker_shutdown.connect
def _stop_heartbeat(sender: object = None, **kwargs: object) -> None:
    heartbeat_stop()
