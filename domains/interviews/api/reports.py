"""/api/v1/interviews: a session's feedback (see api/__init__.py).

`GET /sessions/{id}/feedback`: for the session's candidate, and for its watchers (the mentors of its
organisation, the assignment's reviewer) while that organisation is bound; anyone else, and a
missing id, 404. Before grading, `graded` is false and `report` null. Never a reference answer, an
answer key or a band descriptor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema
from ninja.pagination import paginate

from domains.accounts.http import AuthenticatedRequest
from domains.common.api import BoundedLimitOffsetPagination, ObjectId, responses
from domains.interviews import evaluation

router = Router()


class ReportOut(Schema):
    overall: int = Field(description="0-100: the mean of the answers' scores (overrides included).")
    technical: int | None = Field(description="0-100, or null when no question counts towards it.")
    communication: int | None
    problem_solving: int | None
    confidence: float = Field(description="0-1: the mean of the answers' confidences (an override counts 1).")
    readiness: Literal["ready", "almost_ready", "not_ready"]
    reasons: list[str]
    study_topics: list[str] = Field(description="The weakest topics, weakest first.")
    offline: bool = Field(description="Some answers were scored by the offline evaluator (rubric coverage).")


class AnswerFeedbackOut(Schema):
    answer_id: int
    question_id: int
    position: int
    question_type: str
    prompt: str
    topics: list[str]
    score: int
    band: str
    correct: bool | None
    explanation: str
    tip: str
    offline: bool
    overridden: bool
    override_reason: str


class FeedbackOut(Schema):
    session_id: int
    state: Literal["in_progress", "submitted", "expired", "graded"]
    graded: bool
    template_title: str
    candidate_name: str
    report: ReportOut | None
    percentile: int | None = Field(
        description="Share of the organisation's earlier graded sessions of this template scoring below (0-100); "
        "null until there are enough of them."
    )
    answers: list[AnswerFeedbackOut]


@router.get(
    "/sessions/{int:session_id}/feedback",
    response=responses({200: FeedbackOut}),
    summary="A session's feedback: the report and each answer's score, band, explanation and tip",
)
def session_feedback(request: AuthenticatedRequest, session_id: ObjectId) -> dict[str, Any]:
    return evaluation.feedback_for_user(user=request.user, organisation=request.organisation, session_id=session_id)


class PracticeAreaOut(Schema):
    topic: str
    attempts: int = Field(description="My graded sessions that asked about the topic.")
    best: int
    average: int
    current: int = Field(description="The latest of those sessions' score on the topic.")
    practice_seconds: int = Field(description="Total time of those sessions, start to finish.")
    last_activity: datetime
    recommended_difficulty: Literal["easy", "medium", "hard"] = Field(
        description="One step harder after a strong current score, easier after a weak one."
    )


@router.get(
    "/practice-areas",
    response=responses({200: list[PracticeAreaOut]}),
    summary="My practice per topic: attempts, best, average and current score, time, next difficulty",
)
@paginate(BoundedLimitOffsetPagination)
def practice_areas(request: AuthenticatedRequest) -> Any:
    return evaluation.practice_areas_for_user(user=request.user)
