"""Interview sessions on the server's clock: start, autosave, deadlines, the sweep, extra time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.http import Http404

from domains.compliance.models import AuditEvent
from domains.interviews import services
from domains.interviews.models import (
    Accommodation,
    Answer,
    ExtraTimeGrant,
    InterviewAssignment,
    InterviewSession,
    Question,
    SessionState,
)
from realtime.streams import interview_session_stream
from tests.domains.interviews.helpers import World, world_make
from tests.domains.interviews.helpers_sessions import timed_template

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def _start(w: World, template: Any, **kwargs: Any) -> tuple[InterviewSession, bool]:
    return services.interview_session_start(
        user=w.candidate, organisation=w.organisation, template_id=template.pk, **kwargs
    )


def _questions(template: Any) -> list[Question]:
    return list(Question.objects.filter(template=template).order_by("position"))


def _save(w: World, session: InterviewSession, question: Question, revision: int, **kwargs: Any) -> Any:
    if question.question_type == "multiple_choice":
        kwargs.setdefault("choice_ids", ["a"])
    else:
        kwargs.setdefault("text", f"revision {revision}")
    return services.answer_save(
        session_id=session.pk, user=w.candidate, question_id=question.pk, revision=revision, **kwargs
    )


def test_start_fixes_the_deadline_and_is_idempotent(world: World) -> None:
    """Given a 10-minute template, when the candidate starts twice, then one session exists, its
    deadline is the start plus 10 minutes on the server's clock, and the second start reuses it."""
    template = timed_template(world, minutes=10)
    with time_machine.travel(T0, tick=False):
        session, created = _start(world, template)
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        again, created_again = _start(world, template)
    assert created is True
    assert created_again is False
    assert again.pk == session.pk
    assert session.started_at == T0
    assert session.deadline == T0 + timedelta(minutes=10)
    assert InterviewSession.objects.filter(candidate=world.candidate, template=template).count() == 1


def test_an_accommodation_extends_every_new_session(world: World) -> None:
    """Given a 50% accommodation, when the candidate starts a 10-minute interview, then the
    deadline is 15 minutes after the start and the session records the percentage."""
    Accommodation.objects.create(organisation=world.organisation, user=world.candidate, extra_time_percent=50)
    template = timed_template(world, minutes=10)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    assert session.deadline == T0 + timedelta(minutes=15)
    assert session.accommodation_percent == 50


def test_a_foreign_template_is_not_found(world: World) -> None:
    """Given another organisation's template, when the candidate starts it, then 404 and nothing exists."""
    with pytest.raises(Http404):
        _start(world, world.foreign)
    assert not InterviewSession.objects.exists()


def _assignment(w: World, template: Any, **changes: Any) -> InterviewAssignment:
    data: dict[str, Any] = {
        "organisation": w.organisation,
        "template": template,
        "candidate": w.candidate,
        "reviewer": w.mentor,
        "opens_at": T0,
        "closes_at": T0 + timedelta(days=1),
    }
    data.update(changes)
    return InterviewAssignment.objects.create(**data)


def test_the_assignment_window_and_attempts_are_enforced(world: World) -> None:
    """Given an assignment open for one day with one attempt, when the candidate starts before it
    opens or after it closes, then it is refused (`not_open`, `window_closed`); inside it starts;
    once that attempt is over, another start is refused (`no_attempts_left`)."""
    template = timed_template(world, minutes=10)
    assignment = _assignment(world, template)
    for moment, code in ((T0 - timedelta(seconds=1), "not_open"), (T0 + timedelta(days=1), "window_closed")):
        with time_machine.travel(moment, tick=False), pytest.raises(services.SessionRefusal) as refused:
            _start(world, template, assignment_id=assignment.pk)
        assert refused.value.code == code
    assert not InterviewSession.objects.exists()
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        session, created = _start(world, template, assignment_id=assignment.pk)
        assert created
        assert session.assignment_id == assignment.pk
        services.interview_session_submit(session_id=session.pk, user=world.candidate)
        with pytest.raises(services.SessionRefusal) as refused:
            _start(world, template, assignment_id=assignment.pk)
    assert refused.value.code == "no_attempts_left"


def test_someone_elses_assignment_is_not_found(world: World) -> None:
    """Given an assignment for the learner, when the candidate uses its id, then 404."""
    template = timed_template(world)
    assignment = _assignment(world, template, candidate=world.learner)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False), pytest.raises(Http404):
        _start(world, template, assignment_id=assignment.pk)


def test_autosave_is_idempotent_under_replays_and_out_of_order_arrival(world: World, capture_events: Any) -> None:
    """Given saves of revisions 1, 3, then a late 2 and a replayed 3, then the stored answer is
    revision 3's text; the late and replayed saves change nothing and answer revision 3."""
    template = timed_template(world)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    question = _questions(template)[1]
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        _, stored = _save(world, session, question, 1)
        assert stored is True
    with time_machine.travel(T0 + timedelta(seconds=20), tick=False):
        _, stored = _save(world, session, question, 3)
        assert stored is True
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        late, late_stored = _save(world, session, question, 2)
        replay, replay_stored = _save(world, session, question, 3, text="a different text")
    assert (late_stored, replay_stored) == (False, False)
    assert late.revision == replay.revision == 3
    row = Answer.objects.get(session=session, question=question)
    assert (row.revision, row.text, row.saved_at) == (3, "revision 3", T0 + timedelta(seconds=20))
    saved = [e for e in capture_events.events(interview_session_stream(session.pk)) if e["type"] == "answer.saved"]
    assert [e["revision"] for e in saved] == [1, 3]


def test_an_autosave_reads_and_writes_in_five_statements(world: World) -> None:
    """Given a question already saved once, when the candidate saves a newer revision, then the
    service runs five statements (the locked session, the questions with their answers, the update,
    the event's sequence and row: bench S4's hot path), stores the text and answers the revision."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    template = timed_template(world)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    question = _questions(template)[1]
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        _save(world, session, question, 1)
    with (
        time_machine.travel(T0 + timedelta(seconds=10), tick=False),
        CaptureQueriesContext(connection) as captured,
    ):
        saved, stored = _save(world, session, question, 2, text="  the second draft\n")
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 5, statements
    assert "FOR UPDATE" in statements[0]
    assert stored is True
    assert (saved.question_id, saved.revision, saved.saved_at) == (question.pk, 2, T0 + timedelta(seconds=10))
    row = Answer.objects.get(session=session, question=question)
    assert (row.revision, row.text, row.saved_at) == (2, "  the second draft\n", T0 + timedelta(seconds=10))


def test_a_write_after_the_deadline_is_refused_and_keeps_the_last_save(world: World, capture_events: Any) -> None:
    """Given a saved revision 1, when revision 2 arrives one second after the deadline, then it is
    refused (`deadline_passed`) with what is stored, the text stays revision 1's, and the session
    is expired with the deadline as its finish time."""
    template = timed_template(world, minutes=5)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    question = _questions(template)[1]
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        _save(world, session, question, 1)
    with time_machine.travel(session.deadline + timedelta(seconds=1), tick=False):
        with pytest.raises(services.SaveRefused) as refused:
            _save(world, session, question, 2)
        assert refused.value.code == "deadline_passed"
        assert refused.value.stored["revision"] == 1
        assert refused.value.stored["text"] == "revision 1"
        with pytest.raises(services.SaveRefused) as again:
            _save(world, session, question, 3)
        assert again.value.code == "session_closed"
    session.refresh_from_db()
    assert session.state == SessionState.EXPIRED
    assert session.finished_at == session.deadline
    assert Answer.objects.get(session=session, question=question).text == "revision 1"
    closed = [e for e in capture_events.events(interview_session_stream(session.pk)) if e["type"] == "session.closed"]
    assert closed == [
        {
            "type": "session.closed",
            "session_id": session.pk,
            "state": "expired",
            "finished_at": session.deadline.isoformat(),
        }
    ]


def test_the_clock_is_the_servers_whatever_the_client_believes(world: World) -> None:
    """Given a candidate whose own clock says it is an hour earlier, when they save one second
    after the server's deadline, then the save is refused; and a save inside the time is stamped
    with the server's time, not any the client could send (the service takes none)."""
    template = timed_template(world, minutes=5)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    question = _questions(template)[1]
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        answer, _ = _save(world, session, question, 1)
    assert answer.saved_at == T0 + timedelta(minutes=1)
    with pytest.raises(TypeError):
        services.answer_save(  # type: ignore[call-arg]
            session_id=session.pk, user=world.candidate, question_id=question.pk, revision=2, text="x", saved_at=T0
        )
    with time_machine.travel(session.deadline + timedelta(seconds=1), tick=False), pytest.raises(services.SaveRefused):
        _save(world, session, question, 2)


def test_a_questions_own_limit_closes_only_that_question(world: World) -> None:
    """Given a 60-second limit per question, when the candidate saves question 1 after 61 s, then
    that save is refused (`question_closed`), while question 2, opened then, still takes answers."""
    template = timed_template(world, minutes=10, question_seconds=60)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    first, second = _questions(template)
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        with pytest.raises(services.SaveRefused) as refused:
            _save(world, session, first, 1)
        assert refused.value.code == "question_closed"
        snapshot = services.session_navigate(session_id=session.pk, user=world.candidate, step="next")
        assert snapshot["question"]["id"] == second.pk
        assert snapshot["answer"]["deadline"] == (T0 + timedelta(seconds=121)).isoformat()
        _, stored = _save(world, session, second, 1)
    assert stored is True


def test_the_sweep_closes_a_vanished_session_at_its_deadline(
    world: World, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a session whose client vanished, when the sweep runs 30 s after its deadline, then the
    session is expired, `finished_at` is the deadline, and its grading is enqueued; a session
    still inside its time is left alone."""
    template = timed_template(world, minutes=5)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
        running, _ = services.interview_session_start(
            user=world.learner, organisation=world.organisation, template_id=world.own.pk
        )
    enqueued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(services, "enqueue", lambda name, *args: enqueued.append((name, args)))
    with time_machine.travel(session.deadline + timedelta(seconds=30), tick=False):
        assert services.interview_session_expire_due() == 1
        assert services.interview_session_expire_due() == 0
    session.refresh_from_db()
    running.refresh_from_db()
    assert (session.state, session.finished_at) == (SessionState.EXPIRED, session.deadline)
    assert running.state == SessionState.IN_PROGRESS
    assert enqueued == [(services.GRADE_TASK, (session.pk,))]


def test_extra_time_extends_the_deadline_and_is_audited(world: World) -> None:
    """Given a running session, when the organisation's mentor grants 120 s with a reason, then the
    deadline moves by 120 s, a save after the old deadline is accepted, the grant is stored and
    audited; a learner of the organisation cannot grant (404), and a grant needs a reason."""
    template = timed_template(world, minutes=5)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    old = session.deadline
    with time_machine.travel(T0 + timedelta(minutes=4), tick=False):
        with pytest.raises(Http404):
            services.extra_time_grant(session_id=session.pk, user=world.learner, seconds=60, reason="x")
        with pytest.raises(services.SessionRefusal) as refused:
            services.extra_time_grant(session_id=session.pk, user=world.mentor, seconds=60, reason="  ")
        assert refused.value.code == "invalid"
        assert "reason" in refused.value.fields
        granted = services.extra_time_grant(
            session_id=session.pk, user=world.mentor, seconds=120, reason="Network outage"
        )
    assert granted.deadline == old + timedelta(seconds=120)
    assert granted.extra_seconds == 120
    with time_machine.travel(old + timedelta(seconds=60), tick=False):
        _, stored = _save(world, session, _questions(template)[1], 1)
    assert stored is True
    assert ExtraTimeGrant.objects.get(session=session).reason == "Network outage"
    audit = AuditEvent.objects.get(action="interviews.extra_time_granted")
    assert audit.actor_id == world.mentor.pk
    assert audit.details["seconds"] == 120


def test_the_assignment_reviewer_may_grant_time_a_foreign_mentor_may_not(world: World) -> None:
    """Given an assessment reviewed by a staff member, then that reviewer may grant time; a
    mentor of another organisation gets 404."""
    from domains.accounts.models import Role
    from tests.factories import MembershipFactory

    template = timed_template(world)
    assignment = _assignment(world, template, reviewer=world.staff)
    foreign_mentor = MembershipFactory.create(organisation=world.other, role=Role.MENTOR).user
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        session, _ = _start(world, template, assignment_id=assignment.pk)
        services.extra_time_grant(session_id=session.pk, user=world.staff, seconds=30, reason="Reviewer")
        with pytest.raises(Http404):
            services.extra_time_grant(session_id=session.pk, user=foreign_mentor, seconds=30, reason="No")
    session.refresh_from_db()
    assert session.extra_seconds == 30


def test_submit_closes_and_enqueues_grading(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a running session, when the candidate submits, then it is `submitted` now, grading is
    enqueued, and a second submit or a save is refused (`session_closed`)."""
    enqueued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(services, "enqueue", lambda name, *args: enqueued.append((name, args)))
    template = timed_template(world)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        done = services.interview_session_submit(session_id=session.pk, user=world.candidate)
        with pytest.raises(services.SessionRefusal) as refused:
            services.interview_session_submit(session_id=session.pk, user=world.candidate)
        assert refused.value.code == "session_closed"
        with pytest.raises(services.SaveRefused):
            _save(world, session, _questions(template)[1], 1)
    assert (done.state, done.finished_at) == (SessionState.SUBMITTED, T0 + timedelta(minutes=2))
    assert enqueued == [(services.GRADE_TASK, (session.pk,))]


def test_integrity_signals_count_only_with_consent(world: World) -> None:
    """Given a session started without consent, a paste signal is refused (`no_consent`) and counts
    nothing; with consent it counts."""
    template = timed_template(world)
    session, _ = _start(world, template)
    with pytest.raises(services.SessionRefusal) as refused:
        services.integrity_signal(session_id=session.pk, user=world.candidate, kind="paste")
    assert refused.value.code == "no_consent"
    session.refresh_from_db()
    assert session.paste_count == 0
    consenting, _ = services.interview_session_start(
        user=world.learner, organisation=world.organisation, template_id=template.pk, integrity_consent=True
    )
    services.integrity_signal(session_id=consenting.pk, user=world.learner, kind="focus_loss")
    consenting.refresh_from_db()
    assert consenting.focus_loss_count == 1


def test_bad_answers_change_nothing(world: World) -> None:
    """A choice the question does not offer, text for an MC question, or a question of another
    session is refused and stores nothing."""
    template = timed_template(world)
    session, _ = _start(world, template)
    mc, _open = _questions(template)
    for kwargs in ({"choice_ids": ["z"]}, {"choice_ids": [], "text": "prose"}):
        with pytest.raises(services.SessionRefusal) as refused:
            _save(world, session, mc, 1, **kwargs)
        assert refused.value.code == "invalid"
    with pytest.raises(Http404):
        _save(world, session, _questions(world.own)[0], 1)
    assert not Answer.objects.filter(session=session, revision__gt=0).exists()


def test_extra_time_also_moves_a_question_limit_the_session_end_cut_short(world: World) -> None:
    """Given a 120-second question limit opened 60 s before the session ends (so cut to the
    session's deadline), when a mentor grants 5 minutes, then that question's deadline moves with
    the session's, and a save to it after the old end is accepted."""
    template = timed_template(world, minutes=5, question_seconds=120)
    with time_machine.travel(T0, tick=False):
        session, _ = _start(world, template)
    second = _questions(template)[1]
    with time_machine.travel(session.deadline - timedelta(seconds=60), tick=False):
        snapshot = services.session_navigate(session_id=session.pk, user=world.candidate, position=2)
        assert snapshot["answer"]["deadline"] == session.deadline.isoformat()
        services.extra_time_grant(session_id=session.pk, user=world.mentor, seconds=300, reason="Power cut")
    with time_machine.travel(session.deadline + timedelta(seconds=10), tick=False):
        _, stored = _save(world, session, second, 1)
    assert stored is True
    assert Answer.objects.get(session=session, question=second).deadline == session.deadline + timedelta(seconds=300)
