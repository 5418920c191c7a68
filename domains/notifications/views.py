"""Notification pages: the list (all or unread; mark one or all read), opening one (marks it read
and goes to what it is about), email preferences, and unsubscribe, which works signed out: its
signed token is the only proof needed. Every lookup is the session user's own; a foreign id is 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from domains.accounts.http import AuthenticatedRequest
from domains.notifications.kinds import Delivery, NotificationKind
from domains.notifications.models import Notification
from domains.notifications.selectors import notification_list_for_user, preferences_for_user, unread_count
from domains.notifications.services import (
    NotificationError,
    PreferencesRefusedError,
    notification_read,
    notifications_read_all,
    preferences_set,
    unsubscribe,
    unsubscribe_read,
)

PAGE_SIZE = 30


def _notification_id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
        raise Http404("No such notification.")
    return int(raw)


@login_required
def list_view(request: AuthenticatedRequest) -> HttpResponse:
    unread_only = request.GET.get("filter") == "unread"
    notifications = notification_list_for_user(user=request.user, unread=unread_only)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {"page": page, "unread_only": unread_only, "unread": unread_count(user=request.user)},
    )


@login_required
def open_view(request: AuthenticatedRequest, notification_id: str) -> HttpResponse:
    """Follow a notification: it is read now, and the person lands on what it is about."""
    try:
        notification = notification_read(user=request.user, notification_id=_notification_id(notification_id))
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    target = notification.link
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("notifications:list")
    return redirect(target)


@login_required
@require_POST
def read_view(request: AuthenticatedRequest, notification_id: str) -> HttpResponse:
    try:
        notification_read(user=request.user, notification_id=_notification_id(notification_id))
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    return redirect(_back(request))


@login_required
@require_POST
def read_all_view(request: AuthenticatedRequest) -> HttpResponse:
    count = notifications_read_all(user=request.user)
    done = ngettext("Marked %(count)d notification read.", "Marked %(count)d notifications read.", count)
    messages.success(request, done % {"count": count} if count else gettext("Nothing was unread."))
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("notifications:list")


@login_required
@require_http_methods(["GET", "POST"])
def preferences_view(request: AuthenticatedRequest) -> HttpResponse:
    """One choice per kind (off, at once, daily digest); a bad value changes nothing and says which."""
    current = preferences_for_user(user=request.user)
    if request.method == "GET":
        return _preferences_page(request, [(kind, delivery, "") for kind, delivery in current])
    wanted = [(kind.name, request.POST.get(f"kind-{kind.name}", "")) for kind, _ in current]
    try:
        preferences_set(user=request.user, choices=wanted)
    except PreferencesRefusedError as refused:
        errors = {wanted[position][0]: refusal.message for position, refusal in refused.refusals.items()}
        chosen = dict(wanted)
        rows = [(kind, chosen[kind.name] or delivery, errors.get(kind.name, "")) for kind, delivery in current]
        return _preferences_page(request, rows, status=400)
    messages.success(request, gettext("Email preferences saved."))
    return redirect("notifications:preferences")


def _preferences_page(
    request: AuthenticatedRequest, rows: list[tuple[NotificationKind, str, str]], status: int = 200
) -> HttpResponse:
    context = {"rows": rows, "has_errors": any(error for _, _, error in rows), "choices": Delivery.choices}
    return render(request, "notifications/preferences.html", context, status=status)


@csrf_exempt  # RFC 8058: mail clients POST the one-click unsubscribe without a session or CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a mail scanner that follows links changes nothing); POST, the one click, turns off
    that kind's email for that person and says so."""
    try:
        if request.method == "POST":
            user, kind = unsubscribe(token)
            done = True
        else:
            user, kind = unsubscribe_read(token)
            done = False
    except NotificationError:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    return render(request, "notifications/unsubscribe.html", {"kind": kind, "done": done, "email": user.email})
