"""Interview content's background work: drafting questions with a model provider (queue `ai`)."""

from __future__ import annotations

from celery import shared_task

from domains.interviews.content import question_drafts_generate


@shared_task(ignore_result=True)
def question_drafts_generate_task(template_id: int, user_id: int | None, count: int, job_description: str) -> None:
    """Ask the organisation's provider for `count` drafts of the template's questions and store the
    valid ones in the review queue (queue `ai`). Not acks_late: a lost worker must not call the
    provider twice (the quota was taken once, at the request). Returns quietly if the template is gone."""
    question_drafts_generate(template_id=template_id, user_id=user_id, count=count, job_description=job_description)
