"""Sessions for the evaluation tests, built directly with the models (not through the session
services), so grading is tested on its own."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.utils import timezone

from domains.accounts.models import Organisation, User
from domains.interviews.models import Answer, InterviewSession, InterviewTemplate, Question, SessionState


def finished_session(
    *,
    template: InterviewTemplate,
    candidate: User,
    organisation: Organisation,
    answers: Mapping[int, str | Sequence[str]],
    state: str = SessionState.SUBMITTED,
) -> InterviewSession:
    """A finished session of `template` with the given answers by position: a string for a written
    answer, a list of choice ids for multiple choice; positions left out have no Answer row."""
    now = timezone.now()
    session = InterviewSession.objects.create(
        organisation=organisation,
        candidate=candidate,
        template=template,
        state=state,
        started_at=now - timedelta(minutes=20),
        deadline=now + timedelta(minutes=10),
        finished_at=now,
        rubric_version=template.rubric_version,
    )
    questions = {question.position: question for question in template.questions.all()}
    for position, value in answers.items():
        question = questions[position]
        Answer.objects.create(
            session=session,
            question=question,
            text=value if isinstance(value, str) else "",
            choice_ids=[] if isinstance(value, str) else list(value),
            revision=1,
            saved_at=now,
        )
    return session


def verdict(**changes: Any) -> str:
    """A model's JSON verdict, as the evaluator asks for it."""
    data: dict[str, Any] = {
        "score": 72,
        "band": "good",
        "explanation": "You separate the two correctly and give one use of each.",
        "tip": "Say how the GIL limits threads for CPU-bound work.",
        "correct": True,
        "sentiment": "neutral",
        "confidence": 0.8,
    }
    data.update(changes)
    return json.dumps(data)


def secrets_of(template: InterviewTemplate) -> list[str]:
    """What a candidate must never read: reference answers and band descriptors (long enough to be
    unambiguous), for every question of the template."""
    found: list[str] = []
    for question in Question.objects.filter(template=template):
        found.append(question.reference_answer)
        found.extend(str(band["descriptor"]) for band in question.rubric_bands)
    return [text for text in found if len(text) > 20]
