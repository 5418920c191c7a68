from __future__ import annotations

import copy
import math
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from domains.accounts.forms import (
    AccountSettingsForm,
    MemberRolesForm,
    OrganisationCreateForm,
    OrganisationSwitchForm,
)
from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.accounts.models import Organisation, Role
from domains.accounts.selectors import (
    member_get,
    member_list,
    member_or_suspended_get,
    member_suspension_list,
    organisation_public_get,
    organisation_settings_get,
    roles_for_user,
)
from domains.accounts.services import (
    member_deactivate,
    member_reactivate,
    member_remove,
    membership_roles_set,
    organisation_create,
    organisation_settings_update,
    organisation_switch,
)
from domains.accounts.settings_sections import settings_sections
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form
from domains.common.uploads import upload_kind_for_name

# What each role's dashboard offers today; later issues link their features here.
_PANELS: dict[str, tuple[str, str, str, str]] = {
    # role: (title, text, url name, action)
    Role.LEARNER: (
        "Learning",
        "Join a lounge, keep notes, and ask your private coach.",
        "lounges:directory",
        "Open the lounges",
    ),
    Role.CANDIDATE: (
        "Interviews",
        "Practise timed interviews, or take the ones you were assigned; your report follows each one.",
        "interviews:assignments",
        "Open the interviews",
    ),
    Role.MENTOR: (
        "Mentoring",
        "Moderate your lounges: reports, mutes, pins, slow mode.",
        "lounges:directory",
        "Your lounges",
    ),
    Role.STAFF: (
        "Organisation",
        "Manage members and their roles, and read the audit log.",
        "accounts:members",
        "Manage members",
    ),
    Role.CASHIER: ("Payments", "Billing tools arrive in a later release.", "", ""),
    Role.REGISTRAR: ("Records", "Student records arrive in a later release.", "", ""),
}


def home(request: HttpRequest) -> HttpResponse:
    """The dashboard for a signed-in person; for a visitor, what Coachwire is and how to get in."""
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    return _dashboard(cast(AuthenticatedRequest, request))


def _dashboard(request: AuthenticatedRequest) -> HttpResponse:
    roles = request.roles
    panels = [
        {"role": role, "title": title, "body": body, "url": reverse(url_name) if url_name else None, "action": action}
        for role, (title, body, url_name, action) in _PANELS.items()
        if role in roles
    ]
    return render(
        request,
        "home.html",
        {"panels": panels},
    )


@login_required
def account_settings_view(request: AuthenticatedRequest) -> HttpResponse:
    """The person's name and time zone; password, email and two-factor are allauth's pages, linked here."""
    # A copy: validating writes the valid fields onto the instance, and a refused form must leave
    # the page (its header shows request.user) as it was.
    form = AccountSettingsForm(request.POST or None, instance=copy.copy(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your settings are saved.")
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def organisation_switch_view(request: AuthenticatedRequest) -> HttpResponse:
    form = OrganisationSwitchForm(request.POST)
    if not form.is_valid():
        raise Http404("No such organisation.")
    organisation = organisation_switch(
        user=request.user,
        session=request.session,
        organisation_id=form.cleaned_data["organisation_id"],
    )
    messages.success(request, f"You are now working in {organisation.name}.")
    return redirect("home")


def _require(request: AuthenticatedRequest, perm: str) -> Organisation:
    organisation = organisation_or_404(request)
    if not request.user.has_perm(perm, organisation):
        raise PermissionDenied
    return organisation


@login_required
def member_list_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = _require(request, "accounts.view_members")
    members = [
        (member, sorted(m.role for m in member.memberships.all() if m.organisation_id == organisation.pk))
        for member in member_list(organisation=organisation)
    ]
    # Email addresses are for staff, who run members; mentors see public names only.
    can_manage = request.user.has_perm("accounts.manage_members", organisation)
    context = {
        "members": members,
        "show_email": can_manage,
        "can_manage": can_manage,
        # Deactivated members are staff business: mentors see only who is in.
        "suspensions": list(member_suspension_list(organisation=organisation)) if can_manage else [],
    }
    return render(request, "accounts/member_list.html", context)


@login_required
def member_detail_view(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    organisation = organisation_or_404(request)
    # The role check comes first: a person who may not see member pages gets the same 403 for every
    # id, so the answer never tells which ids are members. Those who may see them get 404 for ids
    # outside their organisation, like missing ones.
    if not request.user.has_perm("accounts.view_members", organisation):
        raise PermissionDenied
    member = member_get(organisation=organisation, user_id=user_id)
    can_manage = request.user.has_perm("accounts.manage_members", organisation)
    current = sorted(roles_for_user(user=member, organisation=organisation))
    form = MemberRolesForm(request.POST or None, initial={"roles": current})
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                membership_roles_set(
                    organisation=organisation,
                    user=member,
                    roles=set(form.cleaned_data["roles"]),
                    actor=request.user,
                    request=request,
                )
            except Refusal as refusal:
                form.add_error("roles", refusal.message)
            else:
                messages.success(request, f"Roles updated for {member.public_name}.")
                return redirect("accounts:member_detail", user_id=member.pk)
    context = {
        "member": member,
        "form": form,
        "can_manage": can_manage,
        # The address is shown to staff and to the person themself; mentors see the public name only.
        "show_email": can_manage or member.pk == request.user.pk,
    }
    return render(request, "accounts/member_detail.html", context)


# What each member action does, and what the page says after it.
_MEMBER_ACTIONS = {
    "deactivate": (member_deactivate, "{name} is deactivated: their roles are kept until you reactivate them."),
    "reactivate": (member_reactivate, "{name} is active again, with the roles they held."),
    "remove": (member_remove, "{name} is no longer a member of {organisation}."),
}


@login_required
@require_POST
def member_action_view(request: AuthenticatedRequest, user_id: int, action: str) -> HttpResponse:
    """Deactivate, reactivate or remove a member (staff). A refusal (yourself, the last staff
    member) comes back as a message on the members page; nothing changes."""
    organisation = _require(request, "accounts.manage_members")
    service, done = _MEMBER_ACTIONS[action]
    member = member_or_suspended_get(organisation=organisation, user_id=user_id)
    try:
        service(organisation=organisation, user=member, actor=request.user, request=request)
    except Refusal as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, done.format(name=member.public_name, organisation=organisation.name))
    return redirect("accounts:members")


@login_required
def organisation_create_view(request: AuthenticatedRequest) -> HttpResponse:
    """A signed-in person starts an organisation: they become its staff and work in it from now on."""
    form = OrganisationCreateForm(request.POST or None)
    retry_after: float | None = None
    if request.method == "POST" and form.is_valid():
        try:
            organisation = organisation_create(
                user=request.user, name=form.cleaned_data["name"], slug=form.cleaned_data["slug"], request=request
            )
        except Refusal as refusal:
            refusal_to_form(form, refusal)
            retry_after = refusal.retry_after
        else:
            organisation_switch(user=request.user, session=request.session, organisation_id=organisation.pk)
            messages.success(request, f"{organisation.name} is ready. You are its staff.")
            return redirect("home")
    status = 429 if retry_after is not None else 400 if form.errors else 200
    response = render(request, "accounts/organisation_new.html", {"form": form}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


@login_required
def organisation_settings_view(request: AuthenticatedRequest) -> HttpResponse:
    """The session's organisation's settings, one section per domain (settings_sections), saved all
    together or not at all. Staff only; like /members/, the role is checked before anything else."""
    organisation = organisation_or_404(request)
    if not request.user.has_perm("accounts.manage_settings", organisation):
        raise PermissionDenied
    posted = request.method == "POST"
    sections = [
        (
            section,
            section.form_class(
                request.POST if posted else None,
                request.FILES if posted else None,
                prefix=section.key,
                initial=section.load(organisation),
            ),
        )
        for section in settings_sections()
    ]
    valid = [form.is_valid() for _, form in sections]  # every section, so each shows its errors
    if posted and all(valid):
        try:
            organisation_settings_update(
                organisation=organisation,
                actor=request.user,
                data={section.key: form.cleaned_data for section, form in sections},
                request=request,
            )
        except Refusal as refusal:
            _refusal_to_sections(sections, refusal)
        else:
            messages.success(request, "The organisation's settings are saved.")
            return redirect("accounts:organisation_settings")
    has_errors = any(form.errors for _, form in sections)
    brand = organisation_settings_get(organisation=organisation)
    return render(
        request,
        "accounts/organisation_settings.html",
        {"sections": sections, "has_errors": has_errors, "current_logo": bool(brand.logo)},
        status=400 if has_errors else 200,
    )


def _refusal_to_sections(sections: list[tuple[Any, Any]], refusal: Refusal) -> None:
    """The service names fields `<section>-<field>`; each message goes beside its field."""
    by_field = refusal.field_errors()
    for section, form in sections:
        own = {
            name.removeprefix(f"{section.key}-"): texts
            for name, texts in by_field.items()
            if name.startswith(f"{section.key}-")
        }
        if section.key in by_field:
            own.setdefault("__all__", []).extend(by_field[section.key])
        if own:
            refusal_to_form(form, Refusal(refusal.code, refusal.message, fields=own))


_BRAND_CACHE = "public, max-age=31536000, immutable"  # the addresses carry ?v=<change time>


@require_GET
def organisation_logo_view(request: HttpRequest, slug: str) -> FileResponse:
    """An organisation's logo, public like its other /o/<slug>/ pages (emails show it too). Served
    with the type its stored name says (we chose that name after checking the content), nosniff and
    a sandbox, so even a file that slipped past could not run as a page."""
    organisation = organisation_public_get(slug=slug)
    row = organisation_settings_get(organisation=organisation)
    name = row.logo.name or ""
    kind = upload_kind_for_name(name) if name else None
    if kind is None or not default_storage.exists(name):
        raise Http404("No logo.")
    response = FileResponse(default_storage.open(name, "rb"), content_type=kind.mime_type)
    response["Cache-Control"] = _BRAND_CACHE
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = f'inline; filename="logo{kind.extension}"'
    return response


@require_GET
def organisation_theme_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The organisation's colours as a stylesheet (the CSP refuses inline styles). Colours are
    #rrggbb by check constraint, so nothing but a colour reaches the CSS. A slug that names no
    active organisation gets the same empty stylesheet as one without colours: the stylesheet says
    nothing about which organisations exist."""
    try:
        organisation = organisation_public_get(slug=slug)
    except Http404:
        organisation = None
    rules = []
    if organisation is not None:
        row = organisation_settings_get(organisation=organisation)
        if row.primary_colour:
            rules.append(f"--brand: {row.primary_colour};")
        if row.accent_colour:
            rules.append(f"--accent: {row.accent_colour}; --accent-text: #fff;")
    # Light mode only: the colours are checked against white; dark mode keeps the product's palette.
    css = f"@media not (prefers-color-scheme: dark) {{ :root {{ {' '.join(rules)} }} }}\n" if rules else ""
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = _BRAND_CACHE
    return response
