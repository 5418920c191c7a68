"""Receivers that audit authentication and keep open sockets honest about identity."""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset, password_set
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from domains.accounts.models import User
from domains.compliance.services import audit_record
from realtime.publish import control_send
from realtime.streams import session_group


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit_record(actor=user, organisation=None, action="auth.login", target=user, request=request)


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
