"""Writes for accounts and organisations. Identity changes reach open sockets after commit."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest

from domains.accounts.membership_signals import member_left
from domains.accounts.models import (
    COLOUR_PATTERN,
    Membership,
    MemberSuspension,
    Organisation,
    OrganisationSettings,
    Role,
    SignupPolicy,
    User,
)
from domains.accounts.selectors import (
    ORGANISATION_SESSION_KEY,
    organisation_list_for_user,
    organisation_settings_get,
    signup_allowed,
    signup_organisation,
)
from domains.accounts.settings_sections import settings_sections
from domains.common.errors import Refusal
from domains.common.uploads import (
    IMAGE_KINDS,
    ValidatedUpload,
    store_upload,
    uploads_discarded_on_error,
    validate_upload,
)
from domains.common.validation import is_storable
from domains.compliance.services import audit_record
from realtime.publish import control_send
from realtime.ratelimit import Bucket, take
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
    current = set(_member_rows(organisation=organisation, user=user))
    _check_keeps_staff(organisation=organisation, user=user, roles_after=roles)
    for role in sorted(roles - current):
        membership_grant(organisation=organisation, user=user, role=role, actor=actor, request=request)
    for role in sorted(current - roles):
        membership_revoke(organisation=organisation, user=user, role=role, actor=actor, request=request)
    return roles


def _check_keeps_staff(*, organisation: Organisation, user: User, roles_after: set[str]) -> None:
    """An organisation never loses its last staff member: no one would be left to run it."""
    if Role.STAFF in roles_after:
        return
    # Locks every staff row: two staff removing each other at once cannot both pass.
    others = list(
        Membership.objects.select_for_update(of=("self",))
        .filter(organisation=organisation, role=Role.STAFF, user__is_active=True)
        .exclude(user=user)
        .values_list("pk", flat=True)
    )
    held = Membership.objects.filter(organisation=organisation, user=user, role=Role.STAFF).exists()
    if held and not others:
        raise Refusal(
            "last_staff",
            f"{user.public_name} is the last staff member of {organisation.name}: make someone else staff first.",
        )


def _check_not_self(*, user: User, actor: User | AnonymousUser | None, doing: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise Refusal("not_allowed", f"You cannot {doing} yourself; ask another staff member.")


def _member_rows(*, organisation: Organisation, user: User) -> list[str]:
    """The member's roles here, their rows locked (every member write below takes these locks first)."""
    return sorted(
        Membership.objects.select_for_update()
        .filter(organisation=organisation, user=user)
        .values_list("role", flat=True)
    )


@transaction.atomic
def member_deactivate(
    *, organisation: Organisation, user: User, actor: User | AnonymousUser | None, request: HttpRequest | None = None
) -> MemberSuspension:
    """Take away every role `user` holds in `organisation`, keeping them for `member_reactivate`.
    They lose access at once (their sockets re-check rights and close); their account, their other
    organisations and what they wrote stay. Locks the member's membership rows."""
    _check_not_self(user=user, actor=actor, doing="deactivate")
    roles = _member_rows(organisation=organisation, user=user)
    if not roles:
        raise Http404("No such member.")
    _check_keeps_staff(organisation=organisation, user=user, roles_after=set())
    # A suspension kept from before (roles regained since another way) takes the roles held now.
    suspension, _ = MemberSuspension.objects.update_or_create(
        organisation=organisation,
        user=user,
        defaults={"roles": roles, "suspended_by": actor if isinstance(actor, User) else None},
    )
    Membership.objects.filter(organisation=organisation, user=user).delete()
    member_left.send(
        sender=MemberSuspension, organisation=organisation, user=user, actor=actor, request=request, how="deactivated"
    )
    audit_record(
        actor=actor,
        organisation=organisation,
        action="membership.deactivated",
        target=user,
        details={"roles": roles},
        request=request,
    )
    control_send(user_stream(user.pk), action="rights_changed", reason="member_deactivated")
    return suspension


@transaction.atomic
def member_reactivate(
    *, organisation: Organisation, user: User, actor: User | AnonymousUser | None, request: HttpRequest | None = None
) -> list[str]:
    """Give a deactivated member back the roles they held. Locks the suspension row."""
    suspension = MemberSuspension.objects.select_for_update().filter(organisation=organisation, user=user).first()
    if suspension is None:
        raise Http404("No such deactivated member.")
    roles = sorted(set(suspension.roles) & set(Role.values))
    for role in roles:
        Membership.objects.get_or_create(organisation=organisation, user=user, role=role)
    suspension.delete()
    audit_record(
        actor=actor,
        organisation=organisation,
        action="membership.reactivated",
        target=user,
        details={"roles": roles},
        request=request,
    )
    control_send(user_stream(user.pk), action="rights_changed", reason="member_reactivated")
    return roles


@transaction.atomic
def member_remove(
    *, organisation: Organisation, user: User, actor: User | AnonymousUser | None, request: HttpRequest | None = None
) -> list[str]:
    """Remove `user` from `organisation` for good, active or deactivated: their roles and any kept
    suspension go; to come back they need a new invitation. Returns the roles they held."""
    _check_not_self(user=user, actor=actor, doing="remove")
    roles = _member_rows(organisation=organisation, user=user)
    suspension = MemberSuspension.objects.select_for_update().filter(organisation=organisation, user=user).first()
    if not roles and suspension is None:
        raise Http404("No such member.")
    _check_keeps_staff(organisation=organisation, user=user, roles_after=set())
    held = roles or sorted(suspension.roles if suspension else [])
    Membership.objects.filter(organisation=organisation, user=user).delete()
    MemberSuspension.objects.filter(organisation=organisation, user=user).delete()
    member_left.send(
        sender=Membership, organisation=organisation, user=user, actor=actor, request=request, how="removed"
    )
    audit_record(
        actor=actor,
        organisation=organisation,
        action="membership.removed",
        target=user,
        details={"roles": held, "was_deactivated": suspension is not None},
        request=request,
    )
    control_send(user_stream(user.pk), action="rights_changed", reason="member_removed")
    return held


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
    organisation = signup_organisation()
    if organisation is not None and not signup_allowed(organisation=organisation, email=user.email):
        organisation = None  # the form refused this already (SignupForm.clean_email); never join past the policy
    if organisation is not None:
        membership_grant(organisation=organisation, user=user, role=Role.LEARNER, actor=None, request=request)
    audit_record(actor=user, organisation=organisation, action="user.signed_up", target=user, request=request)
    return user


# ---------------------------------------------------------------- organisations
NAME_MIN, NAME_MAX = 2, 120
SLUG_MIN, SLUG_MAX = 3, 60
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Slugs that name, or may one day name, the product's own places (`/o/<slug>/…`, subdomains).
RESERVED_SLUGS = frozenset(
    {
        "about", "account", "accounts", "admin", "api", "app", "assets", "auth", "billing", "blog", "coachwire",
        "dashboard", "docs", "help", "login", "logout", "mail", "manage", "media", "new", "o", "organisation",
        "organisations", "pricing", "root", "settings", "signup", "static", "status", "support", "system", "www",
    }
)  # fmt: skip
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_organisation_name(name: str, *, field: str = "name") -> str:
    """An organisation's name: spaces collapsed, 2 to 120 characters, storable."""
    value = " ".join(name.split())
    if not is_storable(value):
        raise Refusal("invalid_name", "The name contains characters that cannot be stored.", field=field)
    if not NAME_MIN <= len(value) <= NAME_MAX:
        raise Refusal("invalid_name", f"The name needs {NAME_MIN} to {NAME_MAX} characters.", field=field)
    return value


def check_organisation_slug(slug: str, *, field: str = "slug") -> str:
    """A new organisation's slug: lowercase letters, digits and single hyphens, 3 to 60 characters,
    not reserved, not taken (taken by an inactive organisation too: slugs are never reused)."""
    value = slug.strip().lower()
    if not SLUG_MIN <= len(value) <= SLUG_MAX:
        raise Refusal("invalid_slug", f"The address needs {SLUG_MIN} to {SLUG_MAX} characters.", field=field)
    if not _SLUG.match(value):
        raise Refusal("invalid_slug", "Use lowercase letters, digits and single hyphens between them.", field=field)
    if value in RESERVED_SLUGS:
        raise Refusal("slug_reserved", "That address is reserved. Please choose another.", field=field)
    if Organisation.objects.filter(slug=value).exists():
        raise Refusal("slug_taken", "That address is taken. Please choose another.", field=field)
    return value


def _create_bucket() -> Bucket:
    per_day = float(settings.ORGANISATION_CREATE_PER_DAY)
    return Bucket.per_day(per_day)


@transaction.atomic
def organisation_create(*, user: User, name: str, slug: str, request: HttpRequest | None = None) -> Organisation:
    """A new organisation on the free plan, with `user` as its staff. A few per person per day
    (ORGANISATION_CREATE_PER_DAY); refusals name the field. The caller switches the session to it."""
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    for field, check, value in (("name", check_organisation_name, name), ("slug", check_organisation_slug, slug)):
        try:
            clean[field] = check(value, field=field)
        except Refusal as refusal:
            errors[field] = refusal.message
    if errors:
        raise Refusal("invalid_organisation", "Please fix the marked fields.", fields=errors)
    decision = take(f"accounts:organisation-create:{user.pk}", _create_bucket())
    if not decision.allowed:
        raise Refusal(
            "rate_limited",
            "You have created several organisations today; please try again later.",
            retry_after=decision.retry_after,
        )
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(name=clean["name"], slug=clean["slug"])
    except IntegrityError:  # the same slug, created a moment ago by someone else
        raise Refusal("slug_taken", "That address is taken. Please choose another.", field="slug") from None
    OrganisationSettings.objects.create(organisation=organisation, time_zone=user.time_zone or "UTC")
    audit_record(
        actor=user,
        organisation=organisation,
        action="organisation.created",
        target=organisation,
        details={"slug": organisation.slug, "plan": organisation.plan},
        request=request,
    )
    membership_grant(organisation=organisation, user=user, role=Role.STAFF, actor=user, request=request)
    return organisation


# ---------------------------------------------------------------- organisation settings
def _relative_luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of `colour` (#rrggbb) against white."""
    return 1.05 / (_relative_luminance(colour) + 0.05)


MIN_CONTRAST = 4.5  # WCAG AA for body text


def check_colour(value: str, *, field: str) -> str:
    """Blank (the product's colour) or #rrggbb dark enough to carry white text and to be read as
    text on white: the header and buttons use it both ways."""
    colour = value.strip().lower()
    if not colour:
        return ""
    if not re.match(COLOUR_PATTERN, colour):
        raise Refusal("invalid_colour", "Use a colour like #2457c5 (# and six hex digits).", field=field)
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        raise Refusal(
            "colour_contrast",
            f"This colour is too light to read against white ({ratio:.1f}:1; at least {MIN_CONTRAST}:1 is needed).",
            field=field,
        )
    return colour


def check_email_domain(value: str, *, field: str = "signup_email_domain") -> str:
    """A bare domain name (example.org), lowercase; an IDN is kept in its ASCII form."""
    domain = value.strip().lower().removeprefix("@")
    if not domain:
        return ""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    labels = ascii_domain.split(".")
    if (
        not ascii_domain
        or len(ascii_domain) > 253
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.match(x) for x in labels)
    ):
        raise Refusal("invalid_domain", "Enter a domain name such as example.org.", field=field)
    return ascii_domain


def check_time_zone(value: str, *, field: str = "time_zone") -> str:
    if value not in zoneinfo.available_timezones():
        raise Refusal("invalid_time_zone", "Choose a time zone from the list.", field=field)
    return value


def logo_max_bytes() -> int:
    return int(settings.ORGANISATION_LOGO_MAX_BYTES)


def _logo_folder(organisation: Organisation) -> str:
    return f"organisations/{organisation.pk}/logo"


def organisation_general_load(organisation: Organisation) -> dict[str, Any]:
    """The General section's initial values."""
    row = organisation_settings_get(organisation=organisation)
    return {
        "name": organisation.name,
        "primary_colour": row.primary_colour,
        "accent_colour": row.accent_colour,
        "signup_policy": row.signup_policy,
        "signup_email_domain": row.signup_email_domain,
        "time_zone": row.time_zone,
    }


def _general_check(data: Mapping[str, Any]) -> tuple[dict[str, Any], ValidatedUpload | None]:
    """Every General field checked, all refusals together in one `Refusal`."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    checks: dict[str, Callable[[str], str]] = {
        "name": lambda v: check_organisation_name(v, field="name"),
        "primary_colour": lambda v: check_colour(v, field="primary_colour"),
        "accent_colour": lambda v: check_colour(v, field="accent_colour"),
        "signup_email_domain": lambda v: check_email_domain(v, field="signup_email_domain"),
        "time_zone": lambda v: check_time_zone(v, field="time_zone"),
    }
    for field, check in checks.items():
        try:
            clean[field] = check(str(data.get(field) or ""))
        except Refusal as refusal:
            errors[field] = refusal.message
    clean["signup_policy"] = policy = data.get("signup_policy", SignupPolicy.OPEN)
    if policy not in SignupPolicy.values:
        errors["signup_policy"] = "Choose a sign-up policy from the list."
    elif policy == SignupPolicy.EMAIL_DOMAIN and not clean.get("signup_email_domain"):
        errors.setdefault("signup_email_domain", "Enter the email domain people must sign up with.")
    validated = None
    if logo := data.get("logo"):
        try:
            validated = validate_upload(logo, kinds=IMAGE_KINDS, max_bytes=logo_max_bytes(), field="logo")
        except Refusal as refusal:
            errors["logo"] = refusal.message
    if errors:
        raise Refusal("invalid_settings", "Please fix the marked fields.", fields=errors)
    return clean, validated


def organisation_general_save(*, organisation: Organisation, data: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The General section's service: name, logo, colours, sign-up policy, time zone. Everything is
    checked before anything is written; `organisation` is the locked row. Returns the changes,
    `{field: [old, new]}` (the logo by stored name); a replaced logo file goes after commit."""
    clean, validated = _general_check(data)
    row, _ = OrganisationSettings.objects.select_for_update().get_or_create(organisation=organisation)
    changes: dict[str, list[Any]] = {}
    if organisation.name != clean["name"]:
        changes["name"] = [organisation.name, clean["name"]]
        organisation.name = clean["name"]
        organisation.save(update_fields=["name", "updated_at"])
    values = {field: clean[field] for field in _GENERAL_ROW_FIELDS}
    old_logo = row.logo.name or ""
    if validated is not None:
        values["logo"] = store_upload(validated, folder=_logo_folder(organisation))
    elif data.get("logo_clear"):
        values["logo"] = ""
    for field, value in values.items():
        current = old_logo if field == "logo" else getattr(row, field)
        if current != value:
            changes[field] = [current, value]
            setattr(row, field, value)
    if changes.keys() - {"name"}:
        row.save()
    if "logo" in changes and old_logo:
        transaction.on_commit(lambda: default_storage.delete(old_logo))
    return changes


_GENERAL_ROW_FIELDS = ("primary_colour", "accent_colour", "signup_policy", "signup_email_domain", "time_zone")


@transaction.atomic
def organisation_settings_update(
    *,
    organisation: Organisation,
    actor: User,
    data: Mapping[str, Mapping[str, Any]],
    request: HttpRequest | None = None,
) -> dict[str, dict[str, list[Any]]]:
    """Save every section of the settings page (`data` by section key), all or nothing: a refusal
    in any section rolls back every section and removes the files stored meanwhile; its fields come
    back as `<key>-<field>` (the page's form prefixes). Locks the organisation row. One audit event
    lists what changed, by section."""
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    changed: dict[str, dict[str, list[Any]]] = {}
    with uploads_discarded_on_error():
        for section in settings_sections():
            if section.key not in data:
                continue
            try:
                changes = section.save(organisation=locked, data=data[section.key])
            except Refusal as refusal:
                raise Refusal(
                    refusal.code,
                    refusal.message,
                    retry_after=refusal.retry_after,
                    fields={f"{section.key}-{name}": texts for name, texts in refusal.field_errors().items()}
                    or {section.key: refusal.message},
                ) from refusal
            if changes:
                changed[section.key] = changes
    if changed:
        audit_record(
            actor=actor,
            organisation=locked,
            action="organisation.settings_changed",
            target=locked,
            details={"changed": changed},
            request=request,
        )
    organisation.name = locked.name
    return changed


# ---- the account (issue 15 §3)
# Imported here rather than at the top, which others are editing. `sessions` also connects the
# receiver that labels each session's device.
from allauth.account.adapter import get_adapter as _allauth_account_adapter  # noqa: E402
from allauth.account.forms import ResetPasswordForm, UserTokenForm  # noqa: E402
from allauth.account.internal.flows import email_verification as _email_verification  # noqa: E402
from allauth.account.internal.flows import password_change as _password_change  # noqa: E402
from allauth.account.internal.flows import password_reset as _password_reset  # noqa: E402
from allauth.account.models import EmailAddress  # noqa: E402
from allauth.usersessions.adapter import get_adapter as _usersessions_adapter  # noqa: E402
from allauth.usersessions.internal.flows import sessions as _usersessions_flows  # noqa: E402
from allauth.usersessions.models import UserSession  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402

from domains.accounts import sessions as _sessions  # noqa: E402
from domains.accounts.selectors import user_session_get_for_user  # noqa: E402
from domains.common.client_ip import client_ip  # noqa: E402

DISPLAY_NAME_MAX = 80
PASSWORD_MAX = 4096  # longer inputs are refused before hashing (hashing cost grows with length)


class AccountError(Refusal):
    """A refused change to the person's own account."""


def _hourly(per_hour: int) -> Bucket:
    return Bucket.per_hour(per_hour)


def _limit(name: str, per_hour: int, message: str) -> None:
    """Take one token from the hourly bucket `name` (off when `per_hour` is 0); refuse with
    `retry_after` (429) when it is empty."""
    if per_hour <= 0:
        return
    decision = take(name, _hourly(per_hour))
    if not decision.allowed:
        raise AccountError("rate_limited", message, retry_after=decision.retry_after)


def _address(request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def check_display_name(value: str, *, field: str = "display_name") -> str:
    """A person's name as others see it: runs of spaces collapsed, 1 to 80 characters, storable."""
    name = " ".join(value.split())
    if not name:
        raise AccountError("invalid_name", "Please enter your name.", field=field)
    if len(name) > DISPLAY_NAME_MAX:
        raise AccountError("invalid_name", f"Your name may have at most {DISPLAY_NAME_MAX} characters.", field=field)
    if not is_storable(name):
        raise AccountError("invalid_name", "The name contains characters that cannot be stored.", field=field)
    return name


def _password_errors(password: str, user: User | None) -> list[str]:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS), through allauth's adapter as its own
    forms call them; the messages, or [] when the password is acceptable."""
    if len(password) > PASSWORD_MAX:
        return [f"Use at most {PASSWORD_MAX} characters."]
    try:
        _allauth_account_adapter().clean_password(password, user=user)
    except ValidationError as error:
        return list(error.messages)
    return []


@transaction.atomic
def user_profile_update(
    *,
    user: User,
    display_name: str | None = None,
    time_zone: str | None = None,
    request: HttpRequest | None = None,
) -> User:
    """Change the person's name and time zone (None: leave it). Every field is checked before
    anything is written; a refusal names each field at fault. Audited (`user.profile_updated`,
    with the names of the fields that changed) when something changed. Locks the user row."""
    errors: dict[str, str] = {}
    clean: dict[str, str] = {}
    checks = (("display_name", check_display_name, display_name), ("time_zone", check_time_zone, time_zone))
    for field, check, value in checks:
        if value is None:
            continue
        try:
            clean[field] = check(value, field=field)
        except Refusal as refusal:
            errors[field] = refusal.message
    if errors:
        raise AccountError("invalid", "Please fix the marked fields.", fields=errors)
    locked = User.objects.select_for_update().get(pk=user.pk)
    changed = [field for field, value in clean.items() if getattr(locked, field) != value]
    if changed:
        for field in changed:
            setattr(locked, field, clean[field])
        locked.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=user,
            organisation=None,
            action="user.profile_updated",
            target=locked,
            details={"fields": changed},
            request=request,
        )
    for field in changed:
        setattr(user, field, clean[field])
    return user


@transaction.atomic
def user_password_change(
    *,
    request: HttpRequest,
    user: User,
    current_password: str,
    new_password: str,
    app_session_key: str | None = None,
) -> User:
    """Change the person's password, as allauth's page does: the current one must match (an account
    without a usable password, e.g. social login only, sends "" and sets one); the new one passes
    Django's validators. Then allauth finishes (the caller's session stays signed in; its
    `password_changed` signal audits and closes the person's sockets; other sessions no longer
    authenticate, and neither do the app tokens backed by them). Every try takes a token from
    USERS_PASSWORD_CHANGE_PER_HOUR, so the current password cannot be guessed here."""
    _limit(
        f"accounts:password-change:{user.pk}",
        settings.USERS_PASSWORD_CHANGE_PER_HOUR,
        "Too many password changes; please try again later.",
    )
    has_password = user.has_usable_password()
    if has_password and not user.check_password(current_password):
        raise AccountError("incorrect_password", "Your current password is not correct.", field="current_password")
    problems = _password_errors(new_password, user)
    if problems:
        raise AccountError("invalid_password", "Choose another password.", fields={"new_password": problems})
    _password_change.change_password(user, new_password)
    if has_password:
        _password_change.finalize_password_change(request, user)
    else:
        _password_change.finalize_password_set(request, user)
    if app_session_key:
        _app_session_keep(request=request, user=user, session_key=app_session_key)
    return user


def _app_session_keep(*, request: HttpRequest, user: User, session_key: str) -> None:
    """An app changed the password with its access token: allauth kept "the request's session"
    signed in, which for a bearer request is an empty cookie session, not the app's. Give the app's
    login session the new password's hash instead, in place (its key must not change: the app's
    tokens name it), and drop the cookie session allauth wrote, so the answer sets no cookie."""
    from django.contrib.auth import HASH_SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    if store.get(HASH_SESSION_KEY) is not None:
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
    request.session.flush()


def user_verification_mail_send(*, request: HttpRequest, user: User) -> EmailAddress:
    """Send allauth's verification mail for the primary address again (its link confirms the address
    on allauth's page). Refused when the address is verified already (`already_verified`), and rate
    limited: USERS_VERIFICATION_MAIL_PER_HOUR per person, and allauth's own cooldown per address
    (ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN, 180 s), both 429."""
    address = _email_verification.get_address_for_user(user)
    if address is None:  # no address at all: nothing to verify (not reachable for email sign-ups)
        raise AccountError("no_email", "Your account has no email address to verify.")
    if address.verified:
        raise AccountError("already_verified", f"{address.email} is verified already.")
    _limit(
        f"accounts:verification-mail:{user.pk}",
        settings.USERS_VERIFICATION_MAIL_PER_HOUR,
        "Several verification mails were sent already; please try again later.",
    )
    if not _email_verification.send_verification_email_to_address(request, address):
        cooldown = getattr(settings, "ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN", 180)
        raise AccountError(
            "rate_limited", "A verification mail was sent a moment ago; please check your inbox.", retry_after=cooldown
        )
    return address


def password_reset_request(*, request: HttpRequest, email: str) -> None:
    """Ask for allauth's password reset mail, as its page does: an account with that address
    (active) gets the mail with a reset link; an unknown address gets allauth's "no account" notice
    (ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS). The caller answers the same either way, so no one learns
    whether an account exists. Rate limited per client address and per email address asked about
    (USERS_PASSWORD_RESET_PER_HOUR_PER_ADDRESS / _PER_EMAIL), whether or not it has an account."""
    message = "Too many password reset requests; please try again later."
    _limit(f"accounts:reset:ip:{_address(request)}", settings.USERS_PASSWORD_RESET_PER_HOUR_PER_ADDRESS, message)
    form = ResetPasswordForm(data={"email": email})
    if not form.is_valid():
        raise AccountError("invalid_email", "Enter a valid email address.", field="email")
    _limit(
        f"accounts:reset:email:{form.cleaned_data['email'].lower()}",
        settings.USERS_PASSWORD_RESET_PER_HOUR_PER_EMAIL,
        message,
    )
    form.save(request)


@transaction.atomic
def password_reset_confirm(*, request: HttpRequest, key: str, password: str) -> User:
    """Set a new password with the key from allauth's reset link (`/accounts/password/reset/key/
    <key>/`: the uidb36, a hyphen, the token). A wrong, expired or used key (the token is bound to
    the old password hash, so it works once) is refused (`invalid_key`), and so is a password
    Django's validators refuse; nothing changes then. On success allauth finishes (its
    `password_reset` signal audits, closes the person's sockets and lifts their lockouts) and every
    session of the person ends (`UserSessionsAdapter`, reason `password_reset`). Rate limited per
    client address (USERS_PASSWORD_RESET_CONFIRM_PER_HOUR_PER_ADDRESS)."""
    _limit(
        f"accounts:reset-confirm:ip:{_address(request)}",
        settings.USERS_PASSWORD_RESET_CONFIRM_PER_HOUR_PER_ADDRESS,
        "Too many attempts; please try again later.",
    )
    uidb36, _, token = key.strip().partition("-")
    user = None
    if uidb36 and token:  # allauth's form fails with a TypeError on an empty uidb36 and a token
        tokens = UserTokenForm(data={"uidb36": uidb36, "key": token})
        user = tokens.reset_user if tokens.is_valid() else None
    if not isinstance(user, User) or not user.is_active:
        raise AccountError("invalid_key", "This reset link is invalid or was used already.", field="key")
    problems = _password_errors(password, user)
    if problems:
        raise AccountError("invalid_password", "Choose another password.", fields={"password": problems})
    _password_reset.reset_password(user, password)
    _password_reset.finalize_password_reset(request, user)
    user_sessions_end(sessions=list(UserSession.objects.filter(user=user)), reason="password_reset")
    return user


def user_sessions_end(*, sessions: list[UserSession], reason: str) -> None:
    """End these sessions through the configured adapter (closing their sockets, audited)."""
    adapter = _usersessions_adapter()
    if isinstance(adapter, _sessions.UserSessionsAdapter):
        adapter.end_sessions(sessions, reason=reason)
    else:
        adapter.end_sessions(sessions)


@transaction.atomic
def user_session_end(*, request: HttpRequest, user: User, session_id: int) -> None:
    """End one of the person's own sessions, as the page does (allauth's flow: if it is the
    caller's own, the caller is signed out too). Another person's session is 404 like a missing one."""
    session = user_session_get_for_user(user=user, session_id=session_id)
    _usersessions_flows.end_sessions(request, [session])
