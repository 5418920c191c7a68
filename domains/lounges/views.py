"""Lounge pages: the directory with join and leave, the room shell and its moderation log.

The room page renders only the shell (title, topic, the person's rights); `frontend/static/js/lounge.js`
renders the history from the socket's snapshot and applies the room's events.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.common.forms import refusal_to_messages
from domains.compliance.describe import describe_events
from domains.lounges.models import Lounge, LoungeMembership
from domains.lounges.selectors import (
    lounge_get_for_invite,
    lounge_get_for_user,
    lounge_get_viewable,
    lounge_list_for_user,
    lounge_moderation_log,
    lounge_rights,
    member_rows,
)
from domains.lounges.services import MAX_BODY_BYTES, LoungeError, lounge_join, lounge_leave

MODERATION_LOG_PAGE_SIZE = 50


def _viewable(request: AuthenticatedRequest, slug: str) -> tuple[Lounge, LoungeMembership | None]:
    """The lounge and membership, or 404 exactly as the socket answers 4404."""
    return lounge_get_viewable(organisation=organisation_or_404(request), user=request.user, slug=slug)


def _next_or(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@login_required
def directory(request: AuthenticatedRequest) -> HttpResponse:
    lounges = lounge_list_for_user(organisation=organisation_or_404(request), user=request.user)
    return render(request, "lounges/directory.html", {"lounges": lounges})


@login_required
def room(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    lounge, membership = _viewable(request, slug)
    moderator = membership is not None and membership.is_moderator
    context = {
        "lounge": lounge,
        "membership": membership,
        "is_moderator": moderator,
        "room_config": {
            "socket": f"/ws/lounges/{lounge.slug}/",
            "me": {"id": request.user.pk, "name": request.user.public_name},
            "lounge": {
                "slug": lounge.slug,
                "title": lounge.title,
                "access": lounge.access,
                "coach_name": lounge.coach_name,
            },
            "rights": lounge_rights(lounge=lounge, membership=membership),
            "members": member_rows(lounge=lounge) if moderator else [],
            "max_body_bytes": MAX_BODY_BYTES,
            "join_url": reverse("lounges:join", args=[lounge.slug]),
            "moderation_url": reverse("lounges:moderation_log", args=[lounge.slug]) if moderator else "",
        },
    }
    return render(request, "lounges/room.html", context)


@login_required
def moderation_log(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """The lounge's moderation audit trail, newest first; not found for anyone but its moderators."""
    lounge, membership = _viewable(request, slug)
    if membership is None or not membership.is_moderator:
        raise Http404("No such lounge.")
    page = Paginator(lounge_moderation_log(lounge=lounge), MODERATION_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "lounges/moderation_log.html", {"lounge": lounge, "page": page, "lines": describe_events(page)}
    )


def _lounge_for_join(request: AuthenticatedRequest, slug: str) -> Lounge:
    """An invite-only lounge is invisible to non-members, so it is found here only together with
    a code; a wrong code answers exactly like a missing lounge."""
    organisation = organisation_or_404(request)
    try:
        lounge, _ = lounge_get_for_user(organisation=organisation, user=request.user, slug=slug)
    except Http404:
        return lounge_get_for_invite(
            organisation=organisation, user=request.user, slug=slug, invite_code=request.POST.get("invite_code", "")
        )
    return lounge


@login_required
@require_POST
def join(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    lounge = _lounge_for_join(request, slug)
    try:
        lounge_join(lounge=lounge, user=request.user, invite_code=request.POST.get("invite_code", ""))
    except LoungeError as refusal:
        refusal_to_messages(request, refusal)
        return redirect(_next_or(request, reverse("lounges:directory")))
    messages.success(request, f"You joined {lounge.title}.")
    return redirect(_next_or(request, reverse("lounges:directory")))


@login_required
@require_POST
def leave(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    lounge, _ = lounge_get_for_user(organisation=organisation_or_404(request), user=request.user, slug=slug)
    try:
        left = lounge_leave(lounge=lounge, user=request.user)
    except LoungeError as refusal:  # the owner: hand the lounge over first
        refusal_to_messages(request, refusal)
        return redirect(_next_or(request, reverse("lounges:directory")))
    if left:
        messages.success(request, f"You left {lounge.title}.")
    return redirect(_next_or(request, reverse("lounges:directory")))
