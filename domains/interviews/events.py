"""Every event on an interview session's stream `interview.<id>`, as TypedDicts
(docs/realtime-protocol.md, "Interview sessions").

The candidate and the session's watchers (the organisation's mentors, the assignment's reviewer)
follow the same stream: no event here carries an answer key, a reference answer or rubric bands.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

from typing_extensions import ReadOnly

from domains.ai.replies import ErrorPayload as ErrorPayload
from domains.ai.replies import ReplyStatusName as ReplyStatusName
from realtime.livetext import TextDelta

FOLLOWUP_DELTA: Final = "followup.delta"

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


# ---- the AI interviewer's follow-ups (domains/interviews/followups.py)
class FollowUpResponsePayload(TypedDict):
    """The candidate's response to a follow-up: the last autosave (revision 0: nothing saved yet)."""

    text: str
    revision: int
    saved_at: str | None


class FollowUpPayload(TypedDict):
    """One follow-up question (`followups.followup_payload`). `body` is the question: the text so far
    while `status` is `streaming`, else the final text. Built from the question's prompt and the
    candidate's answer only: never a reference answer, a key or a rubric."""

    id: int
    question_id: int
    position: int
    status: ReplyStatusName
    body: str
    provider_label: str  # "offline interviewer" when no model asked it
    offline: bool
    error: ErrorPayload | None
    response: FollowUpResponsePayload
    created_at: str


class FollowUpStarted(TypedDict):
    """The candidate asked for a follow-up on an answer: it is streaming (`body` empty)."""

    type: Literal["followup.started"]
    session_id: int
    followup: FollowUpPayload


class FollowUpDelta(TextDelta):
    """Ephemeral: a piece of a streaming follow-up (`id` is the follow-up's; `offset` in code points)."""

    type: ReadOnly[Literal["followup.delta"]]


class FollowUpDone(TypedDict):
    """A follow-up's end: its final text, status (`complete`, or `interrupted` with `error`)."""

    type: Literal["followup.done"]
    session_id: int
    followup: FollowUpPayload


class FollowUpSaved(TypedDict):
    """A newer revision of a follow-up's response was stored (server time `saved_at`). Not its text."""

    type: Literal["followup.saved"]
    session_id: int
    followup_id: int
    question_id: int
    revision: int
    saved_at: str


FollowUpEvent = FollowUpStarted | FollowUpDone | FollowUpSaved
FollowUpEphemeralEvent = FollowUpDelta
