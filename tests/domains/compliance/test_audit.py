"""The audit log is append-only, even for the application itself."""

from __future__ import annotations

import pytest
from django.db import ProgrammingError, transaction

from domains.compliance.models import AuditEvent
from domains.compliance.services import audit_record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_audit_record_writes_who_what_and_target() -> None:
    user = UserFactory.create()
    event = audit_record(actor=user, organisation=None, action="thing.done", target=user, details={"a": 1})
    assert (event.actor, event.actor_label, event.action) == (user, user.email, "thing.done")
    assert (event.target_type, event.target_id) == ("accounts.user", str(user.pk))


def test_audit_rows_cannot_be_updated_or_deleted() -> None:
    event = audit_record(actor=None, organisation=None, action="thing.done")
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(action="rewritten"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises(ProgrammingError, match="Cannot update or delete"), transaction.atomic():
            attempt()
    assert AuditEvent.objects.get(pk=event.pk).action == "thing.done"
