"""Private coach thread pages: the list (create, rename, delete) and the thread itself.
The thread page renders a shell; `frontend/static/js/coach_thread.js` runs the socket."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.coach import services
from domains.coach.selectors import thread_get_for_user, thread_list_for_user
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_messages
from domains.notes.selectors import note_get_for_user


@login_required
def thread_list(request: AuthenticatedRequest) -> HttpResponse:
    threads = thread_list_for_user(user=request.user, organisation=request.organisation)
    return render(request, "coach/thread_list.html", {"threads": threads})


@login_required
@require_POST
def thread_create(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    note_id = request.POST.get("note_id", "").strip()
    try:
        if note_id:
            if not note_id.isdigit():
                raise Http404("No such note.")
            note = note_get_for_user(note_id=int(note_id), user=request.user, organisation=organisation)
            thread = services.thread_start_about_note(
                user=request.user, organisation=organisation, note=note, client_msg_id=uuid.uuid4().hex
            )
        else:
            thread = services.thread_create(
                user=request.user, organisation=organisation, title=request.POST.get("title", "")
            )
            question = request.POST.get("question", "")
            if question.strip():
                services.thread_message_post(
                    thread=thread, user=request.user, body=question, client_msg_id=uuid.uuid4().hex
                )
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
        return redirect("coach:thread_list")
    return redirect("coach:thread", thread_id=thread.pk)


@login_required
def thread_page(request: AuthenticatedRequest, thread_id: int) -> HttpResponse:
    thread = thread_get_for_user(thread_id=thread_id, user=request.user, organisation=organisation_or_404(request))
    config = {
        "socket": f"/ws/coach/{thread.pk}/",
        "user": {"id": request.user.pk, "name": request.user.public_name},
        "thread": {"id": thread.pk, "title": thread.title},
        "max_body_bytes": services.QUESTION_MAX_BYTES,
    }
    return render(request, "coach/thread.html", {"thread": thread, "thread_config": config})


@login_required
@require_POST
def thread_rename(request: AuthenticatedRequest, thread_id: int) -> HttpResponse:
    thread = thread_get_for_user(thread_id=thread_id, user=request.user, organisation=organisation_or_404(request))
    try:
        services.thread_rename(thread=thread, user=request.user, title=request.POST.get("title", ""))
    except Refusal as refusal:
        refusal_to_messages(request, refusal)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("coach:thread_list")


@login_required
@require_POST
def thread_delete(request: AuthenticatedRequest, thread_id: int) -> HttpResponse:
    thread = thread_get_for_user(thread_id=thread_id, user=request.user, organisation=organisation_or_404(request))
    services.thread_delete(thread=thread, user=request.user)
    messages.success(request, "Conversation deleted.")
    return redirect("coach:thread_list")
