from __future__ import annotations

import copy
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from domains.accounts.forms import AccountSettingsForm, MemberRolesForm, OrganisationSwitchForm
from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.accounts.models import Organisation, Role
from domains.accounts.selectors import member_get, member_list, organisation_list_for_user, roles_for_user
from domains.accounts.services import membership_roles_set, organisation_switch

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
        "Timed interviews arrive in a later release; practise in the lounges meanwhile.",
        "lounges:directory",
        "Open the lounges",
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
        {"panels": panels, "organisations": organisation_list_for_user(user=request.user)},
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
    show_email = request.user.has_perm("accounts.manage_members", organisation)
    return render(request, "accounts/member_list.html", {"members": members, "show_email": show_email})


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
            membership_roles_set(
                organisation=organisation,
                user=member,
                roles=set(form.cleaned_data["roles"]),
                actor=request.user,
                request=request,
            )
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
