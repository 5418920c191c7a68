"""Interview pages: assessments and accommodations (see views/__init__.py).

- `my_assignments` (`/interviews/assignments/`, any member): my own assignments in the bound
  organisation, with the window in my time zone, attempts left, state, a "Start" button while open
  (to the system check, `session_start` with `assignment_id`), "Continue" while a session runs, the
  `.ics` link and the finished sessions' reports.
- `assignment_calendar` (`/interviews/assignments/<id>/calendar.ics`): the window as an iCalendar
  event; my own assignment only (404 for anyone else's, staff included, and for a missing id).
- `assignment_manage` (`/interviews/assignments/manage/`, staff; 403 otherwise): the
  organisation's assignments and the create form; POST-redirect-GET, field errors shown.
- `assignment_cancel` (POST `/interviews/assignments/<id>/cancel/`, staff): another organisation's
  id is a 404 like a missing one; a refusal is shown as a message.
- `accommodations` (`/interviews/accommodations/`, staff): the list and the "set" form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.accounts.models import Organisation
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form, refusal_to_messages
from domains.common.validation import validate_storable_text
from domains.interviews import assignments

PAGE_SIZE = 30
ID_MAX = 2**63 - 1
WHEN_FORMAT = "%Y-%m-%dT%H:%M"


def _id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= ID_MAX:
        raise Http404("Not found.")
    return int(raw)


def _staff(request: AuthenticatedRequest) -> Organisation:
    organisation = organisation_or_404(request)
    if not assignments.is_interview_staff(user=request.user, organisation=organisation):
        raise PermissionDenied
    return organisation


def _when_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=WHEN_FORMAT)


class AssignmentForm(forms.Form):
    """The create form; field names are the service's, so its refusals land beside them. Times are
    read in the person's time zone (the one the page is shown in)."""

    def __init__(self, *args: Any, choices: dict[str, list[tuple[int, str]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template_id"] = forms.TypedChoiceField(
            choices=choices["templates"], coerce=int, label=gettext_lazy("Template")
        )
        self.fields["candidate_id"] = forms.TypedChoiceField(
            choices=[("", gettext_lazy("(invite by email instead)")), *choices["candidates"]],
            coerce=int,
            empty_value=None,
            required=False,
            label=gettext_lazy("Candidate (a member)"),
        )
        self.fields["email"] = forms.EmailField(
            required=False,
            max_length=assignments.EMAIL_MAX,
            label=gettext_lazy("…or invite by email"),
            help_text=gettext_lazy("Someone not yet a member gets an invitation with a calendar event for the window."),
        )
        self.fields["opens_at"] = forms.DateTimeField(widget=_when_widget(), label=gettext_lazy("Opens"))
        self.fields["closes_at"] = forms.DateTimeField(widget=_when_widget(), label=gettext_lazy("Closes"))
        self.fields["attempts_allowed"] = forms.IntegerField(
            min_value=assignments.ATTEMPTS_MIN,
            max_value=assignments.ATTEMPTS_MAX,
            initial=1,
            label=gettext_lazy("Attempts allowed"),
        )
        self.fields["reviewer_id"] = forms.TypedChoiceField(
            choices=[("", gettext_lazy("(no reviewer)")), *choices["reviewers"]],
            coerce=int,
            empty_value=None,
            required=False,
            label=gettext_lazy("Reviewer (a mentor or staff member)"),
        )


class AccommodationForm(forms.Form):
    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user_id"] = forms.TypedChoiceField(choices=members, coerce=int, label=gettext_lazy("Member"))
        self.fields["extra_time_percent"] = forms.IntegerField(
            min_value=assignments.PERCENT_MIN,
            max_value=assignments.PERCENT_MAX,
            label=gettext_lazy("Extra time (%)"),
            help_text=gettext_lazy("0 to 200; 0 removes the accommodation."),
        )
        self.fields["reason"] = forms.CharField(
            required=False,
            max_length=assignments.REASON_MAX,
            label=gettext_lazy("Reason (optional)"),
            validators=[validate_storable_text],
        )


@login_required
@require_GET
def my_assignments_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    rows = assignments.assignment_rows(
        assignments.assignment_list_for_candidate(request.user, organisation, with_sessions=True)
    )
    return render(
        request,
        "interviews/assignments.html",
        {
            "rows": rows,
            "time_zone": request.user.time_zone or "UTC",
            "is_staff": assignments.is_interview_staff(user=request.user, organisation=organisation),
        },
    )


@login_required
@require_GET
def assignment_calendar_view(request: AuthenticatedRequest, assignment_id: str) -> HttpResponse:
    assignment = assignments.assignment_get_for_candidate(
        user=request.user, organisation=organisation_or_404(request), assignment_id=_id(assignment_id)
    )
    response = HttpResponse(
        assignments.assignment_calendar(assignment=assignment), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{assignments.calendar_filename(assignment)}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def assignment_manage_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = _staff(request)
    choices = assignments.assignment_choices(user=request.user, organisation=organisation)
    form = AssignmentForm(request.POST or None, choices=choices)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = assignments.assignment_create(
                    organisation=organisation,
                    actor=request.user,
                    template_id=data["template_id"],
                    opens_at=data["opens_at"],
                    closes_at=data["closes_at"],
                    attempts_allowed=data["attempts_allowed"],
                    reviewer_id=data["reviewer_id"],
                    candidate_id=data["candidate_id"],
                    email=data["email"],
                    request=request,
                )
            except Refusal as refusal:
                refusal_to_form(form, refusal)
                if refusal.retry_after is not None:
                    status = 429
            else:
                if created.candidate_id is None:
                    text = gettext("Assessment created; %(email)s is invited (the email carries the window).")
                    messages.success(request, text % {"email": created.invited_email})
                else:
                    messages.success(request, gettext("Assessment created; the candidate is notified."))
                return redirect("interviews:assignment_manage")
    rows = assignments.assignment_list_for_staff(user=request.user, organisation=organisation)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "interviews/assignments_manage.html",
        {"form": form, "page": page, "rows": assignments.assignment_rows(page.object_list)},
        status=status,
    )


@login_required
@require_POST
def assignment_cancel_view(request: AuthenticatedRequest, assignment_id: str) -> HttpResponse:
    organisation = _staff(request)
    try:
        assignments.assignment_cancel(
            organisation=organisation, actor=request.user, assignment_id=_id(assignment_id), request=request
        )
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
    else:
        messages.success(request, gettext("Assessment cancelled."))
    return redirect("interviews:assignment_manage")


@login_required
@require_http_methods(["GET", "POST"])
def accommodations_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = _staff(request)
    members = assignments.accommodation_members(user=request.user, organisation=organisation)
    form = AccommodationForm(request.POST or None, members=members)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = assignments.accommodation_set(
                    organisation=organisation,
                    actor=request.user,
                    user_id=data["user_id"],
                    extra_time_percent=data["extra_time_percent"],
                    reason=data["reason"],
                    request=request,
                )
            except Refusal as refusal:
                refusal_to_form(form, refusal)
            else:
                if result is None:
                    messages.success(request, gettext("Accommodation removed."))
                else:
                    messages.success(
                        request,
                        gettext("Accommodation set: +%(percent)d%% on the interviews they start from now on.")
                        % {"percent": result.extra_time_percent},
                    )
                return redirect("interviews:accommodations")
    rows = assignments.accommodation_list(user=request.user, organisation=organisation)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "interviews/accommodations.html", {"form": form, "page": page}, status=status)


urls: list[URLPattern] = [
    path("assignments/", my_assignments_view, name="assignments"),
    path("assignments/manage/", assignment_manage_view, name="assignment_manage"),
    path("assignments/<str:assignment_id>/calendar.ics", assignment_calendar_view, name="assignment_calendar"),
    path("assignments/<str:assignment_id>/cancel/", assignment_cancel_view, name="assignment_cancel"),
    path("accommodations/", accommodations_view, name="accommodations"),
]
