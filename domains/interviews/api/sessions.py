"""/api/v1/interviews/sessions: start (or resume) a session, my sessions, one session, save an
answer, ask the AI interviewer for a follow-up and save the response to it, complete. Every payload
is the candidate's: built by `selectors` (`question_payload`), it
never carries an answer key, a reference answer or rubric bands. Another person's session and a
missing id answer 404 alike (watchers follow a session on its socket and the live view).

The clock is the server's: no field a client sends is a time. A save after the deadline (or the
question's own) is refused with 409 and says which revision the server keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from domains.accounts.http import AuthenticatedRequest
from domains.common.api import BoundedLimitOffsetPagination, InputSchema, ObjectId, error_response, responses
from domains.interviews import followups, selectors, services
from domains.interviews.models import InterviewSession, QuestionType, SessionState

router = Router()


class TemplateRef(Schema):
    id: int
    title: str


class SessionOut(Schema):
    id: int
    template: TemplateRef
    practice: bool = Field(description="A practice session (no assignment).")
    state: SessionState
    started_at: datetime
    deadline: datetime = Field(description="The server's deadline; every write after it is refused.")
    server_now: datetime = Field(description="The server's time when this answer was built (correct your clock).")
    finished_at: datetime | None
    extra_seconds: int = Field(description="Extra time granted since the start (accommodation excluded).")
    accommodation_percent: int
    position: int = Field(description="The current question's position, from 1.")
    question_total: int
    integrity_consent: bool
    follow_ups: bool = Field(description="The AI interviewer may ask one follow-up per written answer, on request.")


class QuestionOut(Schema):
    id: int
    question_type: QuestionType
    prompt: str
    choices: list[dict[str, str]] = Field(description='Multiple choice: [{"id", "text"}], never the key.')
    topics: list[str]
    seconds: int | None = Field(description="This question's own limit, or null.")


class AnswerStateOut(Schema):
    text: str
    choice_ids: list[str]
    revision: int = Field(description="The stored revision (0: nothing saved yet).")
    saved_at: datetime | None = Field(description="Server time of the stored revision.")
    deadline: datetime | None = Field(description="This question's own deadline, where it has a limit.")


class ProgressOut(Schema):
    position: int
    question_id: int
    answered: bool
    revision: int


class IntegrityOut(Schema):
    paste_count: int
    focus_loss_count: int


class FollowUpErrorOut(Schema):
    code: str
    message: str


class FollowUpResponseOut(Schema):
    text: str
    revision: int = Field(description="The stored revision of the response (0: nothing saved yet).")
    saved_at: datetime | None = Field(description="Server time of the stored revision.")


class FollowUpOut(Schema):
    id: int
    question_id: int
    position: int
    status: Literal["streaming", "complete", "stopped", "interrupted"] = Field(
        description="`streaming` while the interviewer asks (follow it on the session's socket)."
    )
    body: str = Field(description="The interviewer's follow-up question (its text so far while streaming).")
    provider_label: str = Field(description='Who asks: e.g. "offline interviewer" when no model is configured.')
    offline: bool
    error: FollowUpErrorOut | None = Field(description="Why an interrupted follow-up stopped.")
    response: FollowUpResponseOut = Field(description="The candidate's saved response.")
    created_at: datetime


class SessionDetailOut(Schema):
    session: SessionOut
    question: QuestionOut | None = Field(description="The current question.")
    answer: AnswerStateOut = Field(description="The current question's saved answer.")
    followup: FollowUpOut | None = Field(description="The interviewer's follow-up on the current answer, if asked.")
    progress: list[ProgressOut]
    integrity: IntegrityOut


class StartIn(InputSchema):
    model_config = ConfigDict(extra="forbid")  # an unknown field (a client's "time") is 422, not ignored
    template_id: ObjectId
    assignment_id: ObjectId | None = Field(default=None, description="An assessment assigned to me; omit to practise.")
    integrity_consent: bool = Field(default=False, description="Count pastes and focus losses (context for reviewers).")


class AnswerIn(InputSchema):
    model_config = ConfigDict(extra="forbid")  # no client time can be sent, even one that would be ignored
    question_id: ObjectId
    revision: int = Field(ge=1, le=services.REVISION_MAX, description="Higher than the stored one, or nothing changes.")
    text: str | None = Field(default=None, description="Written questions.")
    choice_ids: list[str] | None = Field(default=None, max_length=16, description="Multiple choice.")


class FollowUpRequestIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    question_id: ObjectId = Field(description="A written question of the session whose answer is saved.")


class FollowUpResponseIn(InputSchema):
    model_config = ConfigDict(extra="forbid")  # no client time
    revision: int = Field(ge=1, le=services.REVISION_MAX, description="Higher than the stored one, or nothing changes.")
    text: str = Field(max_length=200_000, description="The response (the service caps it like an answer).")


class FollowUpSavedOut(Schema):
    followup_id: int
    revision: int = Field(description="The revision the server keeps now.")
    saved_at: datetime | None
    duplicate: bool = Field(description="True: the revision was not newer; nothing changed.")


class AnswerOut(Schema):
    question_id: int
    revision: int = Field(description="The revision the server keeps now.")
    saved_at: datetime | None
    duplicate: bool = Field(description="True: the revision was not newer; nothing changed.")


def _detail(session: InterviewSession) -> dict[str, Any]:
    return selectors.session_snapshot(session)


@router.post(
    "/sessions",
    response=responses({200: SessionDetailOut, 201: SessionDetailOut}),
    summary="Start a session (practice, or my assignment); answers the one in progress if there is one (200)",
)
def session_start(request: AuthenticatedRequest, payload: StartIn) -> Status[dict[str, Any]]:
    session, created = services.interview_session_start(
        user=request.user,
        organisation=request.organisation,
        template_id=payload.template_id,
        assignment_id=payload.assignment_id,
        integrity_consent=payload.integrity_consent,
        request=request,
    )
    return Status(201 if created else 200, _detail(session))


@router.get("/sessions", response=responses({200: list[SessionOut]}), summary="My interview sessions, newest first")
@paginate(BoundedLimitOffsetPagination)
def session_list(request: AuthenticatedRequest) -> Any:
    return [selectors.session_payload(s) for s in selectors.session_list_for_candidate(user=request.user)[:1000]]


@router.get(
    "/sessions/{int:session_id}",
    response=responses({200: SessionDetailOut}),
    summary="One of my sessions: the clock, the current question, its saved answer, the progress",
)
def session_detail(request: AuthenticatedRequest, session_id: ObjectId) -> dict[str, Any]:
    return _detail(selectors.session_get_for_candidate(user=request.user, session_id=session_id))


@router.put(
    "/sessions/{int:session_id}/answer",
    response=responses({200: AnswerOut}, 409),
    summary="Autosave an answer (idempotent by revision; refused with 409 after the deadline)",
)
def answer_save(request: AuthenticatedRequest, session_id: ObjectId, payload: AnswerIn) -> Any:
    try:
        answer, stored = services.answer_save(
            session_id=session_id,
            user=request.user,
            question_id=payload.question_id,
            revision=payload.revision,
            text=payload.text,
            choice_ids=payload.choice_ids,
        )
    except services.SaveRefused as refused:
        return _save_refused(refused)
    return {
        "question_id": payload.question_id,
        "revision": answer.revision,
        "saved_at": answer.saved_at,
        "duplicate": not stored,
    }


def _save_refused(refused: services.SaveRefused) -> HttpResponse:
    kept = refused.stored["revision"]
    errors = [
        {"loc": ["body", "payload", "revision"], "msg": f"The server keeps revision {kept}.", "type": refused.code}
    ]
    return error_response(409, refused.message, errors)


@router.post(
    "/sessions/{int:session_id}/followups",
    response=responses({200: FollowUpOut, 201: FollowUpOut}, 409, 429),
    summary="Ask the AI interviewer for a follow-up on a saved written answer (one per answer: 200 answers it)",
)
def followup_request(request: AuthenticatedRequest, session_id: ObjectId, payload: FollowUpRequestIn) -> Any:
    try:
        followup, created = followups.followup_request(
            session_id=session_id, user=request.user, question_id=payload.question_id
        )
    except services.SessionRefusal as refusal:
        if refusal.code in _CONFLICTS:
            return _conflict(refusal, ["body", "payload", "question_id"])
        raise
    return Status(201 if created else 200, selectors.followup_payload(followup))


@router.put(
    "/sessions/{int:session_id}/followups/{int:followup_id}",
    response=responses({200: FollowUpSavedOut}, 409),
    summary="Autosave the response to a follow-up (idempotent by revision; refused with 409 after the deadline)",
)
def followup_save(
    request: AuthenticatedRequest, session_id: ObjectId, followup_id: ObjectId, payload: FollowUpResponseIn
) -> Any:
    try:
        followup, stored = followups.followup_save(
            session_id=session_id,
            user=request.user,
            followup_id=followup_id,
            revision=payload.revision,
            text=payload.text,
        )
    except services.SaveRefused as refused:
        return _save_refused(refused)
    return {
        "followup_id": followup.pk,
        "revision": followup.response_revision,
        "saved_at": followup.response_saved_at,
        "duplicate": not stored,
    }


# Refusals that are about the session's state (409), not the request's fields.
_CONFLICTS = frozenset({"deadline_passed", "session_closed", "question_closed", "not_offered", "no_answer"})


def _conflict(refusal: services.SessionRefusal, loc: list[str]) -> HttpResponse:
    return error_response(409, refusal.message, [{"loc": loc, "msg": refusal.message, "type": refusal.code}])


@router.post(
    "/sessions/{int:session_id}/complete",
    response=responses({200: SessionOut}, 409),
    summary="Hand in the session (expired instead, at its deadline, if that has passed)",
)
def session_complete(request: AuthenticatedRequest, session_id: ObjectId) -> Any:
    try:
        session = services.interview_session_submit(session_id=session_id, user=request.user)
    except services.SessionRefusal as refusal:
        return error_response(
            409, refusal.message, [{"loc": ["path", "session_id"], "msg": refusal.message, "type": refusal.code}]
        )
    return selectors.session_payload(session)
