"""Staff deactivate, reactivate and remove members; everything is audited and scoped."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from domains.accounts.models import Membership, MemberSuspension, Role
from domains.accounts.services import member_deactivate, membership_grant, membership_roles_set
from domains.common.errors import Refusal
from domains.compliance.models import AuditEvent
from realtime.streams import user_stream
from tests.factories import MembershipFactory, OrganisationFactory
from tests.listen import GroupListener

pytestmark = pytest.mark.django_db


def _roles(user: Any, organisation: Any) -> set[str]:
    return set(Membership.objects.filter(user=user, organisation=organisation).values_list("role", flat=True))


@pytest.fixture
def staff_client(client: Client) -> tuple[Client, Any]:
    staff = MembershipFactory.create(role=Role.STAFF)
    client.force_login(staff.user)
    return client, staff


def test_deactivating_keeps_the_roles_and_reactivating_gives_them_back(
    staff_client: tuple[Client, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Deactivation takes every role away at once (their open sockets re-check) and keeps them;
    reactivation restores exactly those roles. Both are audited."""
    client, staff = staff_client
    organisation = staff.organisation
    member = MembershipFactory.create(organisation=organisation, role=Role.MENTOR).user
    MembershipFactory.create(organisation=organisation, user=member, role=Role.LEARNER)

    with GroupListener(user_stream(member.pk)) as listener:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/members/{member.pk}/deactivate/")
        assert response.status_code == 302
        assert listener.receive()["action"] == "rights_changed"
    assert _roles(member, organisation) == set()
    suspension = MemberSuspension.objects.get(organisation=organisation, user=member)
    assert sorted(suspension.roles) == ["learner", "mentor"]
    assert suspension.suspended_by == staff.user
    page = client.get("/members/")
    assert b"Deactivated" in page.content
    assert member.email.encode() in page.content

    assert client.post(f"/members/{member.pk}/reactivate/").status_code == 302
    assert _roles(member, organisation) == {"learner", "mentor"}
    assert not MemberSuspension.objects.filter(user=member).exists()
    actions = list(AuditEvent.objects.filter(target_id=str(member.pk)).values_list("action", flat=True))
    assert "membership.deactivated" in actions
    assert "membership.reactivated" in actions


def test_a_deactivated_member_no_longer_reaches_the_organisation(staff_client: tuple[Client, Any]) -> None:
    """Their session loses the organisation: its pages are gone for them (their others stay)."""
    _client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.MENTOR).user
    member_deactivate(organisation=staff.organisation, user=member, actor=staff.user)
    other = Client()
    other.force_login(member)
    assert other.get("/members/").status_code == 404  # no organisation left to show


def test_removing_ends_the_membership_for_good(staff_client: tuple[Client, Any]) -> None:
    """Removal deletes the roles and any kept suspension; the account itself stays."""
    client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.LEARNER).user
    member_deactivate(organisation=staff.organisation, user=member, actor=staff.user)
    assert client.post(f"/members/{member.pk}/remove/").status_code == 302
    assert _roles(member, staff.organisation) == set()
    assert not MemberSuspension.objects.filter(user=member).exists()
    member.refresh_from_db()
    assert member.is_active
    event = AuditEvent.objects.get(action="membership.removed", target_id=str(member.pk))
    assert event.details == {"roles": ["learner"], "was_deactivated": True}
    assert client.post(f"/members/{member.pk}/remove/").status_code == 404  # no longer a member


def test_staff_cannot_deactivate_or_remove_themselves(staff_client: tuple[Client, Any]) -> None:
    client, staff = staff_client
    for action in ("deactivate", "remove"):
        response = client.post(f"/members/{staff.user.pk}/{action}/", follow=True)
        assert b"yourself" in response.content
    assert _roles(staff.user, staff.organisation) == {"staff"}


def test_the_last_staff_member_is_never_taken_away(staff_client: tuple[Client, Any]) -> None:
    """An organisation always keeps someone to run it: not by deactivation, removal or a role change."""
    client, staff = staff_client
    other_staff = MembershipFactory.create(organisation=staff.organisation, role=Role.STAFF).user
    # Two staff: one may go.
    member_deactivate(organisation=staff.organisation, user=other_staff, actor=staff.user)
    # Now `staff` is the last: a second staff person (the operator-made one) cannot strip them.
    with pytest.raises(Refusal) as refused:
        membership_roles_set(organisation=staff.organisation, user=staff.user, roles={"mentor"}, actor=other_staff)
    assert refused.value.code == "last_staff"
    response = client.post(f"/members/{staff.user.pk}/", {"roles": ["mentor"]})
    assert response.status_code == 200
    assert b"last staff member" in response.content
    assert _roles(staff.user, staff.organisation) == {"staff"}


def test_member_actions_are_staff_only_and_foreign_ids_are_404(client: Client) -> None:
    """A mentor may view members but not change them (403); staff naming a person of another
    organisation, or no one, get 404, and nothing changes."""
    mentor = MembershipFactory.create(role=Role.MENTOR)
    learner = MembershipFactory.create(organisation=mentor.organisation, role=Role.LEARNER).user
    client.force_login(mentor.user)
    assert client.post(f"/members/{learner.pk}/deactivate/").status_code == 403

    staff = MembershipFactory.create(organisation=mentor.organisation, role=Role.STAFF)
    client.force_login(staff.user)
    stranger = MembershipFactory.create(organisation=OrganisationFactory.create(), role=Role.LEARNER).user
    for action in ("deactivate", "reactivate", "remove"):
        assert client.post(f"/members/{stranger.pk}/{action}/").status_code == 404
        assert client.post(f"/members/999999999/{action}/").status_code == 404
    assert client.get(f"/members/{learner.pk}/deactivate/").status_code == 405
    assert set(stranger.memberships.values_list("role", flat=True)) == {"learner"}


def test_reactivating_someone_who_is_not_deactivated_is_404(staff_client: tuple[Client, Any]) -> None:
    client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.LEARNER).user
    assert client.post(f"/members/{member.pk}/reactivate/").status_code == 404
    assert _roles(member, staff.organisation) == {"learner"}


def test_a_deactivated_member_cannot_be_invited_again(staff_client: tuple[Client, Any]) -> None:
    """The invitation form points staff at reactivation instead of creating a second way in."""
    from domains.invitations.services import InvitationError, invitation_create

    _client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.LEARNER).user
    member_deactivate(organisation=staff.organisation, user=member, actor=staff.user)
    with pytest.raises(InvitationError) as refused:
        invitation_create(organisation=staff.organisation, inviter=staff.user, email=member.email, role=Role.LEARNER)
    assert "reactivate" in refused.value.message


def test_deactivation_withdraws_waiting_invitations_and_a_deactivated_person_cannot_accept(
    staff_client: tuple[Client, Any],
) -> None:
    """An invitation sent before someone was deactivated must not give their access back: it is
    withdrawn (audited), and accepting any invitation while deactivated is refused."""
    from domains.invitations.models import Invitation, InvitationStatus
    from domains.invitations.services import InvitationError, invitation_accept, invitation_create
    from tests.domains.invitations.helpers import mailed_link

    _, staff = staff_client
    organisation = staff.organisation
    member = MembershipFactory.create(role=Role.LEARNER).user  # a member elsewhere, not here yet
    invitation = invitation_create(organisation=organisation, inviter=staff.user, email=member.email, role=Role.MENTOR)
    membership_grant(organisation=organisation, user=member, role=Role.LEARNER, actor=staff.user)

    member_deactivate(organisation=organisation, user=member, actor=staff.user)

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    assert AuditEvent.objects.get(action="invitation.revoked", target_id=str(invitation.pk)).details["reason"] == (
        "member_deactivated"
    )
    # A second invitation cannot be sent (see above), and a pending one cannot be accepted either.
    Invitation.objects.filter(pk=invitation.pk).update(status=InvitationStatus.PENDING)
    _, token = mailed_link(member.email)
    with pytest.raises(InvitationError) as refused:
        invitation_accept(token=token, user=member)
    assert refused.value.code == "deactivated"
    assert _roles(member, organisation) == set()


def test_deactivating_again_after_regaining_a_role_updates_the_kept_roles(staff_client: tuple[Client, Any]) -> None:
    """Someone deactivated, then given a role another way, can be deactivated again (no error): the
    kept roles are the ones held now."""
    client, staff = staff_client
    member = MembershipFactory.create(organisation=staff.organisation, role=Role.LEARNER).user
    member_deactivate(organisation=staff.organisation, user=member, actor=staff.user)
    membership_grant(organisation=staff.organisation, user=member, role=Role.MENTOR, actor=staff.user)
    assert client.post(f"/members/{member.pk}/deactivate/").status_code == 302
    assert MemberSuspension.objects.get(user=member).roles == ["mentor"]
