"""The interview session life cycle, on the server's clock (docs/interviews.md, "Sessions and the clock").

- `interview_session_start`: idempotent (one session in progress per candidate and template; the
  database constraint settles races). The deadline is fixed here: now + duration * (1 + the
  candidate's accommodation %). An assignment's window and attempts are enforced; practice has none.
- `answer_save`: idempotent by (answer, revision). A revision not newer than the stored one
  changes nothing and answers the stored one, so replays and out-of-order saves never overwrite a
  newer text. Stamped with the server's time. Refused (`deadline_passed`, `question_closed`,
  `session_closed`) after the session's or the question's deadline; a refused save never loses the
  stored text: the refusal carries it (`SaveRefused.stored`).
- `session_navigate`, `interview_session_submit`, `interview_session_expire_due` (the beat sweep:
  closes sessions whose deadline passed, `finished_at` = the deadline), `extra_time_grant` (audited),
  `integrity_signal` (only with consent).

No time a client sends counts: every decision reads `timezone.now()` (or the `now=` a caller, a
test, passes). Each change publishes an event (events.py) on `interview_session_stream`; submit
and expiry enqueue `interview_session_grade_task`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from domains.accounts.models import Organisation, User
from domains.common.errors import Refusal
from domains.common.limits import hourly_allowance_take
from domains.compliance.services import audit_record
from domains.interviews import content, selectors
from domains.interviews.events import AnswerSaved, IntegritySignalled, QuestionOpened, SessionClosed, TimeExtended
from domains.interviews.models import (
    Accommodation,
    Answer,
    InterviewAssignment,
    InterviewSession,
    Question,
    QuestionType,
    SessionState,
)
from realtime.publish import publish_on_commit
from realtime.streams import interview_session_stream
from workers import enqueue

log = structlog.get_logger(__name__)

GRADE_TASK = "workers.tasks.interviews.interview_session_grade_task"
INTEGRITY_KINDS = ("paste", "focus_loss")
REVISION_MAX = 2**31 - 1


class SessionRefusal(Refusal):
    """A refused session action."""


class SaveRefused(SessionRefusal):
    """A refused answer save; `stored` is what the server keeps (the last saved revision)."""

    def __init__(self, code: str, message: str, *, stored: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(code, message, **kwargs)
        self.stored = stored


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _stream(session: InterviewSession) -> str:
    return interview_session_stream(session.pk)


def _locked(session_id: int) -> InterviewSession:
    """The session row, locked until the caller's transaction ends (saves, moves, grants and the
    sweep serialise on it, so a save cannot slip in after the session closed)."""
    return (
        InterviewSession.objects.select_for_update(of=("self",))
        .select_related("template", "assignment")
        .get(pk=session_id)
    )


# ---------------------------------------------------------------- start
def _deadline(*, start: datetime, minutes: int, percent: int) -> datetime:
    return start + timedelta(seconds=minutes * 60 * (100 + percent) / 100)


def _check_assignment(*, assignment: InterviewAssignment, user: User, template_id: int, now: datetime) -> None:
    if now < assignment.opens_at:
        raise SessionRefusal(
            "not_open", gettext("This assessment opens at %(at)s.") % {"at": assignment.opens_at.isoformat()}
        )
    if now >= assignment.closes_at:
        raise SessionRefusal("window_closed", gettext("This assessment's window has closed."))
    used = InterviewSession.objects.filter(assignment=assignment).exclude(state=SessionState.IN_PROGRESS).count()
    if used >= assignment.attempts_allowed:
        raise SessionRefusal("no_attempts_left", gettext("You have used every attempt this assessment allows."))


def _check_start_rate(*, user: User) -> None:
    hourly_allowance_take(
        key=f"interviews:start:{user.pk}",
        per_hour=float(settings.INTERVIEWS_SESSION_STARTS_PER_HOUR),
        message=gettext("Too many interviews started; try again later."),
        refusal=SessionRefusal,
    )


def interview_session_start(
    *,
    user: User,
    organisation: Organisation | None,
    template_id: int,
    assignment_id: int | None = None,
    integrity_consent: bool = False,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[InterviewSession, bool]:
    """Start a session of a template the user may see (practice), or of their assignment; or return
    the one already in progress for this candidate and template (`created` False). A session whose
    deadline passed is closed first (so it is not resumed). 404 for a template or assignment the
    user may not see, foreign or missing alike."""
    moment = _now(now)
    if organisation is None:
        raise Http404("No such interview template.")
    assignment: InterviewAssignment | None = None
    if assignment_id is not None:
        assignment = (
            InterviewAssignment.objects.select_related("template")
            .filter(pk=assignment_id, organisation=organisation, candidate_id=user.pk)
            .first()
        )
        if assignment is None:
            raise Http404("No such assignment.")
        template = assignment.template
        if template.pk != template_id:
            raise Http404("No such assignment.")
    else:
        template = content.template_get_for_user(user=user, organisation=organisation, template_id=template_id)
    interview_session_expire_due(now=moment, candidate_id=user.pk)
    existing = InterviewSession.objects.filter(
        candidate_id=user.pk, template_id=template.pk, state=SessionState.IN_PROGRESS
    ).first()
    if existing is not None:
        if existing.assignment_id != (assignment.pk if assignment is not None else None):
            # One session of a template runs at a time: a practice run never stands in for an
            # assessment (nor one assessment for another).
            raise SessionRefusal(
                "busy",
                gettext("Another session of this interview is in progress: hand it in before starting this one."),
            )
        return selectors.session_get_for_candidate(user=user, session_id=existing.pk), False
    if assignment is not None:
        _check_assignment(assignment=assignment, user=user, template_id=template.pk, now=moment)
    if not Question.objects.filter(template_id=template.pk).exists():
        raise SessionRefusal("no_questions", gettext("This template has no questions yet."))
    _check_start_rate(user=user)
    accommodation = Accommodation.objects.filter(organisation=organisation, user_id=user.pk).first()
    percent = accommodation.extra_time_percent if accommodation is not None else 0
    try:
        with transaction.atomic():
            session = InterviewSession.objects.create(
                organisation=organisation,
                candidate=user,
                template=template,
                assignment=assignment,
                started_at=moment,
                deadline=_deadline(start=moment, minutes=template.duration_minutes, percent=percent),
                accommodation_percent=percent,
                rubric_version=template.rubric_version,
                integrity_consent=bool(integrity_consent),
            )
            _open_question(session, position=1, now=moment)
    except IntegrityError:
        # A concurrent start won the race (the one-in-progress constraint): that one is the session.
        winner = InterviewSession.objects.filter(
            candidate_id=user.pk, template_id=template.pk, state=SessionState.IN_PROGRESS
        ).first()
        if winner is None:
            raise
        return selectors.session_get_for_candidate(user=user, session_id=winner.pk), False
    if assignment is not None:
        audit_record(
            actor=user,
            organisation=organisation,
            action="interviews.session_started",
            target=session,
            details={"assignment": assignment.pk, "deadline": session.deadline.isoformat()},
            request=request,
        )
    log.info("interviews.session_started", session=session.pk, practice=assignment is None)
    return selectors.session_get_for_candidate(user=user, session_id=session.pk), True


# ---------------------------------------------------------------- questions
def _question_at(session: InterviewSession, position: int) -> Question:
    questions = selectors.session_questions(session=session)
    if not 1 <= position <= len(questions):
        raise SessionRefusal("invalid", gettext("There is no question %(n)d.") % {"n": position}, field="position")
    return questions[position - 1]


def _open_question(session: InterviewSession, *, position: int, now: datetime) -> Answer:
    """The answer row of the question at `position`, created when first opened, with the question's
    own deadline (where it has a limit; never later than the session's)."""
    question = _question_at(session, position)
    answer = Answer.objects.filter(session=session, question=question).first()
    if answer is None:
        seconds = selectors.question_seconds(question)
        deadline = min(now + timedelta(seconds=seconds), session.deadline) if seconds else None
        answer = Answer.objects.create(session=session, question=question, opened_at=now, deadline=deadline)
    if session.current_position != position:
        session.current_position = position
        session.save(update_fields=["current_position", "updated_at"])
    publish_on_commit(
        _stream(session),
        QuestionOpened(
            type="question.opened",
            session_id=session.pk,
            position=position,
            question_id=question.pk,
            deadline=answer.deadline.isoformat() if answer.deadline else None,
        ),
    )
    return answer


def _closed_refusal(session: InterviewSession, *, now: datetime) -> SessionRefusal | None:
    """Why no write may change this locked session now, or None. A session whose deadline passed
    is closed here (as the sweep would) in the caller's transaction, which must then commit: callers
    leave their `atomic` block normally and raise the refusal after it."""
    if session.state != SessionState.IN_PROGRESS:
        return SessionRefusal("session_closed", gettext("This interview is over: nothing more can change."))
    if now >= session.deadline:
        _close(session, state=SessionState.EXPIRED, finished_at=session.deadline)
        return SessionRefusal("deadline_passed", gettext("The time is up: the last autosaved answer counts."))
    return None


def session_navigate(
    *,
    session_id: int,
    user: User,
    position: int | None = None,
    step: Literal["next", "previous"] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Move the candidate to a question (by `position`, or the next/previous one) and answer the
    room's snapshot. Moving back to a question whose own limit passed is allowed (to read it);
    saving to it is refused. Refused once the session is over."""
    moment = _now(now)
    with transaction.atomic():
        session = _locked_for(session_id=session_id, user=user)
        refusal = _closed_refusal(session, now=moment)
        if refusal is None:
            target = position if position is not None else session.current_position + (1 if step == "next" else -1)
            _open_question(session, position=target, now=moment)
    if refusal is not None:
        raise refusal
    return selectors.session_snapshot(selectors.session_get_for_candidate(user=user, session_id=session_id), now=moment)


def _locked_for(*, session_id: int, user: User) -> InterviewSession:
    """The user's own session, locked (one query); anyone else's, or a missing id, is 404."""
    try:
        return (
            InterviewSession.objects.select_for_update(of=("self",))
            .select_related("template", "assignment")
            .filter(candidate_id=user.pk if user.is_authenticated else None)
            .get(pk=session_id)
        )
    except InterviewSession.DoesNotExist:
        raise Http404("No such interview session.") from None


def session_lock_for_candidate(*, session_id: int, user: User) -> InterviewSession:
    """The candidate's own session, locked until the caller's transaction ends (404 for anyone
    else): every write to a session, the follow-ups' included (followups.py), serialises on it."""
    return _locked_for(session_id=session_id, user=user)


def session_closed_refusal(session: InterviewSession, *, now: datetime) -> SessionRefusal | None:
    """Why no write may change this locked session now, or None (closing it at its deadline, in the
    caller's transaction, which must then commit before the refusal is raised)."""
    return _closed_refusal(session, now=now)


# ---------------------------------------------------------------- answers
def _stored(answer: Answer | None) -> dict[str, Any]:
    return selectors.answer_payload(answer)


@dataclass(frozen=True)
class SavedAnswer:
    """What an autosave answers with: the revision the server keeps and its server time."""

    question_id: int
    revision: int
    saved_at: datetime | None


# Autosave is the room's hot path (bench S4: 500 sockets saving every 5 s). Here the ORM costs about
# 1 ms of CPU per query to build and read back, a statement about 0.1 ms, and every save of a daphne
# process shares its CPU: so the save reads in two statements what it needs, locked, and writes in
# one. The rare paths (a closed session, a first save without `question.open`) take the ORM's.
_SAVE_SESSION = """
SELECT s.state, s.deadline, s.template_id, t.question_count
FROM interviews_interviewsession s JOIN interviews_interviewtemplate t ON t.id = s.template_id
WHERE s.id = %s AND s.candidate_id = %s
FOR UPDATE OF s
"""
# The session's questions in order, with this session's answer to each (the text of the one saved to).
_SAVE_QUESTIONS = """
SELECT q.id, q.question_type, q.choices, a.id, a.revision, a.deadline, a.saved_at,
       CASE WHEN q.id = %s THEN a.text END, CASE WHEN q.id = %s THEN a.choice_ids END
FROM (SELECT id, position, question_type, choices FROM interviews_question
      WHERE template_id = %s ORDER BY position LIMIT %s) q
LEFT JOIN interviews_answer a ON a.question_id = q.id AND a.session_id = %s
ORDER BY q.position
"""
_SAVE_UPDATE = """
UPDATE interviews_answer SET text = %s, choice_ids = %s, revision = %s, saved_at = %s, updated_at = %s
WHERE id = %s
"""


def answer_save(
    *,
    session_id: int,
    user: User,
    question_id: int,
    revision: int,
    text: str | None = None,
    choice_ids: list[str] | None = None,
    now: datetime | None = None,
) -> tuple[SavedAnswer, bool]:
    """Store `revision` of the candidate's answer to `question_id` if it is newer than the stored one
    (`True`); else change nothing and answer the stored one (`False`). Refused after the session's
    deadline (`deadline_passed`, and the session closes), after the question's own
    (`question_closed`), or once closed (`session_closed`): `SaveRefused.stored` is what counts.
    The session row's lock serialises it with every other write to the session."""
    moment = _now(now)
    if not isinstance(revision, int) or not 1 <= revision <= REVISION_MAX:
        raise SessionRefusal("invalid", gettext("A revision is a whole number from 1."), field="revision")
    closed: SaveRefused | None = None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SAVE_SESSION, [session_id, user.pk if user.is_authenticated else None])
        head = cursor.fetchone()
        if head is None:
            raise Http404("No such interview session.")
        state, deadline, template_id, question_count = head
        cursor.execute(_SAVE_QUESTIONS, [question_id, question_id, template_id, question_count, session_id])
        rows = cursor.fetchall()
        found = next(((i, row) for i, row in enumerate(rows, 1) if row[0] == question_id), None)
        if found is None:
            raise Http404("No such question in this session.")
        position, (_, question_type, choices, answer_id, stored_revision, answer_deadline, saved_at, *kept) = found
        choices = json.loads(choices) if isinstance(choices, str) else choices  # Django reads jsonb as text
        stored = (
            Answer(
                pk=answer_id,
                text=kept[0] or "",
                choice_ids=kept[1] or [],
                revision=stored_revision,
                deadline=answer_deadline,
                saved_at=saved_at,
            )
            if answer_id is not None
            else None
        )
        refusal = None
        if state != SessionState.IN_PROGRESS or moment >= deadline:
            refusal = _closed_refusal(_locked_for(session_id=session_id, user=user), now=moment)
        if refusal is not None:
            closed = SaveRefused(refusal.code, refusal.message, stored=_stored(stored))
        else:
            if stored is not None and answer_deadline is not None and moment >= answer_deadline:
                raise SaveRefused(
                    "question_closed",
                    gettext("This question's own time is up: its last autosaved answer counts."),
                    stored=_stored(stored),
                )
            cleaned_text, cleaned_choices = _check_answer(question_type, choices, text=text, choice_ids=choice_ids)
            if stored is not None and revision <= stored.revision:
                return SavedAnswer(question_id, stored.revision, stored.saved_at), False
            if answer_id is None:
                answer_id = Answer.objects.create(session_id=session_id, question_id=question_id, opened_at=moment).pk
            cursor.execute(_SAVE_UPDATE, [cleaned_text, cleaned_choices, revision, moment, timezone.now(), answer_id])
            answered = sum(1 for row in rows if row[0] != question_id and (row[4] or 0) > 0) + 1
            publish_on_commit(
                interview_session_stream(session_id),
                AnswerSaved(
                    type="answer.saved",
                    session_id=session_id,
                    question_id=question_id,
                    position=position,
                    revision=revision,
                    saved_at=moment.isoformat(),
                    answered=answered,
                ),
            )
            return SavedAnswer(question_id, revision, moment), True
    # The session closed at its deadline inside the transaction above (committed): now refuse.
    raise closed


def _check_answer(
    question_type: str, choices: list[dict[str, Any]], *, text: str | None, choice_ids: list[str] | None
) -> tuple[str, list[str]]:
    limit = int(settings.INTERVIEWS_ANSWER_MAX_CHARS)
    if question_type == QuestionType.MULTIPLE_CHOICE:
        if text:
            raise SessionRefusal("invalid", gettext("A multiple-choice answer is a choice, not text."), field="text")
        allowed = {str(choice["id"]) for choice in choices}
        chosen = list(dict.fromkeys(choice_ids or []))
        if any(choice not in allowed for choice in chosen):
            raise SessionRefusal("invalid", gettext("Choose among the question's choices."), field="choice_ids")
        return "", chosen
    if choice_ids:
        raise SessionRefusal("invalid", gettext("This question takes a written answer."), field="choice_ids")
    value = text or ""
    if len(value) > limit:
        raise SessionRefusal(
            "too_long", gettext("An answer may be at most %(n)d characters.") % {"n": limit}, field="text"
        )
    if "\x00" in value:
        raise SessionRefusal("invalid", gettext("The text contains a character that cannot be stored."), field="text")
    return value, []


# ---------------------------------------------------------------- closing
def _close(session: InterviewSession, *, state: str, finished_at: datetime) -> None:
    """Close a locked, in-progress session; publish it and enqueue its grading after commit."""
    session.state = state
    session.finished_at = finished_at
    session.save(update_fields=["state", "finished_at", "updated_at"])
    publish_on_commit(
        _stream(session),
        SessionClosed(type="session.closed", session_id=session.pk, state=state, finished_at=finished_at.isoformat()),  # type: ignore[typeddict-item]
    )
    enqueue(GRADE_TASK, session.pk)
    log.info("interviews.session_closed", session=session.pk, state=state)


def interview_session_submit(*, session_id: int, user: User, now: datetime | None = None) -> InterviewSession:
    """The candidate hands in: `submitted`, finished now. Past the deadline it is `expired` at the
    deadline instead (the same as the sweep). A closed session is refused (`session_closed`)."""
    moment = _now(now)
    with transaction.atomic():
        session = _locked_for(session_id=session_id, user=user)
        if session.state != SessionState.IN_PROGRESS:
            raise SessionRefusal("session_closed", gettext("This interview is already over."))
        if moment >= session.deadline:
            _close(session, state=SessionState.EXPIRED, finished_at=session.deadline)
        else:
            _close(session, state=SessionState.SUBMITTED, finished_at=moment)
    return selectors.session_get_for_candidate(user=user, session_id=session_id)


def interview_session_expire_due(*, now: datetime | None = None, candidate_id: int | None = None) -> int:
    """Close every in-progress session whose deadline has passed, as `expired` with `finished_at` =
    its deadline (the beat sweep, every INTERVIEWS_EXPIRE_SWEEP_SECONDS). Returns how many closed."""
    moment = _now(now)
    due = InterviewSession.objects.filter(state=SessionState.IN_PROGRESS, deadline__lte=moment)
    if candidate_id is not None:
        due = due.filter(candidate_id=candidate_id)
    closed = 0
    for session_id in due.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            session = (
                InterviewSession.objects.select_for_update(skip_locked=True)
                .filter(pk=session_id, state=SessionState.IN_PROGRESS, deadline__lte=moment)
                .first()
            )
            if session is None:
                continue  # extended, submitted or being handled meanwhile
            _close(session, state=SessionState.EXPIRED, finished_at=session.deadline)
            closed += 1
    return closed


# ---------------------------------------------------------------- watchers
def extra_time_grant(
    *,
    session_id: int,
    user: User,
    seconds: int,
    reason: str,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> InterviewSession:
    """A mentor of the organisation, or the assignment's reviewer, moves the deadline by `seconds`,
    with a reason (stored and audited). Refused once the session is over. 404 for anyone else."""
    moment = _now(now)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    limit = int(settings.INTERVIEWS_EXTRA_TIME_MAX_SECONDS)
    if not isinstance(seconds, int) or not 1 <= seconds <= limit:
        errors["seconds"] = gettext("Extra time is from 1 to %(n)d seconds.") % {"n": limit}
    if not reason:
        errors["reason"] = gettext("Say why the time is granted.")
    elif len(reason) > 200 or "\x00" in reason:
        errors["reason"] = gettext("A reason is at most 200 characters of text.")
    with transaction.atomic():
        selectors.session_get_for_watcher(user=user, session_id=session_id)  # 404 for anyone else
        session = _locked(session_id)
        if errors:
            raise SessionRefusal("invalid", gettext("Check the extra time."), fields=errors)
        if session.state != SessionState.IN_PROGRESS or moment >= session.deadline:
            raise SessionRefusal("session_closed", gettext("This interview is over: no time can be added."))
        previous = session.deadline
        session.deadline = previous + timedelta(seconds=seconds)
        # A question's own limit cut short by the session's end moves with it.
        Answer.objects.filter(session=session, deadline=previous).update(deadline=session.deadline)
        session.extra_seconds = F("extra_seconds") + seconds
        session.save(update_fields=["deadline", "extra_seconds", "updated_at"])
        session.refresh_from_db(fields=["extra_seconds"])
        session.grants.create(seconds=seconds, reason=reason, granted_by=user)
        audit_record(
            actor=user,
            organisation=session.organisation,
            action="interviews.extra_time_granted",
            target=session,
            details={"seconds": seconds, "reason": reason, "deadline": session.deadline.isoformat()},
            request=request,
        )
        publish_on_commit(
            _stream(session),
            TimeExtended(
                type="session.time_extended",
                session_id=session.pk,
                seconds=seconds,
                deadline=session.deadline.isoformat(),
                extra_seconds=session.extra_seconds,
            ),
        )
    return session


def integrity_signal(*, session_id: int, user: User, kind: str, now: datetime | None = None) -> InterviewSession:
    """Count a paste or a focus loss, only if the candidate consented at the start (else refused,
    `no_consent`, nothing counted). Context for reviewers, never a verdict."""
    moment = _now(now)
    if kind not in INTEGRITY_KINDS:
        raise SessionRefusal("invalid", gettext("Unknown signal."), field="kind")
    with transaction.atomic():
        session = _locked_for(session_id=session_id, user=user)
        if not session.integrity_consent:
            raise SessionRefusal("no_consent", gettext("Integrity signals are recorded only with your consent."))
        refusal = _closed_refusal(session, now=moment)
        if refusal is None:
            _count(session, kind)
    if refusal is not None:
        raise refusal
    return session


def _count(session: InterviewSession, kind: str) -> None:
    field = "paste_count" if kind == "paste" else "focus_loss_count"
    setattr(session, field, getattr(session, field) + 1)
    session.save(update_fields=[field, "updated_at"])
    publish_on_commit(
        _stream(session),
        IntegritySignalled(
            type="integrity.signalled",
            session_id=session.pk,
            paste_count=session.paste_count,
            focus_loss_count=session.focus_loss_count,
        ),
    )
