"""Interview sessions' background work: the expiry sweep (queue `beat`) and grading a closed
session (queue `ai`: the evaluator may call a model provider)."""

from __future__ import annotations

from celery import shared_task

from domains.interviews.evaluation import session_grade
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
