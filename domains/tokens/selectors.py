"""Reading personal access tokens: always the person's own, in the session's organisation. Anyone
else's token, and any unknown id, is a 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from domains.accounts.models import Organisation, User
from domains.tokens.models import PersonalAccessToken


def pat_list_for_user(*, user: User, organisation: Organisation) -> QuerySet[PersonalAccessToken]:
    """The person's tokens in this organisation, newest first, revoked and expired ones included."""
    return PersonalAccessToken.objects.filter(user=user, organisation=organisation).order_by("-created_at", "-id")


def pat_get_for_user(*, user: User, organisation: Organisation, token_id: int) -> PersonalAccessToken:
    token = pat_list_for_user(user=user, organisation=organisation).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    return token
