"""Lounge pages: the directory with join and leave. The room page is rendered by `room`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from domains.lounges.selectors import lounge_get_for_user, lounge_list_for_user
from domains.lounges.services import LoungeError, lounge_join, lounge_leave


def _organisation(request: HttpRequest):  # type: ignore[no-untyped-def]
    organisation = getattr(request, "organisation", None)
    if organisation is None:
        raise Http404("No organisation.")
    return organisation


@login_required
def directory(request: HttpRequest) -> HttpResponse:
    lounges = lounge_list_for_user(organisation=_organisation(request), user=request.user)  # type: ignore[arg-type]
    return render(request, "lounges/directory.html", {"lounges": lounges})


@login_required
@require_POST
def join(request: HttpRequest, slug: str) -> HttpResponse:
    lounge, _ = lounge_get_for_user(organisation=_organisation(request), user=request.user, slug=slug)
    try:
        lounge_join(lounge=lounge, user=request.user, invite_code=request.POST.get("invite_code", ""))  # type: ignore[arg-type]
    except LoungeError as refusal:
        messages.error(request, refusal.message)
        return redirect("lounges:directory")
    messages.success(request, f"You joined {lounge.title}.")
    return redirect("lounges:directory")


@login_required
@require_POST
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    lounge, _ = lounge_get_for_user(organisation=_organisation(request), user=request.user, slug=slug)
    if lounge_leave(lounge=lounge, user=request.user):  # type: ignore[arg-type]
        messages.success(request, f"You left {lounge.title}.")
    return redirect("lounges:directory")
