"""Reads for audit and consent."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from domains.compliance.models import AuditEvent


# ---- a person's own activity (issue 15 §3)
def audit_events_for_person(*, user_id: int) -> QuerySet[AuditEvent]:
    """The audit events about one person, newest first: those they did (actor) and those done to
    their account (target: the user row), in any organisation or none. Named by the user model's
    label, since compliance names no accounts model."""
    label = get_user_model()._meta.label_lower
    return (
        AuditEvent.objects.filter(Q(actor_id=user_id) | Q(target_type=label, target_id=str(user_id)))
        .select_related("organisation")
        .order_by("-created_at", "-pk")
    )
