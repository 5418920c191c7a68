"""Every task goes to the queue of the pool built for it."""

from __future__ import annotations

import pytest

from workers.celery import app


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("workers.tasks.coach.lounge_reply_task", "ai"),
        ("workers.tasks.coach.lounge_streams_sweep_task", "beat"),
        ("workers.tasks.realtime.stream_events_sweep_task", "beat"),
        ("workers.tasks.mail.mail_deliver_task", "default"),
        ("workers.tasks.mail.mail_stale_sweep_task", "beat"),
        ("workers.tasks.notifications.notifications_digest_task", "beat"),
        ("workers.tasks.interview_drafts.question_drafts_generate_task", "ai"),
        ("workers.tasks.interviews.interview_sessions_expire_task", "beat"),
        ("workers.tasks.interviews.interview_session_grade_task", "ai"),
        ("workers.tasks.interviews.interview_followup_task", "ai"),
        ("workers.tasks.interviews.interview_followups_sweep_task", "beat"),
    ],
)
def test_task_routes(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_beat_entry_names_a_registered_task() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
