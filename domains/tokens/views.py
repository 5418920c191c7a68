"""/account/tokens/: the person's personal access tokens in the session's organisation (list,
create, revoke). A new token's secret is shown once, on the page that answers the creation; it is
never stored, so it can never be shown again. Someone else's token, and any unknown id, is 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from domains.accounts.http import AuthenticatedRequest, organisation_or_404
from domains.common.errors import Refusal
from domains.common.forms import refusal_to_form
from domains.tokens.forms import TokenCreateForm
from domains.tokens.selectors import pat_get_for_user, pat_list_for_user
from domains.tokens.services import pat_create, pat_revoke

LIST_MAX = 200


def _token_id(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 2**63 - 1:
        raise Http404("No such token.")
    return int(raw)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def list_view(request: AuthenticatedRequest) -> HttpResponse:
    organisation = organisation_or_404(request)
    form = TokenCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = pat_create(
                user=request.user,
                organisation=organisation,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                request=request,
            )
        except Refusal as refusal:
            refusal_to_form(form, refusal)
        else:
            form = TokenCreateForm()
    tokens = list(pat_list_for_user(user=request.user, organisation=organisation)[:LIST_MAX])
    return render(
        request,
        "tokens/list.html",
        {"form": form, "tokens": tokens, "created": created, "organisation": organisation},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def revoke_view(request: AuthenticatedRequest, token_id: str) -> HttpResponse:
    organisation = organisation_or_404(request)
    token = pat_get_for_user(user=request.user, organisation=organisation, token_id=_token_id(token_id))
    token = pat_revoke(token=token, user=request.user, request=request)
    messages.success(request, gettext("Token “%(name)s” revoked: it no longer works.") % {"name": token.name})
    return redirect("tokens:list")
