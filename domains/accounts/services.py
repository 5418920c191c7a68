"""Writes for accounts and organisations. Identity changes reach open sockets after commit."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import Http404, HttpRequest

from domains.accounts.models import Membership, Organisation, Role, User
from domains.accounts.selectors import ORGANISATION_SESSION_KEY, organisation_list_for_user
from domains.compliance.services import audit_record
from realtime.publish import control_send
from realtime.streams import session_group, user_stream


@transaction.atomic
def membership_grant(
    *,
    organisation: Organisation,
    user: User,
    role: str,
    actor: User | AnonymousUser | None,
    request: HttpRequest | None = None,
) -> Membership:
    """Give `user` `role` in `organisation` (idempotent). Audited; open sockets re-check rights."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    membership, created = Membership.objects.get_or_create(user=user, organisation=organisation, role=role)
    if created:
        audit_record(
            actor=actor,
            organisation=organisation,
            action="membership.role_granted",
            target=user,
            details={"role": role},
            request=request,
        )
        control_send(user_stream(user.pk), action="rights_changed", reason="role_granted")
    return membership


@transaction.atomic
def membership_revoke(
    *,
    organisation: Organisation,
    user: User,
    role: str,
    actor: User | AnonymousUser | None,
    request: HttpRequest | None = None,
) -> bool:
    """Take `role` away from `user` in `organisation`. Returns whether anything changed."""
    deleted, _ = Membership.objects.filter(user=user, organisation=organisation, role=role).delete()
    if deleted:
        audit_record(
            actor=actor,
            organisation=organisation,
            action="membership.role_revoked",
            target=user,
            details={"role": role},
            request=request,
        )
        control_send(user_stream(user.pk), action="rights_changed", reason="role_revoked")
    return bool(deleted)


@transaction.atomic
def membership_roles_set(
    *,
    organisation: Organisation,
    user: User,
    roles: set[str],
    actor: User | AnonymousUser | None,
    request: HttpRequest | None = None,
) -> set[str]:
    """Make `user`'s roles in `organisation` exactly `roles`. Locks the user's membership rows."""
    unknown = roles - set(Role.values)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    current = set(
        Membership.objects.select_for_update()
        .filter(user=user, organisation=organisation)
        .values_list("role", flat=True)
    )
    for role in sorted(roles - current):
        membership_grant(organisation=organisation, user=user, role=role, actor=actor, request=request)
    for role in sorted(current - roles):
        membership_revoke(organisation=organisation, user=user, role=role, actor=actor, request=request)
    return roles


def organisation_switch(*, user: User, session: SessionBase, organisation_id: int) -> Organisation:
    """Bind the session to another of the user's organisations. The session's sockets were bound to
    the old one, so they close with 4409 and reconnect into the new one."""
    organisation = organisation_list_for_user(user=user).filter(pk=organisation_id).first()
    if organisation is None:
        raise Http404("No such organisation.")
    if session.get(ORGANISATION_SESSION_KEY) != organisation.pk:
        session[ORGANISATION_SESSION_KEY] = organisation.pk
        session.save()
        if session.session_key:
            with transaction.atomic():
                control_send(
                    session_group(session.session_key), action="force_close", reason="organisation_changed", code=4409
                )
    return organisation


@transaction.atomic
def user_deactivate(*, user: User, actor: User | AnonymousUser | None, request: HttpRequest | None = None) -> User:
    """Stop `user` from signing in; their open sockets close at once."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active", "updated_at"])
        audit_record(actor=actor, organisation=None, action="user.deactivated", target=user, request=request)
    return user


def user_sockets_close(*, user_id: int, reason: str) -> None:
    """Close every socket of one person (after commit); used for deactivation and password changes."""
    control_send(user_stream(user_id), action="force_close", reason=reason, code=4401)


@transaction.atomic
def user_signup_complete(*, user: User, display_name: str, request: HttpRequest | None) -> User:
    """After allauth created `user`: name them and put them in the sign-up organisation as a learner."""
    if display_name:
        user.display_name = display_name
        user.save(update_fields=["display_name", "updated_at"])
    slug = settings.SIGNUP_ORGANISATION_SLUG
    organisation = Organisation.objects.filter(slug=slug, is_active=True).first() if slug else None
    if organisation is not None:
        membership_grant(organisation=organisation, user=user, role=Role.LEARNER, actor=None, request=request)
    audit_record(actor=user, organisation=organisation, action="user.signed_up", target=user, request=request)
    return user
