"""Invitation pages: the staff/mentor page (invite, list, resend, revoke; the session's
organisation only, a foreign id is 404) and the accept page, which works signed out: its signed
link is the proof. A refused link answers 400 with a page that says why, and changes nothing."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.accounts.models import Organisation, Role
from domains.accounts.services import organisation_switch
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form, refusal_to_messages
from domains.invitations.forms import AcceptSignupForm, InvitationForm
from domains.invitations.models import Invitation
from domains.invitations.rules import roles_invitable
from domains.invitations.selectors import invitation_get_for_user, invitation_list_for_user
from domains.invitations.services import (
    InvitationError,
    account_exists,
    invitation_accept,
    invitation_accept_signup,
    invitation_check_account,
    invitation_create,
    invitation_read,
    invitation_resend,
    invitation_revoke,
)

PAGE_SIZE = 50
# The session created at sign-up is Django's own login; the password was just set, so no backend
# needs to check it, and axes has nothing to count.
SIGNUP_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _inviter(request: AuthenticatedRequest) -> tuple[Organisation, list[str]]:
    """The organisation and the roles this person may invite to; 403 for someone who may invite
    nobody (the same for every id, so the answer never tells which ids exist)."""
    organisation = organisation_or_404(request)
    roles = roles_invitable(user=request.user, organisation=organisation)
    if not roles:
        raise PermissionDenied
    return organisation, roles


def _invitation_id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
        raise Http404("No such invitation.")
    return int(raw)


@login_required
@require_http_methods(["GET", "POST"])
def list_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation, roles = _inviter(request)
    form = InvitationForm(request.POST or None, roles=roles)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitation_create(
                organisation=organisation,
                inviter=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                request=request,
            )
        except InvitationError as refusal:
            refusal_to_form(form, refusal)
        else:
            messages.success(request, gettext("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("invitations:list")
    invitations = invitation_list_for_user(organisation=organisation, user=request.user)
    page = Paginator(invitations, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "invitations/list.html",
        {"form": form, "page": page, "ttl_days": settings.INVITATION_TTL_DAYS},
        status=400 if form.errors else 200,
    )


def _act(request: AuthenticatedRequest, invitation_id: str, verb: str) -> HttpResponse:
    organisation, _ = _inviter(request)
    invitation = invitation_get_for_user(
        organisation=organisation, user=request.user, invitation_id=_invitation_id(invitation_id)
    )
    try:
        if verb == "resend":
            invitation = invitation_resend(invitation=invitation, actor=request.user, request=request)
            messages.success(request, gettext("Sent again to %(email)s.") % {"email": invitation.email})
        else:
            invitation = invitation_revoke(invitation=invitation, actor=request.user, request=request)
            messages.success(request, gettext("Invitation to %(email)s withdrawn.") % {"email": invitation.email})
    except InvitationError as refusal:
        refusal_to_messages(request, refusal)
    return redirect("invitations:list")


@login_required
@require_POST
def resend_view(request: AuthenticatedRequest, invitation_id: str) -> HttpResponse:
    return _act(request, invitation_id, "resend")


@login_required
@require_POST
def revoke_view(request: AuthenticatedRequest, invitation_id: str) -> HttpResponse:
    return _act(request, invitation_id, "revoke")


def _refused(request: HttpRequest, refusal: Refusal, invitation: Invitation | None = None) -> HttpResponse:
    return render(request, "invitations/refused.html", {"refusal": refusal, "invitation": invitation}, status=400)


@require_http_methods(["GET", "POST"])
def accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the invitation (a mail scanner following the link accepts nothing); POST accepts:
    signed in as the invited address, or by creating the account. Someone who has an account but
    is signed out is asked to sign in and comes back here."""
    try:
        invitation = invitation_read(token)
    except InvitationError as refusal:
        return _refused(request, refusal)
    context = {"invitation": invitation, "role_label": Role(invitation.role).label, "token": token}
    if request.user.is_authenticated:
        return _accept_signed_in(cast(AuthenticatedRequest, request), token, invitation, context)
    if account_exists(email=invitation.email):
        if request.method == "POST":
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        return render(request, "invitations/accept.html", {**context, "mode": "sign_in"})
    form = AcceptSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, user = invitation_accept_signup(
                token=token,
                display_name=form.cleaned_data["display_name"],
                password=form.cleaned_data["password1"],
                consent=form.cleaned_data["accept_policies"],
                request=request,
            )
        except Refusal as refusal:  # the invitation's, or a pending assignment's
            if refusal.field is None and refusal.code != "account_exists":
                return _refused(request, refusal)
            refusal_to_form(form, refusal)
        else:
            login(request, user, backend=SIGNUP_BACKEND)
            organisation_switch(user=user, session=request.session, organisation_id=invitation.organisation_id)
            return _joined(request, invitation)
    status = 400 if form.errors else 200
    return render(request, "invitations/accept.html", {**context, "mode": "sign_up", "form": form}, status=status)


def _accept_signed_in(
    request: AuthenticatedRequest, token: str, invitation: Invitation, context: dict[str, object]
) -> HttpResponse:
    try:
        invitation_check_account(invitation=invitation, user=request.user)
    except InvitationError as refusal:
        return _refused(request, refusal, invitation)
    if request.method == "GET":
        return render(request, "invitations/accept.html", {**context, "mode": "join"})
    try:
        invitation = invitation_accept(token=token, user=request.user, session=request.session, request=request)
    except Refusal as refusal:  # the invitation's, or a pending assignment's
        return _refused(request, refusal, invitation)
    return _joined(request, invitation)


def _joined(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    messages.success(
        request,
        gettext("You joined %(organisation)s as %(role)s.")
        % {"organisation": invitation.organisation.name, "role": Role(invitation.role).label.lower()},
    )
    return redirect("home")
