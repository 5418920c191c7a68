"""Reads for accounts and organisations. Every lookup is scoped by the caller's organisation."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet
from django.http import Http404

from domains.accounts.models import Membership, MemberSuspension, Organisation, OrganisationSettings, SignupPolicy, User

ORGANISATION_SESSION_KEY = "organisation_id"


def organisation_list_for_user(*, user: User) -> QuerySet[Organisation]:
    return Organisation.objects.filter(memberships__user=user, is_active=True).distinct()


def organisation_for_session(*, user: User | AnonymousUser, organisation_id: int | None) -> Organisation | None:
    """The organisation bound to a session: the one stored in it if the user still belongs to it,
    else their first. None for users with no active membership."""
    if not user.is_authenticated:
        return None
    organisations = organisation_list_for_user(user=user)
    if organisation_id is not None:
        chosen = organisations.filter(pk=organisation_id).first()
        if chosen is not None:
            return chosen
    return organisations.order_by("pk").first()


def organisations_for_session(
    *, user: User | AnonymousUser, organisation_id: int | None
) -> tuple[Organisation | None, list[Organisation]]:
    """`organisation_for_session` and the user's organisations (for the switcher) in one query, each
    with its settings row joined (the header's logo and colours need no query of their own)."""
    if not user.is_authenticated:
        return None, []
    organisations = list(organisation_list_for_user(user=user).select_related("settings").order_by("name", "pk"))
    chosen = next((org for org in organisations if org.pk == organisation_id), None)
    if chosen is None and organisations:
        chosen = min(organisations, key=lambda org: org.pk)
    return chosen, organisations


def organisation_settings_get(*, organisation: Organisation) -> OrganisationSettings:
    """The organisation's settings; the defaults (unsaved) if it has never saved any. No query when
    the row was joined (`organisations_for_session`) or fetched before."""
    try:
        return organisation.settings
    except ObjectDoesNotExist:
        return OrganisationSettings(organisation=organisation)


def organisation_public_get(*, slug: str) -> Organisation:
    """An active organisation by its public slug (`/o/<slug>/…`), with its settings; else 404."""
    organisation = Organisation.objects.filter(slug=slug, is_active=True).select_related("settings").first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def signup_allowed(*, organisation: Organisation | None, email: str) -> bool:
    """Whether `email` may sign up into `organisation` by itself (an invitation is another path): its
    sign-up policy. No organisation: nothing to refuse."""
    if organisation is None:
        return True
    policy = organisation_settings_get(organisation=organisation)
    if policy.signup_policy == SignupPolicy.INVITE_ONLY:
        return False
    if policy.signup_policy == SignupPolicy.EMAIL_DOMAIN:
        domain = email.rsplit("@", 1)[-1].strip().lower() if "@" in email else ""
        return bool(domain) and domain == policy.signup_email_domain
    return True


def signup_organisation() -> Organisation | None:
    """The organisation self sign-up joins (SIGNUP_ORGANISATION_SLUG), if it exists and is active."""
    slug = settings.SIGNUP_ORGANISATION_SLUG
    return Organisation.objects.filter(slug=slug, is_active=True).first() if slug else None


def roles_for_user(*, user: User | AnonymousUser, organisation: Organisation | None) -> frozenset[str]:
    if organisation is None or not user.is_authenticated:
        return frozenset()
    return frozenset(Membership.objects.filter(user=user, organisation=organisation).values_list("role", flat=True))


def member_list(*, organisation: Organisation) -> QuerySet[User]:
    return (
        User.objects.filter(memberships__organisation=organisation)
        .distinct()
        .prefetch_related("memberships")
        .order_by("display_name", "email")
    )


def member_suspension_list(*, organisation: Organisation) -> QuerySet[MemberSuspension]:
    """The organisation's deactivated members, newest first."""
    return MemberSuspension.objects.filter(organisation=organisation).select_related("user", "suspended_by")


def member_or_suspended_get(*, organisation: Organisation, user_id: int) -> User:
    """A member of `organisation`, active or deactivated; anyone else and any unknown id is a 404."""
    user = (
        User.objects.filter(
            Q(memberships__organisation=organisation) | Q(suspensions__organisation=organisation), pk=user_id
        )
        .distinct()
        .first()
    )
    if user is None:
        raise Http404("No such member.")
    return user


def member_get(*, organisation: Organisation, user_id: int) -> User:
    """A member of `organisation`. Anyone else, and any unknown id, is a 404."""
    user = User.objects.filter(pk=user_id, memberships__organisation=organisation).distinct().first()
    if user is None:
        raise Http404("No such member.")
    return user


# ---- the account (issue 15 §3)
# Imported here rather than at the top, which others are editing; allauth's models are loaded by
# the time anything imports this module (INSTALLED_APPS).
from allauth.account.models import EmailAddress  # noqa: E402
from allauth.usersessions.models import UserSession  # noqa: E402


def user_email_verified(*, user: User) -> bool:
    """Whether the account's own address (`user.email`, the primary one) is verified in allauth."""
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def user_session_list(*, user: User) -> list[UserSession]:
    """The person's active sessions, oldest first, as allauth's page lists them: rows whose session
    has expired or been signed out are deleted on the way (`purge_and_list`)."""
    return sorted(UserSession.objects.purge_and_list(user), key=lambda session: (session.created_at, session.pk))


def user_session_get_for_user(*, user: User, session_id: int) -> UserSession:
    """One of the person's own sessions; another person's, like a missing one, is 404."""
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        raise Http404("No such session.")
    return session
