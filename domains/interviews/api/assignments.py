"""/api/v1/interviews/assignments and /accommodations: assessments and standing extra time.

- `GET /assignments`: staff see the organisation's; anyone else their own (as candidate). Paged.
- `POST /assignments` (staff): the same service as the page (`assignments.assignment_create`):
  a member candidate by `candidate_id`, or an `email` (a member's address is that member; anyone
  else is invited, the invitation mail carrying an .ics). Faults are field errors (422); a
  template, candidate or reviewer outside the organisation is 404 at its field.
- `GET /assignments/{id}`: as the list; another organisation's, someone else's and a missing id: 404.
- `GET /accommodations`, `PUT /accommodations/{user_id}` (staff): 0 removes one.

Nothing here carries a template's questions, keys, reference answers or rubric.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import Http404
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import AwareDatetime, BeforeValidator, ConfigDict, StringConstraints

from domains.accounts.http import AuthenticatedRequest
from domains.accounts.models import Organisation, User
from domains.common.api import ID_MAX, BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.interviews import assignments
from domains.interviews.models import Accommodation, InterviewAssignment

router = Router()


def _not_a_boolean(value: Any) -> Any:
    # JSON `false` is not 0 (pydantic's lax int would take it as 0 and, say, remove an
    # accommodation); `46.0` is a JSON Schema integer and stays accepted.
    if isinstance(value, bool):
        raise ValueError("Expected a whole number, not true or false.")
    return value


Whole = Annotated[int, BeforeValidator(_not_a_boolean)]
BodyId = Annotated[Whole, Field(ge=1, le=ID_MAX)]
State = Literal["upcoming", "open", "closed", "used_up"]


class TemplateRef(Schema):
    id: int
    title: str
    duration_minutes: int


class PersonRef(Schema):
    id: int
    name: str = Field(description="The person's public name (never their email address).")


def _person(user: User | None) -> dict[str, Any] | None:
    return {"id": user.pk, "name": user.public_name} if user is not None else None


class AssignmentOut(Schema):
    id: int
    template: TemplateRef
    candidate: PersonRef | None = Field(description="Null while the invited person has not joined.")
    invited_email: str = Field(description="The address invited, while they have not joined (staff see it).")
    reviewer: PersonRef | None
    opens_at: datetime
    closes_at: datetime
    attempts_allowed: int
    attempts_used: int = Field(description="Finished sessions of the assignment.")
    attempts_left: int
    state: State = Field(description="On the server's clock: upcoming, open, closed, or used_up (no attempt left).")
    running_session_id: int | None = Field(description="Its session in progress, if any.")
    calendar_url: str = Field(description="The window as an .ics event (the candidate's own download).")
    created_at: datetime

    @staticmethod
    def resolve_candidate(obj: InterviewAssignment) -> dict[str, Any] | None:
        return _person(obj.candidate)

    @staticmethod
    def resolve_reviewer(obj: InterviewAssignment) -> dict[str, Any] | None:
        return _person(obj.reviewer)

    @staticmethod
    def resolve_attempts_used(obj: InterviewAssignment) -> int:
        return assignments.attempts_used(obj)

    @staticmethod
    def resolve_attempts_left(obj: InterviewAssignment) -> int:
        return assignments.attempts_left(obj)

    @staticmethod
    def resolve_state(obj: InterviewAssignment) -> str:
        return assignments.assignment_state(obj)

    @staticmethod
    def resolve_running_session_id(obj: InterviewAssignment) -> int | None:
        return getattr(obj, "running_session_id", None)

    @staticmethod
    def resolve_calendar_url(obj: InterviewAssignment) -> str:
        return reverse("interviews:assignment_calendar", args=[obj.pk])


# `format: email` tells clients (and the schema's fuzzer) what is accepted; the service validates it.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=assignments.EMAIL_MAX),
    Field(json_schema_extra={"format": "email"}),
]


class AssignmentIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    template_id: BodyId = Field(description="A public template or one of the organisation's own.")
    opens_at: AwareDatetime = Field(description="With its offset (e.g. 2026-03-02T09:00:00Z).")
    closes_at: AwareDatetime = Field(description="After `opens_at` and in the future.")
    attempts_allowed: Whole = Field(default=1, ge=assignments.ATTEMPTS_MIN, le=assignments.ATTEMPTS_MAX)
    candidate_id: BodyId | None = Field(default=None, description="A member with the candidate role; or give `email`.")
    email: Email | None = Field(
        default=None,
        description="Invite this address (a member's address is that member); or give `candidate_id`.",
    )
    reviewer_id: BodyId | None = Field(default=None, description="A mentor or staff member of the organisation.")


class AccommodationOut(Schema):
    user: PersonRef
    extra_time_percent: int = Field(description="0 to 200; 0: none.")
    reason: str
    set_by: PersonRef | None
    updated_at: datetime | None = Field(description="Null once removed.")

    @staticmethod
    def resolve_user(obj: Accommodation) -> dict[str, Any] | None:
        return _person(obj.user)

    @staticmethod
    def resolve_set_by(obj: Accommodation) -> dict[str, Any] | None:
        return _person(obj.set_by)


class AccommodationIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    extra_time_percent: Whole = Field(
        ge=assignments.PERCENT_MIN, le=assignments.PERCENT_MAX, description="0 removes it."
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=assignments.REASON_MAX)] = ""


def _organisation(request: AuthenticatedRequest) -> Organisation:
    if request.organisation is None:
        raise HttpError(403, "You belong to no organisation.")
    return request.organisation


@router.get(
    "/assignments",
    response=responses({200: list[AssignmentOut]}),
    summary="Assessments: my own, or (staff) the organisation's",
)
@paginate(BoundedLimitOffsetPagination)
def assignment_list(request: AuthenticatedRequest) -> Any:
    return assignments.assignment_list_for_user(user=request.user, organisation=_organisation(request))


@router.post(
    "/assignments",
    response=responses({201: AssignmentOut}),
    summary="Assign a template to a candidate, or invite an address with it (staff)",
)
def assignment_create(request: AuthenticatedRequest, payload: AssignmentIn) -> Status[InterviewAssignment]:
    organisation = _organisation(request)
    created = assignments.assignment_create(
        organisation=organisation,
        actor=request.user,
        template_id=payload.template_id,
        opens_at=payload.opens_at,
        closes_at=payload.closes_at,
        attempts_allowed=payload.attempts_allowed,
        candidate_id=payload.candidate_id,
        email=payload.email or "",
        reviewer_id=payload.reviewer_id,
        request=request,
    )
    return Status(
        201, assignments.assignment_get_for_user(user=request.user, organisation=organisation, assignment_id=created.pk)
    )


@router.get(
    "/assignments/{int:assignment_id}",
    response=responses({200: AssignmentOut}),
    summary="One assessment (mine, or the organisation's for staff)",
)
def assignment_detail(request: AuthenticatedRequest, assignment_id: ObjectId) -> InterviewAssignment:
    return assignments.assignment_get_for_user(
        user=request.user, organisation=_organisation(request), assignment_id=assignment_id
    )


@router.get(
    "/accommodations",
    response=responses({200: list[AccommodationOut]}),
    summary="The organisation's standing extra-time accommodations (staff)",
)
@paginate(BoundedLimitOffsetPagination)
def accommodation_list(request: AuthenticatedRequest) -> Any:
    return assignments.accommodation_list(user=request.user, organisation=_organisation(request))


@router.put(
    "/accommodations/{int:user_id}",
    response=responses({200: AccommodationOut}),
    summary="Set a member's extra time for the sessions they start from now on; 0 removes it (staff)",
)
def accommodation_set(request: AuthenticatedRequest, user_id: ObjectId, payload: AccommodationIn) -> Accommodation:
    try:
        result = assignments.accommodation_set(
            organisation=_organisation(request),
            actor=request.user,
            user_id=user_id,
            extra_time_percent=payload.extra_time_percent,
            reason=payload.reason,
            request=request,
        )
    except assignments.AssignmentError as refusal:
        if refusal.code == "not_found":  # the member is the path's, not a body field
            raise Http404("No such member.") from None
        raise
    if result is not None:
        return result
    # Removed: the answer says so (0, no row). The service found them a member of the organisation.
    return Accommodation(user=User.objects.get(pk=user_id), extra_time_percent=0, reason="", set_by=None)
