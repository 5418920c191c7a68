"""The demo seed is idempotent, gives every role a working login, and keeps organisation staff
(/manage/) apart from the platform operator (/admin/)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from domains.accounts.models import Membership, Organisation, Role, User
from domains.compliance.models import AuditEvent, Consent, PolicyDocument
from domains.demo.logins import DEMO_ORGANISATION_SLUG, DEMO_PASSWORD, DEMO_USERS, demo_email, demo_logins
from domains.lounges.models import Lounge, LoungeMembership
from domains.notes.models import Note, NoteChunk
from domains.notes.retrieval import passages_for_learner, passages_for_lounge
from realtime.models import StreamEvent

pytestmark = pytest.mark.django_db


def test_seed_twice_changes_nothing_the_second_time() -> None:
    call_command("seed_demo")
    counts = [
        m.objects.count() for m in (Organisation, User, Membership, PolicyDocument, Consent, Lounge, LoungeMembership)
    ]
    call_command("seed_demo")
    assert [
        m.objects.count() for m in (Organisation, User, Membership, PolicyDocument, Consent, Lounge, LoungeMembership)
    ] == counts
    assert counts[1] == len(DEMO_USERS) + 1  # and the operator


def _lounge_rows() -> list[tuple[str, str, str]]:
    return sorted(LoungeMembership.objects.values_list("lounge__slug", "user__email", "role"))


def test_a_second_run_creates_no_lounge_or_membership() -> None:
    """The first run creates the three lounges through the lounge services (the mentor owns them,
    the learner and the candidate join the open ones, staff@ moderates the members-only one); a
    second run adds no lounge, membership, audit row or lounge event."""
    call_command("seed_demo")
    lounges = sorted(Lounge.objects.values_list("slug", "access", "created_by__email"))
    memberships = _lounge_rows()
    audits, events = AuditEvent.objects.count(), StreamEvent.objects.count()

    call_command("seed_demo")

    mentor, learner, candidate, staff = (demo_email(role) for role in ("mentor", "learner", "candidate", "staff"))
    assert lounges == [
        ("interview-prep", "open", mentor),
        ("mentors-corner", "members", mentor),
        ("study-hall", "open", mentor),
    ]
    assert memberships == sorted(
        [
            *[(slug, email, "member") for slug in ("interview-prep", "study-hall") for email in (learner, candidate)],
            *[(slug, mentor, "owner") for slug in ("interview-prep", "mentors-corner", "study-hall")],
            ("mentors-corner", staff, "moderator"),
        ]
    )
    assert sorted(Lounge.objects.values_list("slug", "access", "created_by__email")) == lounges
    assert _lounge_rows() == memberships
    assert (AuditEvent.objects.count(), StreamEvent.objects.count()) == (audits, events)


@pytest.mark.parametrize(("role", "name"), DEMO_USERS)
def test_every_demo_login_reaches_its_dashboard(role: str, name: str) -> None:
    call_command("seed_demo")
    client = Client()
    response = client.post("/accounts/login/", {"login": demo_email(role), "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert f'data-role-panel="{role}"'.encode() in page.content


def _signed_in(email: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    return client


def test_demo_staff_is_an_ordinary_staff_member_of_the_organisation() -> None:
    """staff@ holds the staff role and runs /manage/, but is no Django staff or superuser: /admin/ is refused."""
    call_command("seed_demo")
    staff = User.objects.get(email=demo_email("staff"))
    client = _signed_in(staff.email)

    assert (staff.is_staff, staff.is_superuser) == (False, False)
    assert list(staff.memberships.values_list("role", flat=True)) == [Role.STAFF]
    assert client.get("/manage/").status_code == 200
    assert client.get("/admin/", follow=True).status_code == 403


def test_the_seed_demotes_a_staff_member_an_older_seed_made_superuser() -> None:
    """Databases seeded before the operator existed had staff@ as a superuser; seeding again
    takes that back, and a third run changes nothing."""
    call_command("seed_demo")
    User.objects.filter(email=demo_email("staff")).update(is_staff=True, is_superuser=True)

    call_command("seed_demo")
    call_command("seed_demo")

    staff = User.objects.get(email=demo_email("staff"))
    assert (staff.is_staff, staff.is_superuser) == (False, False)


def test_the_seed_creates_one_platform_operator_in_no_organisation() -> None:
    """operator@ is a superuser who belongs to no organisation; it runs /admin/, and `make run`
    prints it as the operator (staff@ as the organisation admin)."""
    call_command("seed_demo")
    call_command("seed_demo")
    operators = User.objects.filter(is_superuser=True)
    client = _signed_in(demo_email("operator"))

    assert [user.email for user in operators] == [demo_email("operator")]
    assert not operators[0].memberships.exists()
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/lounges/message/").status_code == 200
    notes = {email: note for _, email, note in demo_logins()}
    assert "/admin/" in notes[demo_email("operator")]
    assert "operator" in notes[demo_email("operator")]
    assert "/manage/" in notes[demo_email("staff")]


def test_make_run_prints_the_operator_and_staff_logins() -> None:
    from project.run import _banner

    banner = _banner(8000)

    staff_line = next(line for line in banner.splitlines() if demo_email("staff") in line)
    operator_line = next(line for line in banner.splitlines() if demo_email("operator") in line)
    assert "/manage/" in staff_line
    assert "/admin/" not in staff_line
    assert "/admin/" in operator_line
    assert "operator" in operator_line


def test_the_seed_writes_notes_for_the_coach_once(django_capture_on_commit_callbacks: Any) -> None:
    """The learner gets private notes and the mentor shares two with interview-prep, through the
    notes service (embedded after commit); a second run adds no note, audit row or embedding, and
    the coach finds them for a question they answer."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    notes = sorted(Note.objects.values_list("owner__email", "title", "visibility", "lounge__slug"))
    chunks, audits = NoteChunk.objects.count(), AuditEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")

    learner, mentor = demo_email("learner"), demo_email("mentor")
    assert notes == sorted(
        [
            (learner, "My interview stories", "private", None),
            (learner, "STAR method", "private", None),
            (learner, "Study plan", "private", None),
            (mentor, "Questions to ask the interviewer", "lounge", "interview-prep"),
            (mentor, "Salary negotiation", "lounge", "interview-prep"),
        ]
    )
    assert sorted(Note.objects.values_list("owner__email", "title", "visibility", "lounge__slug")) == notes
    assert (NoteChunk.objects.count(), AuditEvent.objects.count()) == (chunks, audits)
    assert chunks >= len(notes)

    organisation = Organisation.objects.get(slug=DEMO_ORGANISATION_SLUG)
    asked = passages_for_learner(
        organisation=organisation, user=User.objects.get(email=learner), query="How do I structure a STAR answer?"
    )
    assert [p.title for p in asked][:1] == ["STAR method"]
    lounge = Lounge.objects.get(slug="interview-prep")
    assert [p.title for p in passages_for_lounge(lounge=lounge, query="How should I negotiate my salary?")][:1] == [
        "Salary negotiation"
    ]
    assert passages_for_lounge(lounge=lounge, query="zzzqqq") == []


def test_the_learner_starts_with_one_real_mention_from_the_mentor() -> None:
    """The demo shows notifications from the first visit: the mentor's welcome post mentions the
    learner by name (through message_post, so the notice is the real one), once, however many runs."""
    from domains.lounges.models import Message
    from domains.notifications.models import Notification

    call_command("seed_demo")
    call_command("seed_demo")
    learner = User.objects.get(email=demo_email("learner"))
    (notice,) = Notification.objects.filter(user=learner)
    welcome = Message.objects.get(client_msg_id="demo-welcome")
    assert (notice.kind, notice.link) == ("lounge.mention", f"/lounges/interview-prep/#msg-{welcome.pk}")
    assert f"@{learner.public_name}" in welcome.body


def test_the_demo_has_waiting_invitations_sent_once() -> None:
    """Staff invited a mentor and the mentor a candidate, each mailed a working link; a second run
    sends nothing more (and a withdrawn one is not sent again)."""
    from domains.invitations.models import Invitation, InvitationStatus
    from domains.mail.models import OutboundEmail

    call_command("seed_demo")
    invitations = sorted(Invitation.objects.values_list("email", "role", "status", "invited_by__email"))
    assert invitations == [
        (demo_email("new.candidate"), "candidate", InvitationStatus.PENDING, demo_email("mentor")),
        (demo_email("new.mentor"), "mentor", InvitationStatus.PENDING, demo_email("staff")),
    ]
    mails = OutboundEmail.objects.filter(tag="invitation").count()
    assert mails == 2
    Invitation.objects.filter(email=demo_email("new.mentor")).update(status=InvitationStatus.REVOKED)
    call_command("seed_demo")
    assert Invitation.objects.count() == 2
    assert OutboundEmail.objects.filter(tag="invitation").count() == mails


def test_the_demo_has_the_interview_catalogue_and_a_review_queue_and_a_second_run_adds_none() -> None:
    """The seed writes the public interview catalogue (at least 5 templates and 30 questions), one
    template of the demo organisation's own and two offline drafts waiting for staff review; a
    second run adds no template, question or draft."""
    from domains.interviews.models import InterviewTemplate, Question, QuestionDraft

    call_command("seed_demo")
    counts = [m.objects.count() for m in (InterviewTemplate, Question, QuestionDraft)]
    call_command("seed_demo")

    assert [m.objects.count() for m in (InterviewTemplate, Question, QuestionDraft)] == counts
    assert InterviewTemplate.objects.filter(organisation=None).count() >= 5
    assert Question.objects.filter(template__organisation=None).count() >= 30
    own = InterviewTemplate.objects.get(organisation__slug=DEMO_ORGANISATION_SLUG)
    assert own.created_by is not None
    assert own.created_by.email == demo_email("staff")
    assert list(QuestionDraft.objects.filter(template=own).values_list("status", "provider")) == [
        ("draft", "offline"),
        ("draft", "offline"),
    ]


def test_the_demo_candidate_has_one_open_assessment_and_a_template_with_follow_ups() -> None:
    """The seed assigns candidate@ an assessment on a public template (staff@ through the service:
    audited, the candidate notified), open now for 14 days, 2 attempts, reviewed by mentor@; a
    second run adds none. "My assignments" shows it with a Start button, and a template candidate@
    can practise (the demo organisation's own) offers the AI interviewer's follow-ups."""
    from datetime import timedelta

    from django.utils import timezone

    from domains.interviews.assignments import AssignmentState, assignment_state
    from domains.interviews.models import InterviewAssignment, InterviewTemplate
    from domains.notifications.models import Notification

    before = timezone.now()
    call_command("seed_demo")
    call_command("seed_demo")
    after = timezone.now()

    assignment = InterviewAssignment.objects.select_related("template", "candidate", "reviewer", "created_by").get()
    assert assignment.template.organisation_id is None
    assert assignment.template.slug == "python-backend-junior"
    assert assignment.candidate is not None
    assert assignment.candidate.email == demo_email("candidate")
    assert assignment.reviewer is not None
    assert assignment.reviewer.email == demo_email("mentor")
    assert assignment.created_by is not None
    assert assignment.created_by.email == demo_email("staff")
    assert assignment.organisation.slug == DEMO_ORGANISATION_SLUG
    assert before <= assignment.opens_at <= after
    assert assignment.closes_at - assignment.opens_at == timedelta(days=14)
    assert assignment.attempts_allowed == 2
    assert assignment_state(assignment) == AssignmentState.OPEN
    assert AuditEvent.objects.filter(action="interviews.assignment_created").count() == 1
    assert Notification.objects.filter(user=assignment.candidate, kind="interviews.assigned").count() == 1

    page = _signed_in(demo_email("candidate")).get("/interviews/assignments/")
    assert page.status_code == 200
    html = page.content.decode()
    assert assignment.template.title in html
    assert f'name="assignment_id" value="{assignment.pk}"' in html

    assert InterviewTemplate.objects.filter(
        organisation__slug=DEMO_ORGANISATION_SLUG, slug="demo-onboarding-screen", follow_ups=True
    ).exists()


def test_a_closed_demo_assessment_is_replaced_and_follow_ups_are_switched_back_on() -> None:
    """An older demo whose assessment has closed gets a fresh open one on the next run (the closed
    one stays, with its history); a demo where no template the candidate can practise offers
    follow-ups gets them on its own template again."""
    from datetime import timedelta

    from django.utils import timezone

    from domains.interviews.assignments import AssignmentState, assignment_state
    from domains.interviews.models import InterviewAssignment, InterviewTemplate

    call_command("seed_demo")
    old = InterviewAssignment.objects.get()
    InterviewAssignment.objects.filter(pk=old.pk).update(
        opens_at=timezone.now() - timedelta(days=20), closes_at=timezone.now() - timedelta(days=6)
    )
    InterviewTemplate.objects.update(follow_ups=False)

    call_command("seed_demo")

    fresh = InterviewAssignment.objects.exclude(pk=old.pk).get()
    assert assignment_state(fresh) == AssignmentState.OPEN
    assert InterviewAssignment.objects.count() == 2
    assert list(InterviewTemplate.objects.filter(follow_ups=True).values_list("slug", flat=True)) == [
        "demo-onboarding-screen"
    ]
