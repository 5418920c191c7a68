"""Interview content in the organisation admin (/manage/): the organisation's own templates and
their questions (add, change, delete) and its drafts (read-only: approving and rejecting are the
review queue's, `/interviews/review/`, where they are audited and placed). Public templates
(organisation NULL) never appear here: they are read-only to every organisation. A question is
checked like the API checks it (`content.question_check`); a change to a template's rubric or to a
question's key, reference answer or bands raises the template's `rubric_version`, so stored scores
are not reused for it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import F
from django.http import HttpRequest

from domains.common.scoped_admin import OrganisationModelAdmin, OrganisationTabularInline
from domains.interviews import content
from domains.interviews.models import InterviewTemplate, Question, QuestionDraft

_SCORED = ("answer_key", "reference_answer", "rubric_bands")
_CLEANED = ("prompt", "choices", "answer_key", "reference_answer", "rubric_bands", "topics")


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = [
            "position",
            "question_type",
            "prompt",
            "choices",
            "answer_key",
            "reference_answer",
            "rubric_bands",
            "topics",
            "seconds",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Fields this form does not show keep the row's values (a new row: empty, and refused).
        merged = {name: data.get(name, getattr(self.instance, name)) for name in QuestionForm.Meta.fields}
        cleaned, errors = content.question_check(merged)
        for name, messages in errors.items():
            target = name if name in self.fields else None
            for message in messages:
                if target is None or target not in self.errors:
                    self.add_error(target, message)
        if not errors:
            data.update({name: cleaned[name] for name in _CLEANED if name in data})
        return data


def _bump_rubric(template_id: int) -> None:
    InterviewTemplate.objects.filter(pk=template_id).update(rubric_version=F("rubric_version") + 1)


class QuestionInline(OrganisationTabularInline):
    model = Question
    form = QuestionForm
    organisation_path = "template__organisation"
    extra = 0
    show_change_link = True


class OrganisationTemplateAdmin(OrganisationModelAdmin):
    list_display = [
        "title",
        "role",
        "interview_type",
        "difficulty",
        "level",
        "duration_minutes",
        "question_count",
        "follow_ups",
        "is_active",
    ]
    list_filter = ["interview_type", "difficulty", "level", "follow_ups", "is_active"]
    search_fields = ["title", "role"]
    readonly_fields = ["rubric_version", "created_by", "created_at", "updated_at"]
    fields = [
        "title",
        "slug",
        "role",
        "interview_type",
        "difficulty",
        "level",
        "duration_minutes",
        "question_seconds",
        "question_count",
        "rubric",
        "rubric_version",
        "follow_ups",
        "is_active",
        "created_by",
        "created_at",
        "updated_at",
    ]
    inlines = [QuestionInline]

    def save_model(self, request: HttpRequest, obj: InterviewTemplate, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        elif "rubric" in form.changed_data:
            obj.rubric_version += 1
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        rescored = any(
            set(inline.changed_data) & set(_SCORED) or inline in formset.deleted_forms
            for inline in formset.forms
            if inline.instance.pk
        )
        super().save_formset(request, form, formset, change)
        if change and rescored:
            _bump_rubric(form.instance.pk)


class OrganisationQuestionAdmin(OrganisationModelAdmin):
    organisation_path = "template__organisation"
    form = QuestionForm
    list_display = ["template", "position", "question_type", "prompt"]
    list_filter = ["question_type"]
    search_fields = ["prompt"]
    list_select_related = ["template"]
    autocomplete_fields = ["template"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["template", *QuestionForm.Meta.fields]

    def save_model(self, request: HttpRequest, obj: Question, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and set(form.changed_data) & set(_SCORED):
            _bump_rubric(obj.template_id)


class OrganisationDraftAdmin(OrganisationModelAdmin):
    staff_add = staff_change = staff_delete = False
    list_display = ["created_at", "template", "question_type", "status", "provider", "requested_by", "reviewed_by"]
    list_filter = ["status", "question_type", "provider"]
    search_fields = ["prompt"]
    list_select_related = ["template", "requested_by", "reviewed_by"]
    fields = readonly_fields = (
        "template",
        "status",
        "source",
        "provider",
        "question_type",
        "prompt",
        "choices",
        "answer_key",
        "reference_answer",
        "rubric_bands",
        "topics",
        "requested_by",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(InterviewTemplate, OrganisationTemplateAdmin)
    site.register(Question, OrganisationQuestionAdmin)
    site.register(QuestionDraft, OrganisationDraftAdmin)
