"""Reads for accounts and organisations. Every lookup is scoped by the caller's organisation."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from domains.accounts.models import Membership, Organisation, User

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


def member_get(*, organisation: Organisation, user_id: int) -> User:
    """A member of `organisation`. Anyone else, and any unknown id, is a 404."""
    user = User.objects.filter(pk=user_id, memberships__organisation=organisation).distinct().first()
    if user is None:
        raise Http404("No such member.")
    return user
