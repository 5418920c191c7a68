"""The organisation-scoped admin kit: ModelAdmins and inlines that show one organisation's rows.

A domain's `admin.py` builds its /manage/ admins from these, with an `organisation_path` naming the
lookup from the model to its organisation, and registers them in its `register(site)`; the
interface layer builds the site (`project/admin_site.py`) and calls every domain's `register`:

- Every queryset, form choice (foreign keys, many-to-many, autocomplete) and list filter is
  filtered by the session's organisation (`request.organisation`, bound by the accounts
  middleware), and object lookups go through the scoped queryset, so another organisation's object
  answers exactly like a missing id (Django's "doesn't exist" redirect).
- The organisation field is never on a form: new rows get the session's organisation.
- Who may use them, the audit log and whose history shows are the site's (`OrganisationSite`),
  so this module names no domain: `domains.common` is the base every domain imports.
- The name is not `admin`: `domains.*.admin` is another domain's presentation, which no domain
  may import (docs/decisions/0009-layers.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter, SimpleListFilter
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import get_content_type_for_model
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest


@runtime_checkable
class OrganisationSite(Protocol):
    """What the scoped admins need from the site they are registered on (`OrganisationAdminSite`)."""

    def has_permission(self, request: HttpRequest) -> bool:
        """Whether the request may use the site: also decides every scoped admin's permissions."""
        ...

    def audit(self, request: HttpRequest, obj: Any, verb: str, message: Any) -> None:
        """Record an add, change or delete ("added", "changed", "deleted") made through the site."""
        ...

    def own_log_entries(self, request: HttpRequest, entries: QuerySet[LogEntry]) -> QuerySet[LogEntry]:
        """The admin log entries made by the session's organisation's own people."""
        ...


def session_organisation(request: HttpRequest) -> Any:
    """The organisation bound to the session, or None."""
    return getattr(request, "organisation", None)


def _is_multi_valued(model: type[models.Model], path: str) -> bool:
    """Whether following `path` from `model` can match one row several times (needs a subquery)."""
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if field.many_to_many or field.one_to_many:
            return True
        if field.related_model is None:
            return False
        model = field.related_model
    return False


class OrganisationScopedMixin:
    """Scope a ModelAdmin or an inline to the session's organisation; whom the site admits may use it.

    `organisation_path`: the ORM lookup from the model to its `Organisation` ("organisation",
    "lounge__organisation", "memberships__organisation"). When it is a direct field, that field is
    dropped from forms, lists and filters, and new rows get the session's organisation.
    `staff_add`/`staff_change`/`staff_delete`: what staff may do besides viewing.
    """

    organisation_path: str = "organisation"
    # The site has no content-type shortcut (see get_urls), so no "view on site" link either.
    view_on_site: Callable[[Any], str | None] | bool = False
    staff_add: bool = True
    staff_change: bool = True
    staff_delete: bool = True

    model: type[models.Model]
    admin_site: admin.AdminSite

    @property
    def organisation_site(self) -> OrganisationSite:
        site = self.admin_site
        if not isinstance(site, OrganisationSite):
            raise ImproperlyConfigured(f"{type(self).__name__} needs an organisation-scoped site, not {site!r}.")
        return site

    # ------------------------------------------------------------------ the scope
    @property
    def organisation_field(self) -> str | None:
        """The model's own organisation field, when the path is one."""
        return None if "__" in self.organisation_path else self.organisation_path

    def scope(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        organisation = session_organisation(request)
        if organisation is None:
            return queryset.none()
        lookup = {self.organisation_path: organisation}
        if _is_multi_valued(queryset.model, self.organisation_path):
            # A subquery, not a join: no duplicate rows, and later filters cannot widen the join.
            return queryset.filter(pk__in=queryset.model._default_manager.filter(**lookup).values("pk"))
        return queryset.filter(**lookup)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scope(request, super().get_queryset(request))  # type: ignore[misc]

    def choices_for(self, request: HttpRequest, model: type[models.Model]) -> QuerySet[Any]:
        """What a form may offer for a relation to `model`: the session's organisation itself, or
        the rows the scoped admin of `model` on this site shows; nothing for anything else."""
        organisation = session_organisation(request)
        if organisation is None:
            return model._default_manager.none()
        if model._meta.concrete_model is organisation._meta.concrete_model:
            return model._default_manager.filter(pk=organisation.pk)
        if self.admin_site.is_registered(model):
            related = self.admin_site.get_model_admin(model)
            if isinstance(related, OrganisationScopedMixin):
                return related.get_queryset(request)
        return model._default_manager.none()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", self.choices_for(request, db_field.remote_field.model))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("queryset", self.choices_for(request, db_field.remote_field.model))
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    # ------------------------------------------------------------------ the organisation field
    def _without_organisation(self, names: Sequence[Any]) -> list[Any]:
        field = self.organisation_field
        return [name for name in names if name != field]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])  # type: ignore[misc]
        if self.organisation_field:
            exclude.append(self.organisation_field)
        return exclude

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._without_organisation(super().get_fields(request, obj))  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            (name, {**options, "fields": self._without_organisation(options.get("fields", ()))})
            for name, options in super().get_fieldsets(request, obj)  # type: ignore[misc]
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._without_organisation(super().get_readonly_fields(request, obj))  # type: ignore[misc]

    def _bind_organisation(self, form_class: type[BaseForm], request: HttpRequest) -> Any:
        """The form with the session's organisation set on its instance before validation, so the
        model's unique constraints over (organisation, …) are checked, field by field, instead of
        failing as an IntegrityError on save."""
        organisation = session_organisation(request)
        if self.organisation_field is None or organisation is None:
            return form_class
        field: str = self.organisation_field

        class OrganisationBoundForm(form_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                setattr(self.instance, field, organisation)

            def _get_validation_exclusions(self) -> set[str]:
                exclude: set[str] = super()._get_validation_exclusions()
                exclude.discard(field)
                return exclude

        OrganisationBoundForm.__name__ = form_class.__name__
        return OrganisationBoundForm

    # ------------------------------------------------------------------ the audit log
    # Django's admin calls these after every add, change and delete it makes; each also lands in
    # the organisation's audit log, where staff and auditors read it (sensitive actions are audited).
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self.organisation_site.audit(request, obj, "added", message)
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        self.organisation_site.audit(request, obj, "changed", message)
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            self.organisation_site.audit(request, obj, "deleted", "")
        return super().log_deletions(request, queryset)  # type: ignore[misc]

    # ------------------------------------------------------------------ permissions
    # The site's rule (staff of the session's organisation), so an admin never admits more than it.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.organisation_site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.organisation_site.has_permission(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.staff_add and self.organisation_site.has_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.staff_change and self.organisation_site.has_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.staff_delete and self.organisation_site.has_permission(request)


class OrganisationModelAdmin(OrganisationScopedMixin, admin.ModelAdmin):
    """A ModelAdmin for an organisation-scoped site: see `OrganisationScopedMixin`."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return self._bind_organisation(super().get_form(request, obj, change, **kwargs), request)

    def get_list_display(self, request: HttpRequest) -> Any:
        return self._without_organisation(super().get_list_display(request))

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Only the list's own filters and date hierarchy. Django also admits any lookup on a local
        field, so `?password__startswith=pbkdf2` on members would be an oracle, one character at a
        time; anything else is refused (400)."""
        paths: set[str] = {self.date_hierarchy} if self.date_hierarchy else set()
        filters = self.get_list_filter(request) if request is not None else self.list_filter
        for entry in filters:
            if isinstance(entry, type) and issubclass(entry, SimpleListFilter):
                paths.add(str(entry.parameter_name))
            elif isinstance(entry, list | tuple):
                paths.add(str(entry[0]))
            elif isinstance(entry, str):
                paths.add(entry)
        return any(lookup == path or lookup.startswith(f"{path}__") for path in paths if path)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        """Only what this organisation's own people did (the site's `own_log_entries`). The object
        lookup stays the scoped one, so a foreign id answers like a missing one."""
        entries = (
            self.organisation_site.own_log_entries(
                request,
                LogEntry.objects.filter(
                    object_id=unquote(object_id), content_type=get_content_type_for_model(self.model)
                ),
            )
            .select_related("user")
            .order_by("-action_time")
        )
        paginator = self.get_paginator(request, entries, 100)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        scoped = {
            "action_list": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "pagination_required": paginator.count > 100,
        }
        return super().history_view(request, object_id, {**scoped, **(extra_context or {})})

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Without the organisation filter; a relation's choices are only the related rows that
        occur in this (scoped) list, never every row of the related table."""
        filters: list[Any] = []
        for entry in super().get_list_filter(request):
            if entry == self.organisation_field:
                continue
            if isinstance(entry, str) and _is_relation_path(self.model, entry):
                filters.append((entry, RelatedOnlyFieldListFilter))
            else:
                filters.append(entry)
        return filters


class OrganisationTabularInline(OrganisationScopedMixin, admin.TabularInline):
    """An inline for an organisation-scoped site: see `OrganisationScopedMixin`."""

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = self._bind_organisation(formset.form, request)
        return formset


def _is_relation_path(model: type[models.Model], path: str) -> bool:
    field: Any = None
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if field.related_model is None:
            return False
        model = field.related_model
    return field is not None and field.is_relation
