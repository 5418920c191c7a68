"""Every event on an interview session's stream `interview.<id>`, as TypedDicts
(docs/realtime-protocol.md, "Interview sessions").

The candidate and the session's watchers (the organisation's mentors, the assignment's reviewer)
follow the same stream: no event here carries an answer key, a reference answer or rubric bands.
"""

from __future__ import annotations

from typing import Literal, TypedDict

SessionStateName = Literal["in_progress", "submitted", "expired", "graded"]


# ---- sessions (helper B)
class AnswerSaved(TypedDict):
    """A newer revision of one answer was stored (server time `saved_at`). Not its text."""

    type: Literal["answer.saved"]
    session_id: int
    question_id: int
    position: int
    revision: int
    saved_at: str
    answered: int  # questions with a saved answer so far


class QuestionOpened(TypedDict):
    """The candidate moved to the question at `position`; `deadline` is its own limit, or null."""

    type: Literal["question.opened"]
    session_id: int
    position: int
    question_id: int
    deadline: str | None


class TimeExtended(TypedDict):
    """A mentor or the reviewer granted extra time: the session's new `deadline`."""

    type: Literal["session.time_extended"]
    session_id: int
    seconds: int
    deadline: str
    extra_seconds: int  # granted in total since the start


class SessionClosed(TypedDict):
    """The session ended: `submitted` by the candidate, or `expired` at its deadline
    (`finished_at` is then the deadline itself)."""

    type: Literal["session.closed"]
    session_id: int
    state: SessionStateName
    finished_at: str


class IntegritySignalled(TypedDict):
    """A consented integrity count changed (context for reviewers, never a verdict)."""

    type: Literal["integrity.signalled"]
    session_id: int
    paste_count: int
    focus_loss_count: int


# ---- evaluation (helper C: domains/interviews/evaluation.py)
ReadinessName = Literal["ready", "almost_ready", "not_ready"]


class AnswerScoredPayload(TypedDict):
    """One scored answer as the candidate and the watchers see it (`evaluation.scored_payload`):
    never the reference answer, the key or the band descriptors."""

    answer_id: int
    question_id: int
    position: int
    score: int  # 0-100; a reviewer's override where one was set
    band: str
    correct: bool | None
    explanation: str
    tip: str
    offline: bool  # scored by the offline evaluator (rubric coverage, no model)
    overridden: bool
    override_reason: str  # "" unless overridden


class ReportPayload(TypedDict):
    """The session's report (`evaluation.report_payload`); a dimension no question counts towards is null."""

    overall: int
    technical: int | None
    communication: int | None
    problem_solving: int | None
    confidence: float
    readiness: ReadinessName
    reasons: list[str]
    study_topics: list[str]
    offline: bool


class AnswerScored(TypedDict):
    """One answer was scored while the session is graded, or a reviewer overrode its score."""

    type: Literal["answer.scored"]
    session_id: int
    answer: AnswerScoredPayload


class SessionGraded(TypedDict):
    """Every answer is scored: the report, and the session's state is now `graded`."""

    type: Literal["session.graded"]
    session_id: int
    report: ReportPayload


class ReportUpdated(TypedDict):
    """A reviewer's score override changed the report."""

    type: Literal["report.updated"]
    session_id: int
    report: ReportPayload


EvaluationEvent = AnswerScored | SessionGraded | ReportUpdated
