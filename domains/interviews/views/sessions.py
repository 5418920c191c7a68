"""Interview pages: sessions (see views/__init__.py).

- `session_start` (POST `template_id`, optional `assignment_id`): a session already in progress for
  this template opens its room; else, without `begin`, the system check comes first (the clock
  does not run while the candidate reads the rules); with `begin` (the check page's button, with the
  integrity consent) the session starts and its room opens.
- `session_check`: the system check (socket, clock offset) and the rules, before the start.
- `session_room`: the interview room, the candidate's only (404 for anyone else); on a template
  with follow-ups, "Ask the interviewer" under a saved written answer. After submitting (or when
  the time is up) the candidate goes to the report page.
- `my_interviews`: the candidate's history, and for mentors/reviewers the sessions they may watch.
- `session_watch`: the mentor's live view (progress, time left, the AI interviewer's follow-ups and
  the candidate's responses) and the extra-time form; `session_watch_followups`: its follow-ups as
  JSON, which the page reloads when a response is saved.
- `session_submit`, `session_grant`: the no-script fallbacks of the socket's messages (submit then
  opens the report page, which shows the grading as it happens).
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_messages
from domains.interviews import content, rules, selectors, services
from domains.interviews.models import Accommodation, InterviewAssignment, InterviewSession, SessionState

ID_MAX = 2**63 - 1
HISTORY_MAX = 200


def _id(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or not 1 <= int(raw) <= ID_MAX:
        raise Http404("Not found.")
    return int(raw)


def _optional_id(raw: str | None) -> int | None:
    return _id(raw) if raw else None


@login_required
@require_POST
def session_start_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    template_id = _id(request.POST.get("template_id"))
    assignment_id = _optional_id(request.POST.get("assignment_id"))
    running = InterviewSession.objects.filter(
        candidate_id=request.user.pk,
        template_id=template_id,
        state=SessionState.IN_PROGRESS,
        deadline__gt=timezone.now(),
    ).first()
    if running is not None:
        return redirect("interviews:session_room", running.pk)
    if not request.POST.get("begin"):
        content.template_get_for_user(user=request.user, organisation=organisation, template_id=template_id)
        url = reverse("interviews:session_check", args=[template_id])
        return redirect(f"{url}?assignment={assignment_id}" if assignment_id else url)
    try:
        session, _ = services.interview_session_start(
            user=request.user,
            organisation=organisation,
            template_id=template_id,
            assignment_id=assignment_id,
            integrity_consent=request.POST.get("integrity_consent") == "on",
            request=request,
        )
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
        if assignment_id:  # back to the assessment's own check page, with the refusal shown
            url = reverse("interviews:session_check", args=[template_id])
            return redirect(f"{url}?assignment={assignment_id}")
        return redirect("interviews:session_check", template_id)
    return redirect("interviews:session_room", session.pk)


@login_required
@require_GET
def session_check_view(request: AuthenticatedRequest, template_id: str) -> HttpResponse:
    organisation = organisation_or_404(request)
    assignment_id = _optional_id(request.GET.get("assignment"))
    assignment = None
    if assignment_id is not None:
        assignment = (
            InterviewAssignment.objects.filter(
                pk=assignment_id, organisation=organisation, candidate_id=request.user.pk
            )
            .select_related("template")
            .first()
        )
        if assignment is None or assignment.template_id != _id(template_id):
            raise Http404("No such assignment.")
        template = assignment.template
    else:
        template = content.template_get_for_user(
            user=request.user, organisation=organisation, template_id=_id(template_id)
        )
    accommodation = Accommodation.objects.filter(organisation=organisation, user_id=request.user.pk).first()
    percent = accommodation.extra_time_percent if accommodation is not None else 0
    config = {"server_now": timezone.now().isoformat(), "ping": "/ws/ping/"}
    return render(
        request,
        "interviews/check.html",
        {
            "template": template,
            "assignment": assignment,
            "percent": percent,
            "minutes": round(template.duration_minutes * (100 + percent) / 100, 1),
            "check_config": config,
        },
    )


@login_required
@require_GET
def session_room_view(request: AuthenticatedRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get_for_candidate(user=request.user, session_id=_id(session_id))
    snapshot = selectors.session_snapshot(session)
    config = {
        "socket": f"/ws/interviews/{session.pk}/",
        "session_id": session.pk,
        "history_url": reverse("interviews:my_interviews"),
        "report_url": reverse("interviews:session_report", kwargs={"session_id": session.pk}),
        "answer_max": int(settings.INTERVIEWS_ANSWER_MAX_CHARS),
        "follow_ups": session.template.follow_ups,
    }
    return render(
        request,
        "interviews/room.html",
        {"session": session, "snapshot": snapshot, "room_config": config, "open": session.state == "in_progress"},
    )


@login_required
@require_GET
def my_interviews_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = request.organisation
    sessions = selectors.session_list_for_candidate(user=request.user)[:HISTORY_MAX]
    watched = selectors.session_list_watched(user=request.user, organisation=organisation)[:HISTORY_MAX]
    return render(request, "interviews/my_interviews.html", {"sessions": sessions, "watched": watched})


class GrantForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=120, initial=5, label=gettext_lazy("Extra minutes"))
    reason = forms.CharField(max_length=200, label=gettext_lazy("Why"))


@login_required
@require_GET
def session_watch_view(request: AuthenticatedRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get_for_watcher(user=request.user, session_id=_id(session_id))
    questions = selectors.watch_questions(session)
    payloads = selectors.watch_followups(session)
    config = {
        "socket": f"/ws/interviews/{session.pk}/",
        "session_id": session.pk,
        "followups_url": reverse("interviews:session_watch_followups", args=[session.pk]),
        "questions": questions,
        "followups": payloads,
    }
    snapshot = selectors.session_snapshot(session)
    labels = {question["id"]: question for question in questions}
    followups = [
        {
            **followup,
            "question": labels.get(followup["question_id"]),
            "saved": datetime.fromisoformat(saved) if (saved := followup["response"]["saved_at"]) else None,
        }
        for followup in payloads
    ]
    return render(
        request,
        "interviews/watch.html",
        {
            "session": session,
            "snapshot": snapshot,
            "answered": sum(1 for item in snapshot["progress"] if item["answered"]),
            "followups": followups,
            "watch_config": config,
            "form": GrantForm(),
            "may_grant": rules.may_grant_time(user=request.user, session=session),
        },
    )


@login_required
@require_GET
def session_watch_followups_view(request: AuthenticatedRequest, session_id: str) -> JsonResponse:
    """The live view's follow-ups as JSON (`{"followups": [FollowUp, ...]}`, by position): the page
    reloads them when the socket says a response was saved (`followup.saved` carries no text)."""
    session = selectors.session_get_for_watcher(user=request.user, session_id=_id(session_id))
    response = JsonResponse({"followups": selectors.watch_followups(session)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def session_grant_view(request: AuthenticatedRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get_for_watcher(user=request.user, session_id=_id(session_id))
    form = GrantForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Give a number of minutes (1 to 120) and a reason."))
        return redirect("interviews:session_watch", session.pk)
    try:
        services.extra_time_grant(
            session_id=session.pk,
            user=request.user,
            seconds=form.cleaned_data["minutes"] * 60,
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
    else:
        messages.success(request, gettext("Extra time granted."))
    return redirect("interviews:session_watch", session.pk)


@login_required
@require_POST
def session_submit_view(request: AuthenticatedRequest, session_id: str) -> HttpResponse:
    session = selectors.session_get_for_candidate(user=request.user, session_id=_id(session_id))
    try:
        services.interview_session_submit(session_id=session.pk, user=request.user)
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
    else:
        messages.success(request, gettext("Submitted. Your answers are being scored."))
    # The report page follows the grading live until the report is ready.
    return redirect("interviews:session_report", session_id=session.pk)


urls: list[URLPattern] = [
    path("sessions/", my_interviews_view, name="my_interviews"),
    path("sessions/start/", session_start_view, name="session_start"),
    path("check/<str:template_id>/", session_check_view, name="session_check"),
    path("sessions/<str:session_id>/", session_room_view, name="session_room"),
    path("sessions/<str:session_id>/submit/", session_submit_view, name="session_submit"),
    path("sessions/<str:session_id>/watch/", session_watch_view, name="session_watch"),
    path(
        "sessions/<str:session_id>/watch/followups/",
        session_watch_followups_view,
        name="session_watch_followups",
    ),
    path("sessions/<str:session_id>/grant/", session_grant_view, name="session_grant"),
]
