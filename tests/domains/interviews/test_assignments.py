"""Assessments and accommodations: staff assign a template within a window (to a member, or by
inviting an address, the invitation carrying the assignment and an .ics), the window and attempts
hold through real sessions, and staff set standing extra time (docs/interviews.md, "Assessments")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import time_machine
from django.conf import settings as django_settings
from django.http import Http404
from structlog.testing import capture_logs

from domains.accounts.models import Membership, Role
from domains.common.errors import Refusal
from domains.compliance.models import AuditEvent
from domains.interviews import assignments, services
from domains.interviews.models import Accommodation, InterviewAssignment, InterviewSession
from domains.invitations import services as invitations
from domains.invitations.models import Invitation
from domains.mail.models import OutboundEmail
from domains.notifications.models import Notification
from tests.domains.interviews.helpers import World, world_make
from tests.domains.interviews.helpers_sessions import timed_template
from tests.domains.invitations.helpers import mailed_link
from tests.factories import MembershipFactory, UserFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPENS = T0 + timedelta(hours=1)
CLOSES = T0 + timedelta(days=2)


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def _assign(w: World, **changes: Any) -> InterviewAssignment:
    values: dict[str, Any] = {
        "organisation": w.organisation,
        "actor": w.staff,
        "template_id": w.own.pk,
        "opens_at": OPENS,
        "closes_at": CLOSES,
        "attempts_allowed": 1,
        "candidate_id": w.candidate.pk,
        "now": T0,
    }
    values.update(changes)
    return assignments.assignment_create(**values)


def _refused(w: World, **changes: Any) -> Refusal:
    with pytest.raises(Refusal) as refusal:
        _assign(w, **changes)
    return refusal.value


def _nothing_written() -> None:
    assert not InterviewAssignment.objects.exists()
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action="interviews.assignment_created").exists()
    assert not Notification.objects.filter(kind="interviews.assigned").exists()


def _ics(text: str) -> Any:
    calendar = icalendar.Calendar.from_ical(text)
    (event,) = calendar.events
    return event


# ---------------------------------------------------------------- create
def test_staff_assign_a_member_candidate_who_is_notified_and_it_is_audited(world: World) -> None:
    """Given a member with the candidate role, when staff assign them the organisation's template,
    then the assignment holds the window, attempts and reviewer, the creation is audited and the
    candidate gets an `interviews.assigned` notification linking to their assignments."""
    assignment = _assign(world, reviewer_id=world.mentor.pk, attempts_allowed=2)

    assert (assignment.candidate, assignment.invited_email, assignment.reviewer) == (world.candidate, "", world.mentor)
    assert (assignment.opens_at, assignment.closes_at, assignment.attempts_allowed) == (OPENS, CLOSES, 2)
    audit = AuditEvent.objects.get(action="interviews.assignment_created")
    assert (audit.actor, audit.organisation, audit.target_id) == (world.staff, world.organisation, str(assignment.pk))
    assert audit.details["candidate"] == world.candidate.pk
    assert audit.details["reviewer"] == world.mentor.pk
    assert audit.details["invitation"] is None
    notice = Notification.objects.get(user=world.candidate, kind="interviews.assigned")
    assert notice.link == f"/interviews/assignments/#assignment-{assignment.pk}"
    assert "Our screen" in notice.title
    assert not Invitation.objects.exists()


def test_an_email_of_a_member_candidate_is_that_member(world: World) -> None:
    """Given the candidate's own address (in another case), when staff assign by email, then the
    member is the candidate and nobody is invited."""
    assignment = _assign(world, candidate_id=None, email=world.candidate.email.upper())
    assert assignment.candidate == world.candidate
    assert assignment.invited_email == ""
    assert not Invitation.objects.exists()


def test_a_public_template_may_be_assigned(world: World) -> None:
    """Given the public catalogue, when staff assign one of its templates, then it is assigned."""
    assert _assign(world, template_id=world.public.pk).template == world.public


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"closes_at": OPENS}, "closes_at"),
        ({"closes_at": OPENS - timedelta(minutes=1)}, "closes_at"),
        ({"opens_at": T0 - timedelta(days=2), "closes_at": T0 - timedelta(days=1)}, "closes_at"),
        ({"closes_at": T0 + timedelta(days=400)}, "closes_at"),
        ({"opens_at": T0 - timedelta(days=100)}, "opens_at"),
        ({"opens_at": OPENS.replace(tzinfo=None)}, "opens_at"),  # naive
        ({"attempts_allowed": 0}, "attempts_allowed"),
        ({"attempts_allowed": 11}, "attempts_allowed"),
        ({"candidate_id": None}, "candidate_id"),
        ({"email": "new@example.test"}, "email"),  # and a candidate id: not both
        ({"candidate_id": None, "email": "not an address"}, "email"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_changes_nothing(
    world: World, changes: dict[str, Any], field: str
) -> None:
    """Given a window that does not close after it opens, or closed, or too long or too far; attempts
    outside 1..10; neither or both of candidate and email; a bad address: then a field error, and
    nothing is written."""
    refusal = _refused(world, **changes)
    assert field in refusal.field_errors()
    _nothing_written()


@pytest.mark.parametrize(
    ("who", "field", "code"),
    [
        ("foreign_template", "template_id", "not_found"),
        ("missing_template", "template_id", "not_found"),
        ("foreign_candidate", "candidate_id", "not_found"),
        ("missing_candidate", "candidate_id", "not_found"),
        ("learner_candidate", "candidate_id", "invalid"),
        ("learner_email", "email", "invalid"),
        ("foreign_reviewer", "reviewer_id", "not_found"),
        ("learner_reviewer", "reviewer_id", "invalid"),
    ],
)
def test_people_and_templates_outside_the_organisation_are_not_found(
    world: World, who: str, field: str, code: str
) -> None:
    """Given another organisation's template, member or reviewer (or a missing id), then `not_found`
    at that field, exactly as for a missing one; a member without the role is `invalid`. Nothing is
    written."""
    table: dict[str, dict[str, Any]] = {
        "foreign_template": {"template_id": world.foreign.pk},
        "missing_template": {"template_id": 10**9},
        "foreign_candidate": {"candidate_id": world.other_staff.pk},
        "missing_candidate": {"candidate_id": 10**9},
        "learner_candidate": {"candidate_id": world.learner.pk},
        "learner_email": {"candidate_id": None, "email": world.learner.email},
        "foreign_reviewer": {"reviewer_id": world.other_staff.pk},
        "learner_reviewer": {"reviewer_id": world.learner.pk},
    }
    changes = table[who]
    refusal = _refused(world, **changes)
    assert (refusal.code, list(refusal.field_errors())) == (code, [field])
    _nothing_written()


def test_only_staff_assign(world: World) -> None:
    """Given a mentor (they review, they do not assign), when they assign, then `not_allowed`."""
    refusal = _refused(world, actor=world.mentor)
    assert refusal.code == "not_allowed"
    _nothing_written()


def test_assignments_are_rate_limited_per_person(world: World, settings: Any) -> None:
    """Given a limit of 2 an hour, when staff create a third, then it is refused with a retry time and
    not written."""
    settings.INTERVIEWS_ASSIGNMENTS_PER_HOUR = 2
    _assign(world)
    _assign(world)
    refusal = _refused(world)
    assert refusal.code == "rate_limited"
    assert refusal.retry_after is not None
    assert refusal.retry_after > 0
    assert InterviewAssignment.objects.count() == 2


# ---------------------------------------------------------------- invited by email
def test_an_invited_address_gets_an_invitation_with_the_windows_ics(world: World) -> None:
    """Given an address of nobody in the organisation, when staff assign by email, then the
    assignment waits with `invited_email`, a candidate invitation carries it, and the invitation
    mail has a parseable .ics whose DTSTART/DTEND are the window (UTC), with the template's title,
    the assignment's page and no accept link."""
    assignment = _assign(world, candidate_id=None, email="New.Person@Example.test")

    assert (assignment.candidate, assignment.invited_email) == (None, "new.person@example.test")
    invitation = Invitation.objects.get(email="new.person@example.test")
    assert invitation.role == Role.CANDIDATE
    assert invitation.pending == [{"kind": "interviews.assignment", "data": {"assignment_id": assignment.pk}}]
    mail = OutboundEmail.objects.get(tag="invitation", to="new.person@example.test")
    (attachment,) = mail.attachments
    assert (attachment["filename"], attachment["mimetype"]) == (f"assessment-{assignment.pk}.ics", "text/calendar")
    event = _ics(attachment["content"])
    assert event.start == OPENS
    assert event.end == CLOSES
    assert event.start.utcoffset() == timedelta(0)
    assert "Our screen" in str(event["SUMMARY"])
    assert str(event["UID"]).startswith(f"assignment-{assignment.pk}@")
    assert str(event["URL"]).endswith(f"/interviews/assignments/#assignment-{assignment.pk}")
    assert "invitations/accept" not in attachment["content"]
    assert "assessment-" in mail.text_body  # the mail says what is attached
    audit = AuditEvent.objects.get(action="interviews.assignment_created")
    assert (audit.details["invited_email"], audit.details["invitation"]) == ("new.person@example.test", invitation.pk)


def test_the_invitee_becomes_the_candidate_on_accepting(world: World) -> None:
    """Given an assignment waiting on an invitation, when the invitee signs up through the link,
    then they are a candidate member, the assignment is theirs and they see it (only it)."""
    assignment = _assign(world, candidate_id=None, email="new@example.test")
    _assign(world)  # the existing candidate's: not the invitee's to see
    _, token = mailed_link("new@example.test")

    _, user = invitations.invitation_accept_signup(
        token=token, display_name="Nia New", password="a long enough passphrase 1", consent=True
    )

    assignment.refresh_from_db()
    assert (assignment.candidate, assignment.invited_email) == (user, "")
    assert Membership.objects.filter(user=user, organisation=world.organisation, role=Role.CANDIDATE).exists()
    assert [row.pk for row in assignments.assignment_list_for_candidate(user, world.organisation)] == [assignment.pk]


def test_a_cancelled_assignment_is_skipped_on_accepting(world: World) -> None:
    """Given an invited assignment cancelled before the invitee accepts, when they accept, then they
    join, nothing is assigned and a log line says the assignment was skipped."""
    assignment = _assign(world, candidate_id=None, email="new@example.test")
    assignments.assignment_cancel(organisation=world.organisation, actor=world.staff, assignment_id=assignment.pk)
    _, token = mailed_link("new@example.test")
    with capture_logs() as logs:
        _, user = invitations.invitation_accept_signup(
            token=token, display_name="Nia New", password="a long enough passphrase 1", consent=True
        )
    assert Membership.objects.filter(user=user, organisation=world.organisation).exists()
    skipped = [entry for entry in logs if entry["event"] == "interviews.assignment_skipped"]
    assert [entry["assignment"] for entry in skipped] == [assignment.pk]
    assert not InterviewAssignment.objects.exists()


def test_a_waiting_invitation_to_the_address_is_refused_clearly(world: World) -> None:
    """Given an invitation already waiting for an address, when staff assign by that address, then
    `pending` at `email`, and the second assignment is not written."""
    _assign(world, candidate_id=None, email="new@example.test")
    refusal = _refused(world, candidate_id=None, email="new@example.test")
    assert (refusal.code, refusal.field) == ("pending", "email")
    assert "already waiting" in refusal.message
    assert InterviewAssignment.objects.count() == 1
    assert Invitation.objects.count() == 1


# ---------------------------------------------------------------- the window through sessions
def _start(w: World, assignment: InterviewAssignment) -> InterviewSession:
    session, _ = services.interview_session_start(
        user=w.candidate, organisation=w.organisation, template_id=assignment.template_id, assignment_id=assignment.pk
    )
    return session


def _state(w: World, assignment: InterviewAssignment) -> str:
    (row,) = [
        a for a in assignments.assignment_list_for_candidate(w.candidate, w.organisation) if a.pk == assignment.pk
    ]
    return assignments.assignment_state(row)


def test_the_window_and_attempts_hold_through_started_sessions(world: World) -> None:
    """Given an assignment made through the service (window OPENS..CLOSES, one attempt), when the
    candidate starts before the window, in it, again after finishing, and after it, then: refused
    `not_open`; started; refused `no_attempts_left`; and the listed state follows: upcoming, open,
    used up, closed."""
    template = timed_template(world, minutes=10)
    assignment = _assign(world, template_id=template.pk)

    with time_machine.travel(OPENS - timedelta(minutes=5), tick=False):
        assert _state(world, assignment) == "upcoming"
        with pytest.raises(Refusal) as early:
            _start(world, assignment)
        assert early.value.code == "not_open"
    with time_machine.travel(OPENS + timedelta(minutes=1), tick=False):
        assert _state(world, assignment) == "open"
        session = _start(world, assignment)
        assert session.assignment_id == assignment.pk
        services.interview_session_submit(session_id=session.pk, user=world.candidate)
        assert _state(world, assignment) == "used_up"
        with pytest.raises(Refusal) as again:
            _start(world, assignment)
        assert again.value.code == "no_attempts_left"
    with time_machine.travel(CLOSES, tick=False):
        assert _state(world, assignment) == "closed"
    (row,) = assignments.assignment_rows(assignments.assignment_list_for_candidate(world.candidate, world.organisation))
    assert (row.attempts_used, row.attempts_left) == (1, 0)


def test_a_session_past_the_window_is_refused(world: World) -> None:
    """Given an open assignment, when the candidate starts after it closed, then `window_closed`."""
    template = timed_template(world, minutes=10)
    assignment = _assign(world, template_id=template.pk, attempts_allowed=3)
    with time_machine.travel(CLOSES + timedelta(seconds=1), tick=False), pytest.raises(Refusal) as late:
        _start(world, assignment)
    assert late.value.code == "window_closed"
    assert not InterviewSession.objects.exists()


def test_a_practice_run_in_progress_never_stands_in_for_the_assessment(world: World) -> None:
    """Given a candidate practising a template in progress, when they start their assessment of the
    same template, then it is refused `busy` (not resumed as the practice run); once the practice is
    handed in, the assessment starts as its own session."""
    template = timed_template(world, minutes=10)
    assignment = _assign(world, template_id=template.pk)
    with time_machine.travel(OPENS + timedelta(minutes=1), tick=False):
        practice, _ = services.interview_session_start(
            user=world.candidate, organisation=world.organisation, template_id=template.pk
        )
        with pytest.raises(Refusal) as busy:
            _start(world, assignment)
        assert busy.value.code == "busy"
        assert InterviewSession.objects.get().assignment_id is None
        services.interview_session_submit(session_id=practice.pk, user=world.candidate)
        assessed = _start(world, assignment)
    assert assessed.pk != practice.pk
    assert assessed.assignment_id == assignment.pk


# ---------------------------------------------------------------- cancel
def test_staff_cancel_an_unstarted_assignment_audited(world: World) -> None:
    """Given an assignment no one started, when staff cancel it, then it is gone and audited."""
    assignment = _assign(world)
    assignments.assignment_cancel(organisation=world.organisation, actor=world.staff, assignment_id=assignment.pk)
    assert not InterviewAssignment.objects.exists()
    audit = AuditEvent.objects.get(action="interviews.assignment_cancelled")
    assert (audit.actor, audit.target_id) == (world.staff, str(assignment.pk))


def test_a_started_assignment_cannot_be_cancelled(world: World) -> None:
    """Given an assignment with a started session, when staff cancel it, then `started`, and the
    assignment and its session stay."""
    template = timed_template(world, minutes=10)
    assignment = _assign(world, template_id=template.pk)
    with time_machine.travel(OPENS + timedelta(minutes=1), tick=False):
        session = _start(world, assignment)
    with pytest.raises(Refusal) as refusal:
        assignments.assignment_cancel(organisation=world.organisation, actor=world.staff, assignment_id=assignment.pk)
    assert refusal.value.code == "started"
    assert InterviewSession.objects.get(pk=session.pk).assignment_id == assignment.pk
    assert not AuditEvent.objects.filter(action="interviews.assignment_cancelled").exists()


def test_another_organisations_assignment_cannot_be_cancelled(world: World) -> None:
    """Given an assignment of this organisation, when the other organisation's staff cancel its id
    (or a missing one), then 404 both, and it stays."""
    assignment = _assign(world)
    for assignment_id in (assignment.pk, 10**9):
        with pytest.raises(Http404):
            assignments.assignment_cancel(
                organisation=world.other, actor=world.other_staff, assignment_id=assignment_id
            )
    assert InterviewAssignment.objects.filter(pk=assignment.pk).exists()


# ---------------------------------------------------------------- who sees what
def test_candidates_see_only_their_own_and_staff_see_the_organisations(world: World) -> None:
    """Given two candidates' assignments here and one in the other organisation, then each
    candidate lists only their own, staff list this organisation's two, and a candidate's lookup of
    another's id is a 404 like a missing one."""
    second = MembershipFactory.create(organisation=world.organisation, role=Role.CANDIDATE).user
    mine = _assign(world)
    theirs = _assign(world, candidate_id=second.pk)
    foreign_candidate = MembershipFactory.create(organisation=world.other, role=Role.CANDIDATE).user
    foreign = _assign(
        world,
        organisation=world.other,
        actor=world.other_staff,
        template_id=world.foreign.pk,
        candidate_id=foreign_candidate.pk,
    )

    assert [a.pk for a in assignments.assignment_list_for_candidate(world.candidate, world.organisation)] == [mine.pk]
    assert [a.pk for a in assignments.assignment_list_for_candidate(second, world.organisation)] == [theirs.pk]
    staff = {a.pk for a in assignments.assignment_list_for_staff(user=world.staff, organisation=world.organisation)}
    assert staff == {mine.pk, theirs.pk}
    for hidden in (theirs.pk, foreign.pk, 10**9):
        with pytest.raises(Http404):
            assignments.assignment_get_for_user(
                user=world.candidate, organisation=world.organisation, assignment_id=hidden
            )
    with pytest.raises(Refusal) as refusal:
        assignments.assignment_list_for_staff(user=world.candidate, organisation=world.organisation)
    assert refusal.value.code == "not_allowed"


def test_the_calendar_is_stable_utc_and_names_the_template(world: World) -> None:
    """Given an assignment, then its .ics has one event with a UID that does not change between
    downloads, the window in UTC, the template's title and the assignment page's address."""
    assignment = _assign(world)
    first = assignments.assignment_calendar(assignment=assignment)
    again = assignments.assignment_calendar(assignment=InterviewAssignment.objects.get(pk=assignment.pk))
    event, event_again = _ics(first), _ics(again)
    assert event["UID"] == event_again["UID"] == f"assignment-{assignment.pk}@{django_settings.SITE_DOMAIN}"
    assert (event.start, event.end) == (OPENS, CLOSES)
    assert "DTSTART:20260302T100000Z" in first.replace("\r\n", "\n")
    assert str(event["SUMMARY"]) == "Interview assessment: Our screen"


# ---------------------------------------------------------------- accommodations
def test_an_accommodation_applies_to_the_next_sessions_deadline_and_is_audited(world: World) -> None:
    """Given staff set +50% for the candidate, when the candidate starts a 10-minute interview, then
    its deadline is 15 minutes away, and the audit row holds the old and new values."""
    template = timed_template(world, minutes=10)
    assignments.accommodation_set(
        organisation=world.organisation,
        actor=world.staff,
        user_id=world.candidate.pk,
        extra_time_percent=50,
        reason="Dyslexia",
    )
    with time_machine.travel(T0, tick=False):
        session, _ = services.interview_session_start(
            user=world.candidate, organisation=world.organisation, template_id=template.pk
        )
    assert session.deadline == T0 + timedelta(minutes=15)
    audit = AuditEvent.objects.get(action="interviews.accommodation_set")
    assert audit.details == {"user": world.candidate.pk, "from": 0, "to": 50, "reason": "Dyslexia"}
    assert audit.target_id == str(world.candidate.pk)


def test_changing_and_removing_an_accommodation_is_audited_each_time(world: World) -> None:
    """Given +50%, when staff change it to +25% then to 0, then the row follows (and goes), and two
    more audit rows say from what to what; setting the same again writes nothing."""
    set_ = assignments.accommodation_set
    kwargs: dict[str, Any] = {"organisation": world.organisation, "actor": world.staff, "user_id": world.candidate.pk}
    set_(**kwargs, extra_time_percent=50, reason="")
    set_(**kwargs, extra_time_percent=50, reason="")
    changed = set_(**kwargs, extra_time_percent=25, reason="")
    assert changed is not None
    assert changed.extra_time_percent == 25
    assert set_(**kwargs, extra_time_percent=0, reason="") is None
    assert not Accommodation.objects.exists()
    trail = [
        (event.details["from"], event.details["to"])
        for event in AuditEvent.objects.filter(action="interviews.accommodation_set").order_by("pk")
    ]
    assert trail == [(0, 50), (50, 25), (25, 0)]


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"extra_time_percent": 201}, "extra_time_percent", "invalid"),
        ({"extra_time_percent": -1}, "extra_time_percent", "invalid"),
        ({"reason": "x" * 201}, "reason", "invalid"),
        ({"reason": "bad\x00text"}, "reason", "invalid"),
        ({"user_id": "foreign"}, "user_id", "not_found"),
        ({"user_id": 10**9}, "user_id", "not_found"),
    ],
)
def test_bad_accommodations_are_refused_and_change_nothing(
    world: World, changes: dict[str, Any], field: str, code: str
) -> None:
    """Given a percentage outside 0..200, an over-long or unstorable reason, or someone outside the
    organisation, then a refusal at the field, and nothing is written."""
    values: dict[str, Any] = {
        "organisation": world.organisation,
        "actor": world.staff,
        "user_id": world.candidate.pk,
        "extra_time_percent": 50,
        "reason": "",
    }
    values.update(changes)
    if values["user_id"] == "foreign":
        values["user_id"] = world.other_staff.pk
    with pytest.raises(Refusal) as refusal:
        assignments.accommodation_set(**values)
    assert (refusal.value.code, list(refusal.value.field_errors())) == (code, [field])
    assert not Accommodation.objects.exists()
    assert not AuditEvent.objects.filter(action="interviews.accommodation_set").exists()


def test_only_staff_set_accommodations(world: World) -> None:
    """Given a mentor, when they set an accommodation, then `not_allowed` and nothing changes."""
    with pytest.raises(Refusal) as refusal:
        assignments.accommodation_set(
            organisation=world.organisation, actor=world.mentor, user_id=world.candidate.pk, extra_time_percent=50
        )
    assert refusal.value.code == "not_allowed"
    assert not Accommodation.objects.exists()


def test_an_existing_account_outside_the_organisation_is_invited(world: World) -> None:
    """Given an account that is not a member here, when staff assign by its address, then it is
    invited (it accepts signed in), not made a member on the spot."""
    outsider = UserFactory.create(email="outsider@example.test")
    assignment = _assign(world, candidate_id=None, email=outsider.email)
    assert (assignment.candidate, assignment.invited_email) == (None, outsider.email)
    assert Invitation.objects.filter(email=outsider.email).exists()
