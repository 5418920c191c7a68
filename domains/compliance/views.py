from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from domains.common.markdown import render_markdown
from domains.compliance.describe import describe_events
from domains.compliance.forms import ConsentForm
from domains.compliance.models import AuditEvent, PolicyKind
from domains.compliance.services import consent_missing, consent_record, policy_current_list


def policy_view(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in PolicyKind.values:
        raise Http404("No such policy.")
    document = next((d for d in policy_current_list() if d.kind == kind), None)
    if document is None:
        raise Http404("Not published yet.")
    return render(request, "compliance/policy.html", {"document": document, "html": render_markdown(document.body)})


@login_required
def consent_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not isinstance(user, AbstractBaseUser):  # login_required let only a signed-in user through
        raise PermissionDenied
    missing = consent_missing(user=user)
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if not missing:
        return redirect(next_url)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        consent_record(user=user, documents=missing, request=request)
        return redirect(next_url)
    return render(request, "compliance/consent.html", {"documents": missing, "form": form, "next": next_url})


@login_required
def audit_view(request: HttpRequest) -> HttpResponse:
    organisation = getattr(request, "organisation", None)
    if organisation is None or not request.user.has_perm("compliance.view_audit", organisation):
        raise PermissionDenied
    page = Paginator(AuditEvent.objects.filter(organisation=organisation), 50).get_page(request.GET.get("page"))
    return render(request, "compliance/audit.html", {"page": page, "lines": describe_events(page)})
