"""The pending-assignments seam: work an invitation carries, activated inside the acceptance."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from structlog.testing import capture_logs

from domains.accounts.models import Membership, Role
from domains.common.errors import Refusal
from domains.invitations import services
from domains.invitations.models import Invitation, InvitationStatus
from tests.domains.invitations.helpers import World, consented, mailed_link
from tests.domains.invitations.test_invitations import ACTIVATED, _fresh_activations  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _invite(world: World, pending: list[Any]) -> Invitation:
    return services.invitation_create(
        organisation=world.organisation,
        inviter=world.staff,
        email="new@example.test",
        role=Role.CANDIDATE,
        pending=pending,
    )


@pytest.mark.parametrize(
    "pending",
    [
        [{"kind": "no.such.kind", "data": {}}],
        [{"kind": "test.assign", "data": "not an object"}],
        ["test.assign"],
        [{"kind": "test.assign", "data": {}}] * 21,
    ],
)
def test_an_unknown_or_malformed_assignment_is_refused_at_create_time(world: World, pending: list[Any]) -> None:
    with pytest.raises(Refusal) as refusal:
        _invite(world, pending)
    assert refusal.value.field == "pending"
    assert not Invitation.objects.exists()


def test_a_kind_retired_since_is_logged_and_skipped(world: World) -> None:
    invitation = _invite(world, [{"kind": "test.assign", "data": {"n": 1}}])
    Invitation.objects.filter(pk=invitation.pk).update(
        pending=[{"kind": "retired.kind", "data": {}}, {"kind": "test.assign", "data": {"n": 1}}]
    )
    person = consented(UserFactory.create(email="new@example.test"))
    _, token = mailed_link(person.email)
    with capture_logs() as logs:
        services.invitation_accept(token=token, user=person)
    assert [entry["kind"] for entry in logs if entry["event"] == "invitations.assignment_unknown"] == ["retired.kind"]
    assert [entry["n"] for entry in ACTIVATED] == [1]


def test_a_refusing_assignment_refuses_the_whole_acceptance(world: World) -> None:
    invitation = _invite(world, [{"kind": "test.assign", "data": {}}, {"kind": "test.refuse", "data": {}}])
    person = consented(UserFactory.create(email="new@example.test"))
    _, token = mailed_link(person.email)
    with pytest.raises(Refusal) as refusal:
        services.invitation_accept(token=token, user=person)
    assert refusal.value.code == "gone"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert not Membership.objects.filter(user=person, organisation=world.organisation).exists()


def test_the_accept_page_shows_a_refusing_assignment_and_changes_nothing(client: Client, world: World) -> None:
    invitation = _invite(world, [{"kind": "test.refuse", "data": {}}])
    path, _ = mailed_link("new@example.test")
    client.force_login(consented(UserFactory.create(email="new@example.test")))
    response = client.post(path)
    assert response.status_code == 400
    assert "The interview is no longer open." in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
