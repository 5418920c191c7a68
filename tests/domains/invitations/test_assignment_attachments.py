"""A pending assignment's kind may add files to the invitation email (the interviews kind adds an
.ics): asked on every send, the first and each resend, so the files follow the row as it is then."""

from __future__ import annotations

from typing import Any

import pytest

from domains.accounts.models import Role
from domains.invitations import services
from domains.invitations.assignments import assignment_find, assignment_kind, assignments_attachments
from domains.invitations.models import Invitation
from domains.mail.models import OutboundEmail
from tests.domains.invitations.helpers import World

pytestmark = pytest.mark.django_db

SENDS: list[dict[str, Any]] = []


def _activate(**kwargs: Any) -> None:
    return None


def _files(*, invitation: Invitation, data: dict[str, Any]) -> list[tuple[str, str, str]]:
    SENDS.append(data)
    return [(f"event-{data['n']}.ics", f"BEGIN:VCALENDAR\r\nX-SEND:{len(SENDS)}\r\nEND:VCALENDAR\r\n", "text/calendar")]


ATTACHING = assignment_kind("test.attaching", _activate, _files)
PLAIN = assignment_kind("test.plain", _activate)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    SENDS.clear()


def _invite(world: World, pending: list[dict[str, Any]]) -> Invitation:
    return services.invitation_create(
        organisation=world.organisation,
        inviter=world.staff,
        email="new@example.test",
        role=Role.CANDIDATE,
        pending=pending,
    )


def _mails() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(tag="invitation", to="new@example.test").order_by("pk"))


def test_the_invitation_mail_carries_each_kinds_files_and_a_resend_asks_again(world: World) -> None:
    """Given an invitation with an attaching kind (twice) and a plain one, then its mail carries the
    two files in order and says so; a resend asks the kind again and carries the new files."""
    invitation = _invite(
        world,
        [
            {"kind": "test.attaching", "data": {"n": 1}},
            {"kind": "test.plain", "data": {}},
            {"kind": "test.attaching", "data": {"n": 2}},
        ],
    )
    services.invitation_resend(invitation=invitation, actor=world.staff)

    first, resent = _mails()
    assert [item["filename"] for item in first.attachments] == ["event-1.ics", "event-2.ics"]
    assert "X-SEND:1" in first.attachments[0]["content"]
    assert "Attached: event-1.ics, event-2.ics" in first.text_body
    assert [item["filename"] for item in resent.attachments] == ["event-1.ics", "event-2.ics"]
    assert "X-SEND:3" in resent.attachments[0]["content"]  # built again for the resend
    assert SENDS == [{"n": 1}, {"n": 2}, {"n": 1}, {"n": 2}]


def test_kinds_without_files_and_retired_kinds_add_none(world: World) -> None:
    """Given an invitation whose kinds give no files (one retired since), then no attachment, and
    the mail does not mention any."""
    invitation = _invite(world, [{"kind": "test.plain", "data": {}}])
    Invitation.objects.filter(pk=invitation.pk).update(pending=[{"kind": "retired.kind", "data": {}}])
    invitation.refresh_from_db()
    assert assignments_attachments(invitation=invitation) == []
    (mail,) = _mails()
    assert mail.attachments == []
    assert "Attached" not in mail.text_body


def test_registering_the_same_kind_again_is_harmless_but_a_different_one_is_refused() -> None:
    """The registry keeps one definition per name: the same again is fine, another raises."""
    assert assignment_kind("test.attaching", _activate, _files) == ATTACHING
    with pytest.raises(ValueError, match="registered differently"):
        assignment_kind("test.attaching", _activate)
    assert assignment_find("test.attaching") == ATTACHING
