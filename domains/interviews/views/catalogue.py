"""Interview pages: the catalogue (filters by type, difficulty and level), a template's page (its
rules and a "Start practice" button), and the staff review queue for drafted questions (draft,
approve, reject). Every member sees public templates and their organisation's; another
organisation's template or draft answers 404 like a missing one; the queue is staff-only (403)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
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
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form, refusal_to_messages
from domains.common.validation import validate_storable_text
from domains.interviews import content
from domains.interviews.models import Difficulty, InterviewType, Level, QuestionType

PAGE_SIZE = 30
ID_MAX = 2**63 - 1


def _id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= ID_MAX:
        raise Http404("Not found.")
    return int(raw)


class CatalogueFilter(forms.Form):
    interview_type = forms.ChoiceField(
        choices=[("", gettext_lazy("Any type")), *InterviewType.choices], required=False, label=gettext_lazy("Type")
    )
    difficulty = forms.ChoiceField(
        choices=[("", gettext_lazy("Any difficulty")), *Difficulty.choices],
        required=False,
        label=gettext_lazy("Difficulty"),
    )
    level = forms.ChoiceField(
        choices=[("", gettext_lazy("Any level")), *Level.choices], required=False, label=gettext_lazy("Level")
    )


@login_required
@require_GET
def catalogue_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    form = CatalogueFilter(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    templates = content.template_list_for_user(
        user=request.user,
        organisation=organisation,
        interview_type=filters.get("interview_type") or None,
        difficulty=filters.get("difficulty") or None,
        level=filters.get("level") or None,
    )
    page = Paginator(templates, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "interviews/catalogue.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "is_staff": content.is_content_staff(user=request.user, organisation=organisation),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def template_detail_view(request: AuthenticatedRequest, template_id: str) -> HttpResponse:
    organisation = organisation_or_404(request)
    template = content.template_get_for_user(user=request.user, organisation=organisation, template_id=_id(template_id))
    summary = content.template_summary(template=template)
    types = [(QuestionType(kind).label, count) for kind, count in summary.question_types.items()]
    return render(
        request,
        "interviews/template_detail.html",
        {"template": template, "question_types": types, "topics": summary.topics},
    )


class DraftForm(forms.Form):
    """Draft questions for one of the organisation's own templates; bounds from the settings."""

    def __init__(self, *args: Any, templates: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"] = forms.TypedChoiceField(choices=templates, coerce=int, label=gettext_lazy("Template"))
        self.fields["count"] = forms.IntegerField(
            min_value=1,
            max_value=int(settings.INTERVIEWS_DRAFT_MAX),
            initial=3,
            label=gettext_lazy("How many questions"),
        )
        self.fields["job_description"] = forms.CharField(
            required=False,
            max_length=int(settings.INTERVIEWS_JOB_DESCRIPTION_MAX),
            widget=forms.Textarea(attrs={"rows": 6}),
            label=gettext_lazy("Job description (optional)"),
            help_text=gettext_lazy("Paste it to draft questions for this job; it is used as reference text only."),
            validators=[validate_storable_text],
        )


def _staff(request: AuthenticatedRequest) -> list[tuple[int, str]]:
    organisation = organisation_or_404(request)
    if not content.is_content_staff(user=request.user, organisation=organisation):
        raise PermissionDenied
    own = content.own_template_list(user=request.user, organisation=organisation)
    return [(template.pk, template.title) for template in own]


@login_required
@require_http_methods(["GET", "POST"])
def review_queue_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    templates = _staff(request)
    form = DraftForm(request.POST or None, templates=templates)
    if request.method == "POST" and form.is_valid():
        try:
            template = content.template_get_own(
                user=request.user, organisation=organisation, template_id=form.cleaned_data["template"]
            )
            outcome = content.draft_questions(
                organisation=organisation,
                template=template,
                user=request.user,
                count=form.cleaned_data["count"],
                job_description=form.cleaned_data["job_description"],
                request=request,
            )
        except Refusal as refusal:
            refusal_to_form(form, refusal)
        else:
            if outcome.queued:
                messages.success(
                    request, gettext("Drafting with the AI: the drafts appear here when ready (reload the page).")
                )
            else:
                messages.success(
                    request,
                    gettext("%(n)d questions drafted offline from the template (no AI model): review them below.")
                    % {"n": len(outcome.drafts)},
                )
            return redirect("interviews:review_queue")
    drafts = content.draft_list_for_user(user=request.user, organisation=organisation)
    page = Paginator(drafts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "interviews/review_queue.html",
        {"form": form, "page": page, "has_templates": bool(templates)},
        status=400 if form.errors else 200,
    )


def _review(request: AuthenticatedRequest, draft_id: str, verb: str) -> HttpResponse:
    organisation = organisation_or_404(request)
    _staff(request)
    try:
        if verb == "approve":
            question = content.draft_approve(
                organisation=organisation, user=request.user, draft_id=_id(draft_id), request=request
            )
            messages.success(
                request,
                gettext("Added to “%(template)s” as question %(n)d.")
                % {"template": question.template.title, "n": question.position},
            )
        else:
            content.draft_reject(organisation=organisation, user=request.user, draft_id=_id(draft_id), request=request)
            messages.success(request, gettext("Draft rejected."))
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
    return redirect("interviews:review_queue")


@login_required
@require_POST
def draft_approve_view(request: AuthenticatedRequest, draft_id: str) -> HttpResponse:
    return _review(request, draft_id, "approve")


@login_required
@require_POST
def draft_reject_view(request: AuthenticatedRequest, draft_id: str) -> HttpResponse:
    return _review(request, draft_id, "reject")


urls: list[URLPattern] = [
    path("templates/", catalogue_view, name="catalogue"),
    path("templates/<str:template_id>/", template_detail_view, name="template_detail"),
    path("review/", review_queue_view, name="review_queue"),
    path("review/<str:draft_id>/approve/", draft_approve_view, name="draft_approve"),
    path("review/<str:draft_id>/reject/", draft_reject_view, name="draft_reject"),
]
