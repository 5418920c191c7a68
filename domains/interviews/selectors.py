"""Reading interview sessions, for the candidate and for the session's watchers.

`question_payload` is the ONLY builder of a question for a candidate: it copies the candidate's
fields one by one (prompt, choices without the key, limits) and never the reference answer, the
answer key or the rubric bands. Every candidate-facing payload (pages, API, socket frames) is built
from it and from `session_payload` / `answer_payload` below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from domains.accounts.models import Organisation, Role, User
from domains.accounts.selectors import roles_for_user
from domains.ai.replies import reply_live_text
from domains.interviews import rules
from domains.interviews.events import ErrorPayload, FollowUpPayload, FollowUpResponsePayload, ReplyStatusName
from domains.interviews.models import Answer, FollowUp, FollowUpStatus, InterviewSession, Question, QuestionType


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def session_questions(*, session: InterviewSession, fields: tuple[str, ...] = ()) -> list[Question]:
    """The questions this session asks, in order: the template's first `question_count` (only
    `fields` of them loaded, where given)."""
    rows = Question.objects.filter(template_id=session.template_id).order_by("position")
    if fields:
        rows = rows.only("id", "position", *fields)
    return list(rows[: session.template.question_count])


def question_seconds(question: Question) -> int | None:
    """The question's own limit, in seconds: its own, else the template's, else none."""
    return question.seconds or question.template.question_seconds


def question_payload(question: Question) -> dict[str, Any]:
    """A question as the candidate sees it: never its key, reference answer or rubric bands."""
    choices = (
        [{"id": str(choice["id"]), "text": str(choice["text"])} for choice in question.choices]
        if question.question_type == QuestionType.MULTIPLE_CHOICE
        else []
    )
    return {
        "id": question.pk,
        "question_type": question.question_type,
        "prompt": question.prompt,
        "choices": choices,
        "topics": list(question.topics),
        "seconds": question_seconds(question),
    }


def answer_payload(answer: Answer | None) -> dict[str, Any]:
    """The stored answer (the last autosave), or an empty revision 0."""
    if answer is None:
        return {"text": "", "choice_ids": [], "revision": 0, "saved_at": None, "deadline": None}
    return {
        "text": answer.text,
        "choice_ids": list(answer.choice_ids),
        "revision": answer.revision,
        "saved_at": _iso(answer.saved_at),
        "deadline": _iso(answer.deadline),
    }


def followup_payload(followup: FollowUp, *, live: bool = True) -> FollowUpPayload:
    """A follow-up as the candidate and the watchers see it: the interviewer's question (its text so
    far, from Redis, while it streams and `live`), the candidate's saved response. Reads
    `followup.answer.question` (select it with the row)."""
    body = followup.body
    if live and followup.status == FollowUpStatus.STREAMING:
        body = reply_live_text(followup).get() or followup.body
    question = followup.answer.question
    return FollowUpPayload(
        id=followup.pk,
        question_id=question.pk,
        position=question.position,
        status=cast(ReplyStatusName, followup.status),
        body=body,
        provider_label=followup.provider_label,
        offline=followup.provider == "offline" or followup.provider_label.startswith("offline"),
        error=ErrorPayload(code=followup.error_code, message=followup.error_message) if followup.error_code else None,
        response=FollowUpResponsePayload(
            text=followup.response_text,
            revision=followup.response_revision,
            saved_at=_iso(followup.response_saved_at),
        ),
        created_at=followup.created_at.isoformat(),
    )


def followup_for_answer(answer: Answer | None) -> FollowUp | None:
    if answer is None:
        return None
    return FollowUp.objects.select_related("answer__question").filter(answer=answer).first()


def followups_streaming(*, session: InterviewSession) -> list[FollowUp]:
    """The session's follow-ups still streaming (a resume sends each one's text so far)."""
    return list(
        FollowUp.objects.select_related("answer__question")
        .filter(session=session, status=FollowUpStatus.STREAMING)
        .order_by("pk")
    )


def session_payload(session: InterviewSession, *, now: datetime | None = None) -> dict[str, Any]:
    """The session's clock and state. `server_now` lets a client correct its own clock's offset."""
    return {
        "id": session.pk,
        "template": {"id": session.template_id, "title": session.template.title},
        "practice": session.assignment_id is None,
        "state": session.state,
        "started_at": _iso(session.started_at),
        "deadline": _iso(session.deadline),
        "server_now": _iso(now or timezone.now()),
        "finished_at": _iso(session.finished_at),
        "extra_seconds": session.extra_seconds,
        "accommodation_percent": session.accommodation_percent,
        "position": session.current_position,
        "question_total": min(
            session.template.question_count, Question.objects.filter(template_id=session.template_id).count()
        ),
        "integrity_consent": session.integrity_consent,
        "follow_ups": session.template.follow_ups,
    }


def session_snapshot(session: InterviewSession, *, now: datetime | None = None) -> dict[str, Any]:
    """What a client needs to (re)draw the room: the clock, the current question, its saved answer,
    the interviewer's follow-up on it (null if none; its text so far while it streams), and the
    progress through every question (answered or not, no text but the current one's)."""
    moment = now or timezone.now()
    questions = session_questions(session=session)
    answers = {answer.question_id: answer for answer in Answer.objects.filter(session=session)}
    position = min(max(session.current_position, 1), max(len(questions), 1))
    current = questions[position - 1] if questions else None
    return {
        "session": session_payload(session, now=moment),
        "question": question_payload(current) if current is not None else None,
        "answer": answer_payload(answers.get(current.pk)) if current is not None else answer_payload(None),
        "followup": _current_followup(answers.get(current.pk) if current is not None else None),
        "progress": [
            {
                "position": index,
                "question_id": question.pk,
                "answered": question.pk in answers and answers[question.pk].revision > 0,
                "revision": answers[question.pk].revision if question.pk in answers else 0,
            }
            for index, question in enumerate(questions, start=1)
        ],
        "integrity": {"paste_count": session.paste_count, "focus_loss_count": session.focus_loss_count},
    }


def _current_followup(answer: Answer | None) -> FollowUpPayload | None:
    followup = followup_for_answer(answer)
    return followup_payload(followup) if followup is not None else None


def _sessions() -> QuerySet[InterviewSession]:
    return InterviewSession.objects.select_related("template", "assignment", "organisation")


def session_get_for_candidate(*, user: User, session_id: int) -> InterviewSession:
    """The user's own session; anyone else's, or a missing id, is 404."""
    session = _sessions().filter(pk=session_id, candidate_id=user.pk).first() if user.is_authenticated else None
    if session is None:
        raise Http404("No such interview session.")
    return session


def session_get_for_watcher(*, user: User, session_id: int) -> InterviewSession:
    """A session the user watches (a mentor of its organisation, or its assignment's reviewer); else 404."""
    session = _sessions().filter(pk=session_id).first()
    if session is None or not rules.may_watch(user=user, session=session):
        raise Http404("No such interview session.")
    return session


def session_get_for_user(*, user: User, session_id: int) -> tuple[InterviewSession, bool]:
    """The session for its candidate (`True`) or a watcher (`False`); 404 for anyone else."""
    try:
        return session_get_for_candidate(user=user, session_id=session_id), True
    except Http404:
        return session_get_for_watcher(user=user, session_id=session_id), False


def session_list_for_candidate(*, user: User) -> QuerySet[InterviewSession]:
    """The user's sessions, newest first (in every organisation: their history is theirs)."""
    return _sessions().filter(candidate_id=user.pk).order_by("-started_at", "-id")


def session_list_watched(*, user: User, organisation: Organisation | None) -> QuerySet[InterviewSession]:
    """In-progress sessions of `organisation` the user may watch, soonest deadline first."""
    if organisation is None:
        return InterviewSession.objects.none()
    roles = roles_for_user(user=user, organisation=organisation)
    if not roles:
        return InterviewSession.objects.none()
    rows = _sessions().filter(organisation=organisation, state="in_progress").exclude(candidate_id=user.pk)
    if Role.MENTOR not in roles:
        rows = rows.filter(assignment__reviewer_id=user.pk)
    return rows.order_by("deadline", "id")


# ---------------------------------------------------------------- the mentor's live view
def followups_for_session(*, session: InterviewSession) -> list[FollowUp]:
    """Every follow-up of the session (at most one per answer), by the question's position."""
    return list(
        FollowUp.objects.select_related("answer__question")
        .filter(session=session)
        .order_by("answer__question__position", "pk")
    )


def watch_followups(session: InterviewSession) -> list[FollowUpPayload]:
    """What the session's watchers see of the AI interviewer: each follow-up (its text so far while
    it streams) and the candidate's saved response, by the question's position. For watchers only:
    call it after `session_get_for_watcher`."""
    return [followup_payload(followup) for followup in followups_for_session(session=session)]


def watch_questions(session: InterviewSession) -> list[dict[str, Any]]:
    """The session's questions as the watch page labels them: id, position and prompt (no key,
    reference answer or band)."""
    return [
        {"id": question.pk, "position": index, "prompt": question.prompt}
        for index, question in enumerate(session_questions(session=session, fields=("prompt",)), start=1)
    ]
