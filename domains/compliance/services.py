"""Writes for audit and consent."""

from __future__ import annotations

from typing import Any

import structlog
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from domains.common.client_ip import client_ip
from domains.compliance.models import AuditEvent, Consent, PolicyDocument

_USER_AGENT_MAX = 400
_CURRENT_IDS_KEY = "compliance:policy-current-ids"


def request_origin(request: HttpRequest | None) -> dict[str, Any]:
    """Where a request came from: the resolved client IP (the same one rate limits and lockouts
    count; forwarded headers only from TRUSTED_PROXIES), user agent and the request id
    django-structlog bound."""
    if request is None:
        return {"ip_address": None, "user_agent": "", "request_id": ""}
    context = structlog.contextvars.get_contextvars()
    return {
        "ip_address": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:_USER_AGENT_MAX],
        "request_id": str(context.get("request_id", "")),
    }


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    organisation: models.Model | None,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one audit event. `actor` may be None (the system) or an anonymous attempt,
    described by `actor_label`. Typed by Django's own user and model bases: compliance sits below
    accounts (accounts audits through it), so it names no accounts model."""
    real_actor = actor if isinstance(actor, AbstractBaseUser) and actor.is_authenticated else None
    return AuditEvent.objects.create(
        organisation_id=organisation.pk if organisation is not None else None,
        actor_id=real_actor.pk if real_actor is not None else None,
        actor_label=actor_label or (real_actor.get_username() if real_actor is not None else "system"),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        details=details or {},
        **request_origin(request),
    )


def policy_current_list() -> list[PolicyDocument]:
    """The newest published version of each kind of policy."""
    now = timezone.now()
    current: dict[str, PolicyDocument] = {}
    for document in PolicyDocument.objects.filter(published_at__lte=now).order_by("kind", "-published_at"):
        current.setdefault(document.kind, document)
    return list(current.values())


def policy_current_ids() -> list[int]:
    """Ids of the current documents, cached briefly: every page asks."""
    cached = cache.get(_CURRENT_IDS_KEY)
    if cached is None:
        cached = sorted(document.pk for document in policy_current_list())
        cache.set(_CURRENT_IDS_KEY, cached, timeout=60)
    return list(cached)


def policy_cache_clear() -> None:
    cache.delete(_CURRENT_IDS_KEY)


def consent_missing(*, user: AbstractBaseUser) -> list[PolicyDocument]:
    """The current documents this user has not accepted yet."""
    current = policy_current_list()
    accepted = set(Consent.objects.filter(user_id=user.pk, document__in=current).values_list("document_id", flat=True))
    return [document for document in current if document.pk not in accepted]


@transaction.atomic
def policy_publish(*, kind: str, version: str, title: str, body: str, published_at: Any = None) -> PolicyDocument:
    """Publish a policy version (idempotent by kind and version). A newer one asks everyone again."""
    document, _ = PolicyDocument.objects.get_or_create(
        kind=kind,
        version=version,
        defaults={"title": title, "body": body, "published_at": published_at or timezone.now()},
    )
    transaction.on_commit(policy_cache_clear)
    return document


@transaction.atomic
def consent_record(
    *, user: AbstractBaseUser, documents: list[PolicyDocument], request: HttpRequest | None
) -> list[Consent]:
    """Record that `user` accepted `documents` now, from where the request came. Idempotent."""
    origin = request_origin(request)
    now = timezone.now()
    consents = []
    for document in documents:
        consent, created = Consent.objects.get_or_create(
            user_id=user.pk,
            document=document,
            defaults={"accepted_at": now, "ip_address": origin["ip_address"], "user_agent": origin["user_agent"]},
        )
        consents.append(consent)
        if created:
            audit_record(
                actor=user,
                organisation=None,
                action="consent.accepted",
                target=document,
                details={"kind": document.kind, "version": document.version},
                request=request,
            )
    return consents
