"""Receivers that audit authentication and keep open sockets honest about identity."""

from __future__ import annotations

from typing import Any

import structlog
from allauth.account.signals import password_changed, password_reset, password_set
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django_structlog.signals import bind_extra_request_metadata

from domains.accounts.adapter import login_address_remember
from domains.accounts.models import User
from domains.common.client_ip import client_ip
from domains.compliance.services import audit_record
from realtime.publish import control_send
from realtime.streams import session_group


@receiver(bind_extra_request_metadata, dispatch_uid="accounts.log_resolved_ip")
def log_resolved_ip(sender: Any, request: Any, **kwargs: Any) -> None:
    """Log lines carry the resolved client IP too: django-structlog's own guess (django-ipware's
    defaults) believes any client's X-Forwarded-For."""
    structlog.contextvars.bind_contextvars(ip=client_ip(request))


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit_record(actor=user, organisation=None, action="auth.login", target=user, request=request)
    if request is not None:
        login_address_remember(email=user.email, ip=client_ip(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    attempted = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit_record(
        actor=None,
        organisation=None,
        action="auth.login_failed",
        request=request,
        actor_label=attempted or "unknown",
        details={"email": attempted},
    )


@receiver(user_locked_out, dispatch_uid="accounts.audit_locked_out")
def audit_locked_out(sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    """One audit row when axes locks an (account, address) pair. axes sends this signal again for
    every refused attempt during the lock (each is audited as `auth.login_failed` already), so
    only the attempt that reaches the limit is recorded; the address is the resolved client IP."""
    from axes.helpers import get_cool_off, get_failure_limit

    failures = getattr(request, "axes_failures_since_start", None)
    limit = get_failure_limit(request, getattr(request, "axes_credentials", None))
    if failures is not None and failures != limit:
        return
    cool_off = get_cool_off(request)
    attempted = (username or "")[:254]
    audit_record(
        actor=None,
        organisation=None,
        action="auth.locked_out",
        request=request,
        actor_label=attempted or "unknown",
        details={
            "email": attempted,
            "failures": failures if failures is not None else limit,
            "cool_off_seconds": int(cool_off.total_seconds()) if cool_off else None,
        },
    )


@receiver(password_reset, dispatch_uid="accounts.password_reset_unlocks")
def password_reset_unlocks(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """A completed reset proves the mailbox is the owner's: lift that account's lockouts."""
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.reset_attempts(username=user.email.lower())


@receiver(user_logged_out, dispatch_uid="accounts.logout_closes_sockets")
def logout_closes_sockets(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    """Logging out in one tab closes that session's sockets in every tab (Django flushes the
    session right after this signal, so its key is still readable here)."""
    if user is not None:
        audit_record(actor=user, organisation=None, action="auth.logout", target=user, request=request)
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        control_send(session_group(session_key), action="force_close", reason="logout", code=4401)


@receiver([password_changed, password_reset, password_set], dispatch_uid="accounts.password_closes_sockets")
def password_change_closes_sockets(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    """Other sessions are invalid now; their sockets must not outlive them. The current tab
    reconnects on its still-valid session."""
    from domains.accounts.services import user_sockets_close

    audit_record(actor=user, organisation=None, action="auth.password_changed", target=user, request=request)
    user_sockets_close(user_id=user.pk, reason="password_changed")


@receiver(pre_save, sender=User, dispatch_uid="accounts.remember_active")
def remember_active(sender: Any, instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and "is_active" not in update_fields:
        return
    if instance.pk:
        was_active = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
        instance._was_active = was_active  # type: ignore[attr-defined]


@receiver(post_save, sender=User, dispatch_uid="accounts.deactivation_closes_sockets")
def deactivation_closes_sockets(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    """However a user is deactivated (service, admin, shell), their sockets close."""
    if not created and getattr(instance, "_was_active", False) and not instance.is_active:
        from domains.accounts.services import user_sockets_close

        user_sockets_close(user_id=instance.pk, reason="deactivated")
