"""Writes for invitations: create (and email), resend, revoke, accept (signed in, or signing up).

The link is `/invitations/accept/<token>/`, where the token is a signed `{"i": id, "s": secret}`
(django.core.signing, its own salt, `max_age` the TTL). An acceptance needs all of: a valid
signature, the secret whose hash the row holds (a resend replaces it, so an older link dies), a
pending status (so a link works once) and an unexpired row. Anything else refuses and changes
nothing (docs/invitations.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from domains.accounts.branding import organisation_mail_brand
from domains.accounts.models import Membership, MemberSuspension, Organisation, Role, User
from domains.accounts.services import membership_grant, organisation_switch
from domains.common.errors import Refusal
from domains.common.limits import hourly_allowance_take
from domains.compliance.services import audit_record, consent_missing, consent_record, policy_current_list
from domains.invitations.assignments import assignment_find, assignments_attachments, assignments_check
from domains.invitations.models import Invitation, InvitationStatus
from domains.invitations.notices import notice_accepted
from domains.invitations.rules import roles_invitable
from domains.mail.services import mail_queue, mail_render, site_url

log = structlog.get_logger(__name__)

ACCEPT_SALT = "invitations.accept"


class InvitationError(Refusal):
    pass


def _ttl() -> timedelta:
    return timedelta(days=settings.INVITATION_TTL_DAYS)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def invitation_token(*, invitation: Invitation, secret: str) -> str:
    return signing.dumps({"i": invitation.pk, "s": secret}, salt=ACCEPT_SALT, compress=True)


def invitation_url(*, token: str) -> str:
    return site_url(reverse("invitations:accept", args=[token]))


def _normalised_email(email: str) -> str:
    address = email.strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise InvitationError("invalid", gettext("Enter a valid email address."), field="email") from None
    return address


def _check_send_rate(*, sender: User) -> None:
    """One person's invitation emails, new or again (INVITATION_SEND_PER_HOUR): mail is not free,
    and an address must not be flooded. Taken before anything is written."""
    hourly_allowance_take(
        key=f"invitations:send:{sender.pk}",
        per_hour=float(settings.INVITATION_SEND_PER_HOUR),
        message=gettext("You have sent many invitations in the last hour; please try again later."),
        refusal=InvitationError,
    )


def _send(invitation: Invitation) -> Invitation:
    """A new secret, a new expiry, and the email with the link. The old link stops working. The
    pending assignments' kinds may add files (an assessment's `.ics`), asked again on every send."""
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.secret_hash = _hash(secret)
    invitation.expires_at = now + _ttl()
    invitation.sent_count += 1
    invitation.last_sent_at = now
    invitation.save(update_fields=["secret_hash", "expires_at", "sent_count", "last_sent_at", "updated_at"])
    inviter = invitation.invited_by
    attachments = assignments_attachments(invitation=invitation)
    subject, text, html = mail_render(
        "invitations/email/invitation",
        {
            "invitation": invitation,
            "organisation": invitation.organisation,
            "brand": organisation_mail_brand(invitation.organisation),
            "inviter_name": inviter.public_name if inviter is not None else invitation.organisation.name,
            "role_label": Role(invitation.role).label,
            "accept_url": invitation_url(token=invitation_token(invitation=invitation, secret=secret)),
            "expires_at": invitation.expires_at,
            "attachment_names": [filename for filename, _, _ in attachments],
        },
    )
    mail_queue(
        to=invitation.email,
        subject=subject,
        text=text,
        html=html,
        tag="invitation",
        organisation=invitation.organisation,
        holds_secret=True,  # the link is the invitation: blank it once the server accepted the mail
        attachments=attachments,  # kept after sending: the kinds put no secret in them
    )
    return invitation


def _check_may_invite(*, organisation: Organisation, inviter: User, role: str) -> None:
    allowed = roles_invitable(user=inviter, organisation=organisation)
    if not allowed:
        raise InvitationError("forbidden", gettext("You may not invite people to this organisation."))
    if role not in allowed:
        raise InvitationError("invalid", gettext("You may not invite people with this role."), field="role")


@transaction.atomic
def invitation_create(
    *,
    organisation: Organisation,
    inviter: User,
    email: str,
    role: str,
    pending: Sequence[dict[str, Any]] = (),
    request: HttpRequest | None = None,
) -> Invitation:
    """Invite `email` to `organisation` as `role` and email them the link. Refused: a role the
    inviter may not give, a member already, an invitation already waiting, an unknown pending
    assignment. The one-pending-per-address constraint settles a race."""
    _check_may_invite(organisation=organisation, inviter=inviter, role=role)
    address = _normalised_email(email)
    checked = assignments_check(pending)
    if Membership.objects.filter(organisation=organisation, user__email__iexact=address).exists():
        raise InvitationError(
            "member",
            gettext("This person is already a member: change their roles on the members page."),
            field="email",
        )
    if MemberSuspension.objects.filter(organisation=organisation, user__email__iexact=address).exists():
        raise InvitationError(
            "member",
            gettext("This person is a deactivated member: reactivate them on the members page."),
            field="email",
        )
    waiting = InvitationError(
        "pending", gettext("An invitation to this address is waiting: resend it from the list."), field="email"
    )
    if Invitation.objects.filter(organisation=organisation, email=address, status=InvitationStatus.PENDING).exists():
        raise waiting
    _check_send_rate(sender=inviter)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organisation=organisation,
                email=address,
                role=role,
                invited_by=inviter,
                pending=checked,
                expires_at=timezone.now() + _ttl(),
            )
    except IntegrityError:
        raise waiting from None
    _send(invitation)
    audit_record(
        actor=inviter,
        organisation=organisation,
        action="invitation.created",
        target=invitation,
        details={"email": address, "role": role, "pending": [item["kind"] for item in checked]},
        request=request,
    )
    return invitation


def _locked(invitation: Invitation) -> Invitation:
    rows = Invitation.objects.select_for_update(of=("self",)).select_related("organisation", "invited_by")
    return rows.get(pk=invitation.pk)


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: User, request: HttpRequest | None = None) -> Invitation:
    """Email a pending invitation again, with a new link and a new expiry (an expired one included);
    the old link stops working. Locks the invitation."""
    invitation = _locked(invitation)
    _check_may_invite(organisation=invitation.organisation, inviter=actor, role=invitation.role)
    if invitation.status != InvitationStatus.PENDING:
        raise InvitationError("not_pending", gettext("Only a waiting invitation can be sent again."))
    _check_send_rate(sender=actor)
    _send(invitation)
    audit_record(
        actor=actor,
        organisation=invitation.organisation,
        action="invitation.resent",
        target=invitation,
        details={"sent_count": invitation.sent_count},
        request=request,
    )
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User, request: HttpRequest | None = None) -> Invitation:
    """Withdraw a pending invitation: its link stops working. Revoking again changes nothing; an
    accepted one is refused (take the role away on the members page). Locks the invitation."""
    invitation = _locked(invitation)
    _check_may_invite(organisation=invitation.organisation, inviter=actor, role=invitation.role)
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationError(
            "accepted", gettext("This invitation was accepted: change the member's roles on the members page.")
        )
    if invitation.status == InvitationStatus.PENDING:
        invitation.status = InvitationStatus.REVOKED
        invitation.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor,
            organisation=invitation.organisation,
            action="invitation.revoked",
            target=invitation,
            details={"email": invitation.email, "role": invitation.role},
            request=request,
        )
    return invitation


def invitations_withdraw_for_member(
    *, organisation: Organisation, user: User, actor: Any, request: HttpRequest | None, how: str
) -> int:
    """Withdraw the waiting invitations to `user`'s address in `organisation` (they were deactivated
    or removed there: `how`). Each is audited `invitation.revoked` with the reason. Locks them."""
    waiting = list(
        Invitation.objects.select_for_update().filter(
            organisation=organisation, email=user.email.lower(), status=InvitationStatus.PENDING
        )
    )
    for invitation in waiting:
        invitation.status = InvitationStatus.REVOKED
        invitation.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            organisation=organisation,
            action="invitation.revoked",
            target=invitation,
            details={"email": invitation.email, "role": invitation.role, "reason": f"member_{how}"},
            request=request,
        )
    return len(waiting)


# ------------------------------------------------------------------ accepting
def invitation_read(token: str, *, lock: bool = False) -> Invitation:
    """The pending, unexpired invitation `token` names. InvitationError for anything else, with a
    code the page words: `invalid` (altered, forged, or replaced by a resend), `expired`,
    `accepted`, `revoked`. The secret is checked before the status, so a forged link learns nothing."""
    invalid = InvitationError("invalid", gettext("This invitation link is not valid."))
    try:
        data = signing.loads(token, salt=ACCEPT_SALT, max_age=_ttl())
        invitation_id, secret = int(data["i"]), str(data["s"])
    except signing.SignatureExpired:
        raise InvitationError("expired", gettext("This invitation has expired.")) from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise invalid from None
    rows = Invitation.objects.select_related("organisation", "invited_by")
    if lock:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(pk=invitation_id).first()
    if invitation is None or not hmac.compare_digest(invitation.secret_hash, _hash(secret)):
        raise invalid
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationError("accepted", gettext("This invitation has already been accepted."))
    if invitation.status == InvitationStatus.REVOKED:
        raise InvitationError("revoked", gettext("This invitation was withdrawn."))
    if invitation.expires_at <= timezone.now() or not invitation.organisation.is_active:
        raise InvitationError("expired", gettext("This invitation has expired."))
    return invitation


def account_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()


def invitation_check_account(*, invitation: Invitation, user: User) -> None:
    """Only the address invited may accept: a link forwarded to someone else is refused."""
    if user.email.lower() != invitation.email:
        raise InvitationError(
            "wrong_account",
            gettext("This invitation is for another email address than the one you are signed in with."),
        )


def _join(invitation: Invitation, user: User, request: HttpRequest | None) -> Invitation:
    organisation = invitation.organisation
    if MemberSuspension.objects.filter(organisation=organisation, user=user).exists():
        raise InvitationError(
            "deactivated",
            gettext("You are a deactivated member of %(organisation)s: ask its staff to reactivate you.")
            % {"organisation": organisation.name},
        )
    # The inviter chose the role: the grant is theirs in the audit log (the system if they are gone).
    membership_grant(
        organisation=organisation, user=user, role=invitation.role, actor=invitation.invited_by, request=request
    )
    for item in invitation.pending:
        kind = assignment_find(str(item.get("kind", "")))
        if kind is None:
            log.warning("invitations.assignment_unknown", invitation=invitation.pk, kind=item.get("kind"))
            continue
        kind.activate(user=user, organisation=organisation, invitation=invitation, data=dict(item.get("data") or {}))
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["status", "accepted_at", "accepted_by", "updated_at"])
    audit_record(
        actor=user,
        organisation=organisation,
        action="invitation.accepted",
        target=invitation,
        details={"role": invitation.role, "pending": [item.get("kind") for item in invitation.pending]},
        request=request,
    )
    notice_accepted(invitation, user)
    return invitation


@transaction.atomic
def invitation_accept(
    *, token: str, user: User, session: SessionBase | None = None, request: HttpRequest | None = None
) -> Invitation:
    """A signed-in person accepts: they must be the address invited (`wrong_account` otherwise).
    Grants the role, activates the pending assignments, tells the inviter, and binds `session` to
    the organisation (its open sockets reconnect into it). Locks the invitation."""
    invitation = invitation_read(token, lock=True)
    invitation_check_account(invitation=invitation, user=user)
    if consent_missing(user=user):
        raise InvitationError("consent_required", gettext("Please accept the current policies first."))
    _join(invitation, user, request)
    if session is not None:
        organisation_switch(user=user, session=session, organisation_id=invitation.organisation_id)
    return invitation


@transaction.atomic
def invitation_accept_signup(
    *, token: str, display_name: str, password: str, consent: bool, request: HttpRequest | None = None
) -> tuple[Invitation, User]:
    """Someone without an account accepts: the account is made for the invited address (verified:
    the link reached it), with their consent to the current policies, and joins. The caller signs
    them in. Refused: no consent, or an account already exists for the address (sign in instead)."""
    invitation = invitation_read(token, lock=True)
    if not consent:
        raise InvitationError(
            "consent_required",
            gettext("You need to accept the privacy policy and the terms to join."),
            field="accept_policies",
        )
    exists = InvitationError("account_exists", gettext("You already have an account: sign in to accept."))
    if account_exists(email=invitation.email):
        raise exists
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=invitation.email, password=password, display_name=display_name)
    except IntegrityError:
        raise exists from None
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    consent_record(user=user, documents=policy_current_list(), request=request)
    audit_record(
        actor=user,
        organisation=invitation.organisation,
        action="user.signed_up",
        target=user,
        details={"invitation": invitation.pk},
        request=request,
    )
    _join(invitation, user, request)
    return invitation, user
