"""Active sessions: allauth.usersessions keeps one `UserSession` row per signed-in session (its
user agent, the client address, when it started and was last seen); this module is what we add.

- `UserSessionsAdapter` (USERSESSIONS_ADAPTER): ending a session, from the page
  (/accounts/sessions/), the API (DELETE /api/v1/users/me/sessions/{id}) or allauth headless,
  deletes it from the session store (so its cookie and the app tokens backed by it stop working),
  closes every socket of that session after commit (`force_close`, reason `session_ended`, 4401)
  and audits `auth.session_ended`.
- The device: a readable browser and operating system, parsed from the user agent by ua-parser
  (`device_describe`). Each row carries its label in `data["device"]`, written whenever allauth
  saves the row, so the page's template can show it.

The address allauth records is `AccountAdapter.get_client_ip` (domains/accounts/adapter.py), that
is `domains.common.client_ip`: a forged X-Forwarded-For never reaches the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from allauth.account.signals import user_logged_in
from allauth.core import context as allauth_context
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from allauth.usersessions.models import UserSession
from django.db import transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest
from ua_parser import parse

from domains.compliance.services import audit_record
from realtime.publish import control_send
from realtime.streams import session_group

SESSION_ENDED = "session_ended"
UNKNOWN_DEVICE = "Unknown device"
# The field the page's per-session buttons post (with allauth's own form) to end only that session.
END_ONE_FIELD = "session"


class Device(NamedTuple):
    """A user agent as people read it: `label` "Firefox 128 on Ubuntu", `browser` "Firefox 128"
    (None when unknown), `os` "Ubuntu" (None when unknown)."""

    label: str
    browser: str | None
    os: str | None


def _named(family: str | None, *versions: str | None) -> str | None:
    if not family or family == "Other":
        return None
    version = ".".join(part for part in versions if part)
    return f"{family} {version}" if version else family


@lru_cache(maxsize=2048)
def device_describe(user_agent: str) -> Device:
    """The browser (family and major version) and the operating system (family, major and minor
    version) of `user_agent`; "Unknown device" when neither is recognised. Cached: the same few
    agents come back on every request."""
    result = parse(user_agent) if user_agent else None
    browser = os = None
    if result is not None:
        if result.user_agent is not None:
            browser = _named(result.user_agent.family, result.user_agent.major)
        if result.os is not None:
            os = _named(result.os.family, result.os.major, result.os.minor)
    label = f"{browser} on {os}" if browser and os else browser or os or UNKNOWN_DEVICE
    return Device(label=label, browser=browser, os=os)


@receiver(pre_save, sender=UserSession, dispatch_uid="accounts.session_device_label")
def session_device_label(sender: Any, instance: UserSession, **kwargs: Any) -> None:
    """allauth saves the row at sign-in and, tracking activity, on every request: keep its device
    label in step with its user agent (no extra query: it rides on allauth's own write)."""
    device = device_describe(instance.user_agent or "")
    instance.data = {**(instance.data or {}), "device": device.label}


@receiver(user_logged_in, dispatch_uid="accounts.session_seen_at_sign_in")
def session_seen_at_sign_in(sender: Any, request: HttpRequest, **kwargs: Any) -> None:
    """allauth wrote this session's row as it signed the person in (usersessions' own receiver of
    this signal): `SessionActivityMiddleware` need not write it again on the next request."""
    from domains.accounts.middleware import session_seen_mark

    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        session_seen_mark(key)


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    """allauth's session ending, plus our socket closing and audit.

    The page's form is allauth's "sign out the other sessions" (ManageUserSessionsForm); its
    per-session buttons post that form with `session=<id>`, and then only that session of the
    others ends (`_chosen`). An id that is not one of them ends nothing."""

    def end_sessions(self, sessions: Iterable[UserSession], *, reason: str = "ended_by_owner") -> None:
        """End each session: delete it from the session store and its row, audit
        `auth.session_ended` (target: its owner; details: the session's id, device, address and
        `reason`), and after commit close its sockets with `force_close` / 4401."""
        request: HttpRequest | None = allauth_context.request
        chosen = self._chosen(request, list(sessions))
        actor = getattr(request, "user", None) if request is not None else None
        if request is not None:
            # The page's message says what happened (usersessions/messages/sessions_logged_out.txt).
            request.ended_session_count = len(chosen)  # type: ignore[attr-defined]
        with transaction.atomic():
            for session in chosen:
                key, owner, session_id = session.session_key, session.user, session.pk
                details = {
                    "session_id": session_id,
                    "device": device_describe(session.user_agent or "").label,
                    "ip": session.ip,
                    "reason": reason,
                }
                session.end()
                audit_record(
                    actor=actor,
                    organisation=None,
                    action="auth.session_ended",
                    target=owner,
                    details=details,
                    request=request,
                )
                control_send(session_group(key), action="force_close", reason=SESSION_ENDED, code=4401)

    @staticmethod
    def _chosen(request: HttpRequest | None, sessions: list[UserSession]) -> list[UserSession]:
        """The sessions to end: all of them, unless this is the page's POST naming one."""
        if request is None or request.method != "POST":
            return sessions
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name != "usersessions_list" or END_ONE_FIELD not in request.POST:
            return sessions
        wanted = request.POST.get(END_ONE_FIELD, "")
        return [session for session in sessions if str(session.pk) == wanted]
