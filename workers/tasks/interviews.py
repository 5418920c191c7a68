"""Interview sessions' background work: the expiry sweep (queue `beat`), grading a closed
session (queue `ai`: the evaluator may call a model provider), and the AI interviewer's follow-ups
(queue `ai`) with the sweep of lost ones (queue `beat`)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from domains.interviews.evaluation import session_grade
from domains.interviews.followups import followup_generate, followups_sweep
from domains.interviews.services import interview_session_expire_due


@shared_task(ignore_result=True)
def interview_sessions_expire_task() -> int:
    """Close every in-progress session whose deadline passed (its client vanished), recording the
    deadline as the finish time; each closed session's grading is enqueued. Every
    INTERVIEWS_EXPIRE_SWEEP_SECONDS (30 s), so a session closes within a minute of its deadline."""
    return interview_session_expire_due()


@shared_task(ignore_result=True)
def interview_session_grade_task(session_id: int) -> None:
    """Score a submitted or expired session and write its report (`evaluation.session_grade`,
    idempotent: a redelivered task reuses the stored scores)."""
    session_grade(session_id=session_id)


@shared_task(ignore_result=True)
def interview_followup_task(followup_id: int) -> None:
    """Stream the interviewer's follow-up question (queue `ai`). Not acks_late: a lost worker must not
    call the provider twice; a duplicate delivery finds the run lock and returns, and the sweep marks
    a lost one interrupted."""
    followup_generate(followup_id=followup_id)


@shared_task(ignore_result=True)
def interview_followups_sweep_task() -> int:
    """Mark follow-ups streaming for longer than COACH_STALE_SECONDS whose worker vanished as interrupted."""
    return followups_sweep(older_than_seconds=settings.COACH_STALE_SECONDS)
