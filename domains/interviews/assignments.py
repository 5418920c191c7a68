"""Assessments (`InterviewAssignment`) and accommodations: the writes and reads that create and show
them (docs/interviews.md, "Assessments" and "Accommodations").

- `assignment_create`: the organisation's **staff** assign a template (public, or the
  organisation's own) to a candidate within a window, with a number of attempts and, optionally, a
  reviewer (a mentor or staff member). The candidate is a member holding the candidate role, or an
  email address: an address of such a member is that member; any other address gets an invitation
  (domains/invitations) carrying the assignment, whose mail has an `.ics` event for the window.
  While an invitation to the address waits, a new one is refused (`pending`): assign again once the
  person has joined. Audited `interviews.assignment_created`; a member is notified.
- `assignment_cancel`: staff delete an assignment no session was started for (`started`
  otherwise: the attempts and their reports stay whole). A waiting invitation that carries it is
  left as it is (revoke it on the invitations page); on acceptance the missing assignment is
  skipped with a log line. Audited `interviews.assignment_cancelled`.
- `accommodation_set`: staff set a member's standing extra-time percentage (0 removes it), audited
  `interviews.accommodation_set` with the old and new values; it applies to sessions started
  afterwards (a running session keeps its deadline).
- Selectors: the candidate's own assignments (`assignment_list_for_candidate`), the organisation's
  for staff (`assignment_list_for_staff`), one (`assignment_get_for_user`), their state on the
  server's clock (`assignment_state`), the `.ics` (`assignment_calendar`), the accommodations.

Every lookup is scoped by the organisation bound to the session: another organisation's template,
member or assignment answers like a missing one (404, or a `not_found` refusal at the field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from domains.accounts.models import Organisation, Role, User
from domains.accounts.selectors import roles_for_user
from domains.common.errors import Refusal
from domains.common.limits import hourly_allowance_take
from domains.common.validation import is_storable
from domains.compliance.services import audit_record
from domains.interviews import content
from domains.interviews.models import Accommodation, InterviewAssignment, InterviewSession, Question, SessionState
from domains.interviews.notices import notice_assigned
from domains.invitations.assignments import MailAttachment, assignment_kind
from domains.invitations.services import invitation_create
from domains.mail.services import site_url

log = structlog.get_logger(__name__)

KIND = "interviews.assignment"
ATTEMPTS_MIN, ATTEMPTS_MAX = 1, 10  # the model's check constraint
PERCENT_MIN, PERCENT_MAX = 0, 200  # the model's check constraint
REASON_MAX = 200
EMAIL_MAX = 254
PRODID = "-//Coachwire//Interview assessments//EN"


class AssignmentError(Refusal):
    """A refused assignment or accommodation write."""


class AssignmentState:
    """Where an assignment stands on the server's clock (not stored: derived on every read)."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"
    USED_UP = "used_up"

    LABELS: dict[str, Any] = {
        UPCOMING: gettext_lazy("Upcoming"),
        OPEN: gettext_lazy("Open"),
        CLOSED: gettext_lazy("Closed"),
        USED_UP: gettext_lazy("Attempts used up"),
    }
    VALUES = (UPCOMING, OPEN, CLOSED, USED_UP)


# ---------------------------------------------------------------- who
def is_interview_staff(*, user: User, organisation: Organisation | None) -> bool:
    """Staff of `organisation` create and cancel assignments and set accommodations (read on every call)."""
    return Role.STAFF in roles_for_user(user=user, organisation=organisation)


def _require_staff(*, user: User, organisation: Organisation) -> None:
    if not is_interview_staff(user=user, organisation=organisation):
        raise AssignmentError(
            "not_allowed", gettext("Only the organisation's staff manage assessments and accommodations.")
        )


def _member(*, organisation: Organisation, user_id: Any, roles: set[str], field: str, wrong_role: str) -> User:
    """A member of `organisation` holding one of `roles`. Not a member (another organisation's
    person, or no one): `not_found` at `field`; a member without the role: `invalid` at `field`."""
    person = None
    if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id >= 1:
        person = User.objects.filter(pk=user_id, memberships__organisation=organisation).distinct().first()
    if person is None:
        raise AssignmentError("not_found", gettext("No such member."), field=field)
    if not roles & roles_for_user(user=person, organisation=organisation):
        raise AssignmentError("invalid", wrong_role, field=field)
    return person


# ---------------------------------------------------------------- create
def _window_errors(*, opens_at: Any, closes_at: Any, attempts_allowed: Any, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    aware = {}
    for name, value in (("opens_at", opens_at), ("closes_at", closes_at)):
        if not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = gettext("Give a date and time with its time zone.")
        else:
            aware[name] = value
    if len(aware) == 2:
        ahead = timedelta(days=int(settings.INTERVIEWS_ASSIGNMENT_AHEAD_MAX_DAYS))
        longest = timedelta(days=int(settings.INTERVIEWS_ASSIGNMENT_WINDOW_MAX_DAYS))
        if closes_at <= opens_at:
            errors["closes_at"] = gettext("The window must close after it opens.")
        elif closes_at <= now:
            errors["closes_at"] = gettext("The window must close in the future.")
        elif closes_at > now + ahead:
            errors["closes_at"] = gettext("The window must close within %(days)d days from now.") % {"days": ahead.days}
        elif closes_at - opens_at > longest:
            errors["opens_at"] = gettext("A window may last at most %(days)d days.") % {"days": longest.days}
    if (
        not isinstance(attempts_allowed, int)
        or isinstance(attempts_allowed, bool)
        or not ATTEMPTS_MIN <= attempts_allowed <= ATTEMPTS_MAX
    ):
        errors["attempts_allowed"] = gettext("Allow from %(min)d to %(max)d attempts.") % {
            "min": ATTEMPTS_MIN,
            "max": ATTEMPTS_MAX,
        }
    return errors


def _normalised_email(email: str) -> str:
    address = email.strip().lower()
    try:
        if len(address) > EMAIL_MAX:
            raise ValidationError("too long")
        validate_email(address)
    except ValidationError:
        raise AssignmentError("invalid", gettext("Enter a valid email address."), field="email") from None
    return address


def _check_rate(*, actor: User) -> None:
    hourly_allowance_take(
        key=f"interviews:assign:{actor.pk}",
        per_hour=float(settings.INTERVIEWS_ASSIGNMENTS_PER_HOUR),
        message=gettext("You have created many assessments in the last hour; please try again later."),
        refusal=AssignmentError,
    )


def _resolve_candidate(*, organisation: Organisation, candidate_id: int | None, email: str) -> tuple[User | None, str]:
    """(the member, "") for a candidate id or a member's address; (None, the address) to invite."""
    not_candidate = gettext("This member does not hold the candidate role: give it on the members page first.")
    if candidate_id is not None:
        member = _member(
            organisation=organisation,
            user_id=candidate_id,
            roles={Role.CANDIDATE},
            field="candidate_id",
            wrong_role=not_candidate,
        )
        return member, ""
    invited = _normalised_email(email)
    found = User.objects.filter(email__iexact=invited, memberships__organisation=organisation).distinct().first()
    if found is None:
        return None, invited
    if Role.CANDIDATE not in roles_for_user(user=found, organisation=organisation):
        raise AssignmentError("invalid", not_candidate, field="email")
    return found, ""


def _invite(
    *,
    organisation: Organisation,
    actor: User,
    address: str,
    assignment: InterviewAssignment,
    request: HttpRequest | None,
) -> int:
    """Invite `address` as a candidate, the invitation carrying the assignment; its id."""
    try:
        invitation = invitation_create(
            organisation=organisation,
            inviter=actor,
            email=address,
            role=Role.CANDIDATE,
            pending=[{"kind": KIND, "data": {"assignment_id": assignment.pk}}],
            request=request,
        )
    except Refusal as refusal:
        if refusal.code == "pending":
            raise AssignmentError(
                "pending",
                gettext(
                    "An invitation to this address is already waiting: assign the assessment once they "
                    "have joined, or revoke that invitation and assign again."
                ),
                field="email",
            ) from None
        raise
    return invitation.pk


@transaction.atomic
def assignment_create(
    *,
    organisation: Organisation,
    actor: User,
    template_id: int,
    opens_at: datetime,
    closes_at: datetime,
    attempts_allowed: int,
    reviewer_id: int | None = None,
    candidate_id: int | None = None,
    email: str = "",
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> InterviewAssignment:
    """Assign a template to a candidate (a member with the candidate role, by id or by address) or
    invite an address with the assignment (see the module docstring). Refused, changing nothing:
    not staff (`not_allowed`); a template, candidate or reviewer outside the organisation
    (`not_found` at `template_id` / `candidate_id` / `reviewer_id`); a window that does not close
    after it opens, has closed, closes more than INTERVIEWS_ASSIGNMENT_AHEAD_MAX_DAYS ahead or
    lasts more than INTERVIEWS_ASSIGNMENT_WINDOW_MAX_DAYS; attempts outside 1..10; neither or both
    of candidate and email; a member without the candidate role; an invitation already waiting
    for the address (`pending`); too many in an hour (`rate_limited`)."""
    moment = now if now is not None else timezone.now()
    _require_staff(user=actor, organisation=organisation)
    template = (
        content.template_list_for_user(user=actor, organisation=organisation).filter(pk=template_id).first()
        if isinstance(template_id, int) and not isinstance(template_id, bool)
        else None
    )
    if template is None:
        raise AssignmentError("not_found", gettext("No such interview template."), field="template_id")
    errors = _window_errors(opens_at=opens_at, closes_at=closes_at, attempts_allowed=attempts_allowed, now=moment)
    address = (email or "").strip()
    if candidate_id is None and not address:
        errors["candidate_id"] = gettext("Choose a candidate, or give an email address to invite.")
    elif candidate_id is not None and address:
        errors["email"] = gettext("Choose a candidate or give an email address, not both.")
    if errors:
        raise AssignmentError("invalid", gettext("Some fields are invalid."), fields=errors)
    if not Question.objects.filter(template_id=template.pk).exists():
        raise AssignmentError("invalid", gettext("This template has no questions yet."), field="template_id")
    reviewer = None
    if reviewer_id is not None:
        reviewer = _member(
            organisation=organisation,
            user_id=reviewer_id,
            roles={Role.MENTOR, Role.STAFF},
            field="reviewer_id",
            wrong_role=gettext("The reviewer must be a mentor or staff member."),
        )
    candidate, invited = _resolve_candidate(organisation=organisation, candidate_id=candidate_id, email=address)
    _check_rate(actor=actor)
    assignment = InterviewAssignment.objects.create(
        organisation=organisation,
        template=template,
        candidate=candidate,
        invited_email=invited,
        reviewer=reviewer,
        opens_at=opens_at,
        closes_at=closes_at,
        attempts_allowed=attempts_allowed,
        created_by=actor,
    )
    invitation_id = None
    if candidate is None:
        invitation_id = _invite(
            organisation=organisation, actor=actor, address=invited, assignment=assignment, request=request
        )
    audit_record(
        actor=actor,
        organisation=organisation,
        action="interviews.assignment_created",
        target=assignment,
        details={
            "template": template.pk,
            "candidate": candidate.pk if candidate is not None else None,
            "invited_email": invited,
            "invitation": invitation_id,
            "reviewer": reviewer.pk if reviewer is not None else None,
            "opens_at": opens_at.isoformat(),
            "closes_at": closes_at.isoformat(),
            "attempts_allowed": attempts_allowed,
        },
        request=request,
    )
    if candidate is not None:
        notice_assigned(assignment=assignment, candidate=candidate)
    log.info("interviews.assignment_created", assignment=assignment.pk, invited=candidate is None)
    return assignment


@transaction.atomic
def assignment_cancel(
    *, organisation: Organisation, actor: User, assignment_id: int, request: HttpRequest | None = None
) -> None:
    """Delete an assignment of the organisation no session was started for (staff; locks the row).
    Refused: not staff (`not_allowed`), a session exists (`started`); another organisation's or a
    missing one is a 404."""
    _require_staff(user=actor, organisation=organisation)
    assignment = (
        InterviewAssignment.objects.select_for_update().filter(pk=assignment_id, organisation=organisation).first()
    )
    if assignment is None:
        raise Http404("No such assignment.")
    if InterviewSession.objects.filter(assignment=assignment).exists():
        raise AssignmentError(
            "started",
            gettext("A session of this assessment was started: it cannot be cancelled (its reports are kept)."),
        )
    audit_record(
        actor=actor,
        organisation=organisation,
        action="interviews.assignment_cancelled",
        target=assignment,
        details={
            "template": assignment.template_id,
            "candidate": assignment.candidate_id,
            "invited_email": assignment.invited_email,
        },
        request=request,
    )
    assignment.delete()


# ---------------------------------------------------------------- the invitation kind
def _activate(*, user: User, organisation: Organisation, invitation: Any, data: dict[str, Any]) -> None:
    """The invitee accepted: the assignment is theirs. One cancelled (gone), or already someone
    else's, is skipped with a log line; the acceptance goes on."""
    assignment_id = data.get("assignment_id")
    assignment = (
        InterviewAssignment.objects.select_for_update().filter(pk=assignment_id, organisation=organisation).first()
        if isinstance(assignment_id, int)
        else None
    )
    if assignment is None or (assignment.candidate_id is not None and assignment.candidate_id != user.pk):
        log.info("interviews.assignment_skipped", invitation=invitation.pk, assignment=assignment_id)
        return
    assignment.candidate = user
    assignment.invited_email = ""
    assignment.save(update_fields=["candidate", "invited_email", "updated_at"])
    log.info("interviews.assignment_activated", assignment=assignment.pk, candidate=user.pk)


def _invitation_files(*, invitation: Any, data: dict[str, Any]) -> list[MailAttachment]:
    """The invitation mail carries the assessment's window as an `.ics` event (none if it is gone)."""
    assignment_id = data.get("assignment_id")
    if not isinstance(assignment_id, int):
        return []
    assignment = (
        InterviewAssignment.objects.select_related("template", "organisation")
        .filter(pk=assignment_id, organisation_id=invitation.organisation_id)
        .first()
    )
    if assignment is None:
        return []
    return [(calendar_filename(assignment), assignment_calendar(assignment=assignment), "text/calendar")]


ASSIGNMENT_KIND = assignment_kind(KIND, _activate, _invitation_files)


# ---------------------------------------------------------------- the calendar
def calendar_filename(assignment: InterviewAssignment) -> str:
    return f"assessment-{assignment.pk}.ics"


def assignment_page_url(assignment: InterviewAssignment) -> str:
    """The candidate's "My assignments" page, at this assignment (absolute, for mail and calendars)."""
    return site_url(f"{reverse('interviews:assignments')}#assignment-{assignment.pk}")


def assignment_calendar(*, assignment: InterviewAssignment) -> str:
    """One VEVENT for the window: UID `assignment-<id>@<SITE_DOMAIN>` (stable, so a calendar
    updates rather than duplicates it), DTSTART/DTEND the window in UTC, SUMMARY with the
    template's title, URL the assignment's page. Nothing in it signs anyone in."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    # icalendar writes an aware datetime of another zone with a TZID and no VTIMEZONE: give it UTC.
    utc = ZoneInfo("UTC")
    event.add("uid", f"assignment-{assignment.pk}@{settings.SITE_DOMAIN}")
    event.add("dtstamp", assignment.updated_at.astimezone(utc))
    event.add("dtstart", assignment.opens_at.astimezone(utc))
    event.add("dtend", assignment.closes_at.astimezone(utc))
    event.add(
        "summary",
        gettext("Interview assessment: %(title)s") % {"title": assignment.template.title},
    )
    event.add(
        "description",
        gettext(
            "Take the interview “%(title)s” for %(organisation)s at any time in this window "
            "(%(minutes)d minutes once you start; %(attempts)d attempt(s) allowed). %(url)s"
        )
        % {
            "title": assignment.template.title,
            "organisation": assignment.organisation.name,
            "minutes": assignment.template.duration_minutes,
            "attempts": assignment.attempts_allowed,
            "url": assignment_page_url(assignment),
        },
    )
    event.add("url", assignment_page_url(assignment))
    calendar.add_component(event)
    return calendar.to_ical().decode()


# ---------------------------------------------------------------- reads
def _annotated(rows: QuerySet[InterviewAssignment], *, with_sessions: bool = False) -> QuerySet[InterviewAssignment]:
    """Each row with `attempts_used` (its finished sessions, as the start counts them) and
    `running_session_id` (its session in progress, if any)."""
    running = InterviewSession.objects.filter(assignment=OuterRef("pk"), state=SessionState.IN_PROGRESS)
    rows = rows.select_related("template", "candidate", "reviewer").annotate(
        attempts_used=Count("sessions", filter=~Q(sessions__state=SessionState.IN_PROGRESS)),
        running_session_id=Subquery(running.values("pk")[:1]),
    )
    if with_sessions:
        finished = InterviewSession.objects.exclude(state=SessionState.IN_PROGRESS).order_by("started_at", "id")
        rows = rows.prefetch_related(Prefetch("sessions", queryset=finished, to_attr="finished_sessions"))
    return rows.order_by("-opens_at", "-id")


def assignment_list_for_candidate(
    user: User, organisation: Organisation | None, *, with_sessions: bool = False
) -> QuerySet[InterviewAssignment]:
    """The person's own assignments in `organisation`, newest window first, annotated (see
    `_annotated`; `assignment_state` gives each one's state). Nobody else's, ever."""
    if organisation is None or not user.is_authenticated:
        return InterviewAssignment.objects.none()
    rows = InterviewAssignment.objects.filter(organisation=organisation, candidate_id=user.pk)
    return _annotated(rows, with_sessions=with_sessions)


def assignment_list_for_staff(*, user: User, organisation: Organisation) -> QuerySet[InterviewAssignment]:
    """Every assignment of the organisation, for its staff (`not_allowed` otherwise), annotated."""
    _require_staff(user=user, organisation=organisation)
    return _annotated(InterviewAssignment.objects.filter(organisation=organisation))


def assignment_list_for_user(*, user: User, organisation: Organisation | None) -> QuerySet[InterviewAssignment]:
    """Staff: the organisation's; anyone else: their own (as candidate)."""
    if organisation is not None and is_interview_staff(user=user, organisation=organisation):
        return assignment_list_for_staff(user=user, organisation=organisation)
    return assignment_list_for_candidate(user, organisation)


def assignment_get_for_user(
    *, user: User, organisation: Organisation | None, assignment_id: int
) -> InterviewAssignment:
    """One assignment: staff see the organisation's, anyone else only their own; else 404."""
    row = assignment_list_for_user(user=user, organisation=organisation).filter(pk=assignment_id).first()
    if row is None:
        raise Http404("No such assignment.")
    return row


def assignment_get_for_candidate(
    *, user: User, organisation: Organisation | None, assignment_id: int
) -> InterviewAssignment:
    """One of the person's own assignments; anyone else's (staff included) and a missing one: 404."""
    row = assignment_list_for_candidate(user, organisation).filter(pk=assignment_id).first()
    if row is None:
        raise Http404("No such assignment.")
    return row


def assignment_state(assignment: InterviewAssignment, *, now: datetime | None = None) -> str:
    """upcoming (before `opens_at`), closed (from `closes_at`), used_up (every attempt finished),
    else open. Needs `attempts_used` (the selectors annotate it)."""
    moment = now if now is not None else timezone.now()
    if moment < assignment.opens_at:
        return AssignmentState.UPCOMING
    if moment >= assignment.closes_at:
        return AssignmentState.CLOSED
    if attempts_used(assignment) >= assignment.attempts_allowed:
        return AssignmentState.USED_UP
    return AssignmentState.OPEN


def attempts_used(assignment: InterviewAssignment) -> int:
    used = getattr(assignment, "attempts_used", None)
    if used is None:
        used = InterviewSession.objects.filter(assignment=assignment).exclude(state=SessionState.IN_PROGRESS).count()
    return int(used)


def attempts_left(assignment: InterviewAssignment) -> int:
    return max(0, assignment.attempts_allowed - attempts_used(assignment))


@dataclass
class AssignmentRow:
    """An assignment as a page shows it, its state read once on the server's clock."""

    assignment: InterviewAssignment
    state: str
    state_label: str
    attempts_used: int
    attempts_left: int
    running_session_id: int | None
    finished_sessions: list[InterviewSession] = field(default_factory=list)

    @property
    def may_start(self) -> bool:
        return self.state == AssignmentState.OPEN or self.running_session_id is not None


def assignment_rows(rows: Any, *, now: datetime | None = None) -> list[AssignmentRow]:
    moment = now if now is not None else timezone.now()
    out = []
    for assignment in rows:
        state = assignment_state(assignment, now=moment)
        out.append(
            AssignmentRow(
                assignment=assignment,
                state=state,
                state_label=str(AssignmentState.LABELS[state]),
                attempts_used=attempts_used(assignment),
                attempts_left=attempts_left(assignment),
                running_session_id=getattr(assignment, "running_session_id", None),
                finished_sessions=list(getattr(assignment, "finished_sessions", [])),
            )
        )
    return out


def assignment_choices(*, user: User, organisation: Organisation) -> dict[str, list[tuple[int, str]]]:
    """For the staff form: the templates staff may assign, the candidates, and the possible reviewers."""
    _require_staff(user=user, organisation=organisation)
    templates = content.template_list_for_user(user=user, organisation=organisation)

    def members(*roles: str) -> list[tuple[int, str]]:
        people = (
            User.objects.filter(memberships__organisation=organisation, memberships__role__in=roles)
            .distinct()
            .order_by("display_name", "email")
        )
        return [(person.pk, f"{person.public_name} <{person.email}>") for person in people]

    return {
        "templates": [(template.pk, template.title) for template in templates],
        "candidates": members(Role.CANDIDATE),
        "reviewers": members(Role.MENTOR, Role.STAFF),
    }


# ---------------------------------------------------------------- accommodations
@transaction.atomic
def accommodation_set(
    *,
    organisation: Organisation,
    actor: User,
    user_id: int,
    extra_time_percent: int,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Accommodation | None:
    """Set a member's standing extra time in the organisation (staff): `extra_time_percent` 0..200,
    0 removes it (returns None). Sessions started afterwards get it; a running one keeps its
    deadline. Audited `interviews.accommodation_set` with the old and new values (an unchanged
    value and reason write nothing). Locks the member's accommodation row. Refused: not staff,
    a percentage outside 0..200 or a reason over 200 characters (`invalid` at the field), someone
    who is not a member (`not_found` at `user_id`)."""
    _require_staff(user=actor, organisation=organisation)
    errors: dict[str, str] = {}
    if (
        not isinstance(extra_time_percent, int)
        or isinstance(extra_time_percent, bool)
        or not PERCENT_MIN <= extra_time_percent <= PERCENT_MAX
    ):
        errors["extra_time_percent"] = gettext("Give a whole percentage from 0 to 200.")
    text = (reason or "").strip()
    if len(text) > REASON_MAX or not is_storable(text):
        errors["reason"] = gettext("Give a reason of at most 200 characters (plain text).")
    if errors:
        raise AssignmentError("invalid", gettext("Some fields are invalid."), fields=errors)
    member = None
    if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id >= 1:
        member = User.objects.filter(pk=user_id, memberships__organisation=organisation).distinct().first()
    if member is None:
        raise AssignmentError("not_found", gettext("No such member."), field="user_id")
    existing = Accommodation.objects.select_for_update().filter(organisation=organisation, user=member).first()
    before = existing.extra_time_percent if existing is not None else 0
    before_reason = existing.reason if existing is not None else ""
    result: Accommodation | None
    if extra_time_percent == 0:
        if existing is not None:
            existing.delete()
        result = None
        text = ""
    elif existing is not None:
        existing.extra_time_percent = extra_time_percent
        existing.reason = text
        existing.set_by = actor
        existing.save(update_fields=["extra_time_percent", "reason", "set_by", "updated_at"])
        result = existing
    else:
        result, created = Accommodation.objects.get_or_create(
            organisation=organisation,
            user=member,
            defaults={"extra_time_percent": extra_time_percent, "reason": text, "set_by": actor},
        )
        if not created:  # a concurrent set won the insert: this one is the newer
            result.extra_time_percent, result.reason, result.set_by = extra_time_percent, text, actor
            result.save(update_fields=["extra_time_percent", "reason", "set_by", "updated_at"])
    if (before, before_reason) != (extra_time_percent, text):
        audit_record(
            actor=actor,
            organisation=organisation,
            action="interviews.accommodation_set",
            target=member,
            details={"user": member.pk, "from": before, "to": extra_time_percent, "reason": text},
            request=request,
        )
    return result


def accommodation_list(*, user: User, organisation: Organisation) -> QuerySet[Accommodation]:
    """The organisation's accommodations, for its staff, by the member's name."""
    _require_staff(user=user, organisation=organisation)
    return (
        Accommodation.objects.filter(organisation=organisation)
        .select_related("user", "set_by")
        .order_by("user__display_name", "user__email", "id")
    )


def accommodation_members(*, user: User, organisation: Organisation) -> list[tuple[int, str]]:
    """The members staff may set an accommodation for (any role), for the form."""
    _require_staff(user=user, organisation=organisation)
    people = User.objects.filter(memberships__organisation=organisation).distinct().order_by("display_name", "email")
    return [(person.pk, f"{person.public_name} <{person.email}>") for person in people]
