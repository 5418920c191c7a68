"""Invitations: inviting by email with a role, the signed single-use link that expires, accepting
(signed in, or by creating the account with consent), resending, revoking, and who may do which."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.core import signing
from django.test import Client
from django.utils import timezone

from domains.accounts.models import Membership, Role, User
from domains.accounts.selectors import ORGANISATION_SESSION_KEY
from domains.common.errors import Refusal
from domains.compliance.models import AuditEvent, Consent
from domains.invitations import services
from domains.invitations.assignments import assignment_kind
from domains.invitations.models import Invitation, InvitationStatus
from domains.mail.models import OutboundEmail
from domains.notifications.models import Notification
from tests.domains.invitations.helpers import World, consented, mailed_link
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

ACTIVATED: list[dict[str, Any]] = []


def _activate(*, user: User, organisation: Any, invitation: Invitation, data: dict[str, Any]) -> None:
    ACTIVATED.append({"user": user.pk, "organisation": organisation.pk, "invitation": invitation.pk, **data})


def _refuse(**kwargs: Any) -> None:
    raise Refusal("gone", "The interview is no longer open.")


TEST_KIND = assignment_kind("test.assign", _activate)
REFUSING_KIND = assignment_kind("test.refuse", _refuse)


@pytest.fixture(autouse=True)
def _fresh_activations() -> None:
    ACTIVATED.clear()


def _invite(world: World, email: str = "new@example.test", role: str = Role.LEARNER, **kwargs: Any) -> Invitation:
    return services.invitation_create(
        organisation=world.organisation, inviter=kwargs.pop("inviter", world.staff), email=email, role=role, **kwargs
    )


def _signup(client: Client, path: str, **overrides: str | None) -> Any:
    data: dict[str, str | None] = {
        "display_name": "Nadia New",
        "password1": "correct horse battery",
        "password2": "correct horse battery",
        "accept_policies": "on",
    }
    data.update(overrides)
    return client.post(path, {k: v for k, v in data.items() if v is not None})


def _nothing_changed(invitation: Invitation, email: str) -> None:
    invitation.refresh_from_db()
    assert invitation.status != InvitationStatus.ACCEPTED
    assert not Membership.objects.filter(user__email=email, organisation=invitation.organisation).exists()
    assert not AuditEvent.objects.filter(action="invitation.accepted").exists()


def test_an_invitation_is_emailed_with_a_link_whose_secret_the_table_does_not_hold(world: World) -> None:
    invitation = _invite(world, email="  New@Example.TEST ", role=Role.MENTOR)
    assert (invitation.email, invitation.role, invitation.status) == ("new@example.test", "mentor", "pending")
    assert (invitation.sent_count, invitation.invited_by) == (1, world.staff)
    assert invitation.last_sent_at is not None
    assert invitation.expires_at == invitation.last_sent_at + timedelta(days=7)
    mail = OutboundEmail.objects.get(tag="invitation")
    assert (mail.to, mail.organisation_id, mail.holds_secret) == ("new@example.test", world.organisation.pk, True)
    assert "Stella Staff invites you to join Acme School" in mail.subject
    path, token = mailed_link("new@example.test")
    assert f"http://localhost:8000{path}" in mail.text_body
    assert path in mail.html_body
    secret = signing.loads(token, salt=services.ACCEPT_SALT)["s"]
    assert secret not in invitation.secret_hash
    assert len(invitation.secret_hash) == 64
    created = AuditEvent.objects.get(action="invitation.created")
    assert (created.actor, created.details["role"]) == (world.staff, "mentor")


def test_accepting_signed_in_creates_the_membership_with_the_role_and_activates_the_pending_work(
    client: Client, world: World
) -> None:
    other = OrganisationFactory.create()
    person = consented(
        MembershipFactory.create(organisation=other, role=Role.LEARNER, user__email="new@example.test").user
    )
    invitation = _invite(world, role=Role.CANDIDATE, pending=[{"kind": "test.assign", "data": {"interview": 7}}])
    path, _ = mailed_link(person.email)
    client.force_login(person)
    page = client.get(path)
    assert page.status_code == 200
    assert "Accept and join" in page.content.decode()
    assert not Membership.objects.filter(user=person, organisation=world.organisation).exists()  # GET accepts nothing

    response = client.post(path)

    assert (response.status_code, response["Location"]) == (302, "/")
    assert Membership.objects.filter(user=person, organisation=world.organisation, role="candidate").exists()
    assert [
        {"user": person.pk, "organisation": world.organisation.pk, "invitation": invitation.pk, "interview": 7}
    ] == ACTIVATED
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_by) == ("accepted", person)
    assert client.session[ORGANISATION_SESSION_KEY] == world.organisation.pk
    assert AuditEvent.objects.filter(action="invitation.accepted", actor=person).count() == 1
    granted = AuditEvent.objects.get(action="membership.role_granted", organisation=world.organisation)
    assert granted.actor == world.staff  # the inviter chose the role
    notice = Notification.objects.get(kind="invitations.accepted")
    assert (notice.user, notice.link) == (world.staff, "/invitations/")


def test_accepting_with_sign_up_creates_a_verified_consenting_account_and_signs_it_in(
    client: Client, world: World
) -> None:
    _invite(world, role=Role.MENTOR, pending=[{"kind": "test.assign", "data": {}}])
    path, _ = mailed_link("new@example.test")
    form = client.get(path)
    assert form.status_code == 200
    assert "Create my account and join" in form.content.decode()

    response = _signup(client, path)

    assert (response.status_code, response["Location"]) == (302, "/")
    user = User.objects.get(email="new@example.test")
    assert (user.display_name, user.check_password("correct horse battery")) == ("Nadia New", True)
    assert EmailAddress.objects.filter(user=user, email=user.email, verified=True, primary=True).exists()
    assert {c.document_id for c in Consent.objects.filter(user=user)} == {p.pk for p in world.policies}
    assert list(Membership.objects.filter(user=user).values_list("organisation", "role")) == [
        (world.organisation.pk, "mentor")
    ]
    assert len(ACTIVATED) == 1
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session[ORGANISATION_SESSION_KEY] == world.organisation.pk
    assert client.get("/").status_code == 200  # signed in, consented: the dashboard, not the consent page


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"accept_policies": None}, "accept_policies"),
        ({"password2": "something else entirely"}, "password2"),
        ({"password1": "short", "password2": "short"}, "password1"),
        ({"display_name": "   "}, "display_name"),
    ],
)
def test_a_bad_sign_up_gets_field_errors_and_creates_nothing(
    client: Client, world: World, overrides: dict[str, str | None], field: str
) -> None:
    invitation = _invite(world)
    path, _ = mailed_link("new@example.test")
    response = _signup(client, path, **overrides)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not User.objects.filter(email="new@example.test").exists()
    _nothing_changed(invitation, "new@example.test")


def test_an_expired_link_is_refused_and_changes_nothing(client: Client, world: World) -> None:
    invitation = _invite(world)
    path, token = mailed_link("new@example.test")
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1), tick=False):
        for response in (client.get(path), _signup(client, path)):
            assert response.status_code == 400
            assert 'data-refusal="expired"' in response.content.decode()
        with pytest.raises(services.InvitationError) as refusal:
            services.invitation_accept_signup(token=token, display_name="N", password="x" * 12, consent=True)
        assert refusal.value.code == "expired"
    assert not User.objects.filter(email="new@example.test").exists()
    _nothing_changed(invitation, "new@example.test")


def test_the_rows_expiry_holds_even_inside_the_signatures_age(client: Client, world: World) -> None:
    invitation = _invite(world)
    path, _ = mailed_link("new@example.test")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert 'data-refusal="expired"' in _signup(client, path).content.decode()
    _nothing_changed(invitation, "new@example.test")


def test_a_used_link_is_refused_the_second_time(client: Client, world: World) -> None:
    _invite(world)
    path, token = mailed_link("new@example.test")
    assert _signup(client, path).status_code == 302
    user = User.objects.get(email="new@example.test")

    again = client.post(path)  # the same person, signed in now
    assert again.status_code == 400
    assert 'data-refusal="accepted"' in again.content.decode()
    client.logout()
    assert 'data-refusal="accepted"' in _signup(client, path, display_name="Mallory").content.decode()

    assert User.objects.filter(email="new@example.test").count() == 1
    assert Membership.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action="invitation.accepted").count() == 1
    with pytest.raises(services.InvitationError) as refusal:
        services.invitation_accept(token=token, user=user)
    assert refusal.value.code == "accepted"


def test_a_revoked_link_is_refused(client: Client, world: World) -> None:
    invitation = _invite(world)
    path, _ = mailed_link("new@example.test")
    client.force_login(world.staff)
    assert client.post(f"/invitations/{invitation.pk}/revoke/").status_code == 302
    client.logout()
    response = _signup(client, path)
    assert response.status_code == 400
    assert 'data-refusal="revoked"' in response.content.decode()
    assert AuditEvent.objects.filter(action="invitation.revoked", actor=world.staff).count() == 1
    _nothing_changed(invitation, "new@example.test")


def test_tampered_forged_and_replaced_links_are_refused_alike(client: Client, world: World) -> None:
    """Each is refused as not valid, and the genuine link still works afterwards."""
    invitation = _invite(world)
    other = _invite(world, email="other@example.test")
    path, token = mailed_link("new@example.test")
    secret = signing.loads(token, salt=services.ACCEPT_SALT)["s"]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    # Signed with the server's key (a leaked key, say) but naming another invitation: the secret does not fit it.
    other_payload = signing.dumps({"i": other.pk, "s": secret}, salt=services.ACCEPT_SALT, compress=True)
    wrong_salt = signing.dumps({"i": invitation.pk, "s": secret}, salt="notifications.unsubscribe")
    _, replaced = mailed_link("other@example.test")
    services.invitation_resend(invitation=other, actor=world.staff)  # the first link to "other" dies

    for bad in (altered, other_payload, wrong_salt, replaced, "not-a-token"):
        response = _signup(client, f"/invitations/accept/{bad}/")
        assert response.status_code == 400, bad
        assert 'data-refusal="invalid"' in response.content.decode()
    assert not User.objects.filter(email__in=["new@example.test", "other@example.test"]).exists()
    _nothing_changed(invitation, "new@example.test")
    _nothing_changed(other, "other@example.test")
    assert _signup(client, path).status_code == 302


def test_a_different_signed_in_address_is_refused_with_a_way_to_sign_out(client: Client, world: World) -> None:
    invitation = _invite(world)
    path, token = mailed_link("new@example.test")
    client.force_login(world.learner)
    for response in (client.get(path), client.post(path)):
        body = response.content.decode()
        assert response.status_code == 400
        assert 'data-refusal="wrong_account"' in body
        assert 'action="/accounts/logout/"' in body
        assert f'value="{path}"' in body
    with pytest.raises(services.InvitationError) as refusal:
        services.invitation_accept(token=token, user=world.learner)
    assert refusal.value.code == "wrong_account"
    _nothing_changed(invitation, "new@example.test")
    signed_out = client.post("/accounts/logout/", {"next": path})
    assert (signed_out.status_code, signed_out["Location"]) == (302, path)


def test_someone_with_an_account_is_asked_to_sign_in_and_comes_back_to_accept(client: Client, world: World) -> None:
    person = consented(UserFactory.create(email="new@example.test"))
    _invite(world)
    path, _ = mailed_link(person.email)
    page = client.get(path).content.decode()
    assert "Sign in to accept" in page
    assert "/accounts/login/?next=/invitations/accept/" in page
    assert _signup(client, path).status_code == 302  # a signed-out POST goes to sign in, creating nothing
    assert User.objects.filter(email="new@example.test").count() == 1
    with pytest.raises(services.InvitationError) as refusal:
        services.invitation_accept_signup(
            token=path.split("/")[-2], display_name="N", password="correct horse battery", consent=True
        )
    assert refusal.value.code == "account_exists"
    client.force_login(person)
    assert client.post(path).status_code == 302
    assert Membership.objects.filter(user=person, organisation=world.organisation, role="learner").exists()


def test_a_mentor_may_invite_candidates_only(client: Client, world: World) -> None:
    client.force_login(world.mentor)
    page = client.get("/invitations/")
    assert page.status_code == 200
    assert [value for value, _ in page.context["form"].fields["role"].choices] == ["candidate"]
    assert client.post("/invitations/", {"email": "c@example.test", "role": "candidate"}).status_code == 302
    refused = client.post("/invitations/", {"email": "s@example.test", "role": "staff"})
    assert refused.status_code == 400
    assert "role" in refused.context["form"].errors
    with pytest.raises(services.InvitationError) as refusal:
        _invite(world, email="s@example.test", role=Role.STAFF, inviter=world.mentor)
    assert (refusal.value.code, refusal.value.field) == ("invalid", "role")
    assert list(Invitation.objects.values_list("email", "role")) == [("c@example.test", "candidate")]
    # and mentors see, resend and revoke only candidates' invitations
    staffs = _invite(world, email="m@example.test", role=Role.MENTOR)
    assert [i.email for i in client.get("/invitations/").context["page"]] == ["c@example.test"]
    assert client.post(f"/invitations/{staffs.pk}/revoke/").status_code == 404


def test_a_learner_may_not_invite(client: Client, world: World) -> None:
    invitation = _invite(world)
    client.force_login(world.learner)
    assert client.get("/invitations/").status_code == 403
    assert client.post("/invitations/", {"email": "x@example.test", "role": "learner"}).status_code == 403
    for verb in ("resend", "revoke"):
        assert client.post(f"/invitations/{invitation.pk}/{verb}/").status_code == 403
        assert client.post(f"/invitations/99999999/{verb}/").status_code == 403  # the same for any id
    with pytest.raises(services.InvitationError) as refusal:
        _invite(world, email="x@example.test", inviter=world.learner)
    assert refusal.value.code == "forbidden"
    assert Invitation.objects.count() == 1


def _page(response: Any, invitation_id: int, verb: str) -> bytes:
    body = response.content.replace(f"/invitations/{invitation_id}/{verb}/".encode(), b"PATH")
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"CSRF", body)


def test_another_organisations_invitation_is_404_like_a_missing_one(client: Client, world: World) -> None:
    elsewhere = OrganisationFactory.create()
    their_staff = MembershipFactory.create(organisation=elsewhere, role=Role.STAFF).user
    theirs = services.invitation_create(
        organisation=elsewhere, inviter=their_staff, email="x@example.test", role=Role.LEARNER
    )
    client.force_login(world.staff)
    for verb in ("resend", "revoke"):
        foreign = client.post(f"/invitations/{theirs.pk}/{verb}/")
        missing = client.post(f"/invitations/99999999/{verb}/")
        # The page names the path asked for, and a form's CSRF token is per response; otherwise the same.
        assert _page(foreign, theirs.pk, verb) == _page(missing, 99999999, verb)
        assert foreign.status_code == 404
        assert client.post(f"/invitations/99999999999999999999/{verb}/").status_code == 404
    assert "x@example.test" not in client.get("/invitations/").content.decode()
    theirs.refresh_from_db()
    assert (theirs.status, theirs.sent_count) == ("pending", 1)


def test_inviting_a_member_or_someone_already_invited_is_refused(client: Client, world: World) -> None:
    with pytest.raises(services.InvitationError) as refusal:
        _invite(world, email=world.learner.email.upper())
    assert (refusal.value.code, refusal.value.field) == ("member", "email")
    _invite(world)
    with pytest.raises(services.InvitationError) as refusal:
        _invite(world, role=Role.MENTOR)
    assert (refusal.value.code, refusal.value.field) == ("pending", "email")
    client.force_login(world.staff)
    response = client.post("/invitations/", {"email": world.learner.email, "role": "mentor"})
    assert response.status_code == 400
    assert "already a member" in str(response.context["form"].errors["email"])
    assert Invitation.objects.count() == 1
    assert OutboundEmail.objects.filter(tag="invitation").count() == 1


def test_resending_replaces_the_link_and_renews_the_expiry(client: Client, world: World) -> None:
    invitation = _invite(world)
    old_path, _ = mailed_link("new@example.test")
    with time_machine.travel(timezone.now() + timedelta(days=6), tick=False):
        client.force_login(world.staff)
        assert client.post(f"/invitations/{invitation.pk}/resend/").status_code == 302
        invitation.refresh_from_db()
        assert invitation.sent_count == 2
        assert invitation.expires_at == timezone.now() + timedelta(days=7)
        new_path, _ = mailed_link("new@example.test")
        assert new_path != old_path
        client.logout()
        assert 'data-refusal="invalid"' in _signup(client, old_path).content.decode()  # within its age, replaced
    with time_machine.travel(timezone.now() + timedelta(days=10), tick=False):
        assert _signup(client, new_path).status_code == 302
    assert AuditEvent.objects.filter(action="invitation.resent", actor=world.staff).count() == 1


def test_an_accepted_invitation_cannot_be_resent_or_revoked(world: World) -> None:
    invitation = _invite(world)
    _path, token = mailed_link("new@example.test")
    services.invitation_accept_signup(token=token, display_name="N", password="correct horse battery", consent=True)
    for action in (services.invitation_resend, services.invitation_revoke):
        with pytest.raises(services.InvitationError):
            action(invitation=invitation, actor=world.staff)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.sent_count) == ("accepted", 1)


def test_the_list_shows_the_organisations_invitations_and_their_states(client: Client, world: World) -> None:
    waiting = _invite(world, email="a@example.test")
    revoked = services.invitation_revoke(invitation=_invite(world, email="b@example.test"), actor=world.staff)
    client.force_login(world.staff)
    page = client.get("/invitations/")
    body = page.content.decode()
    assert [i.pk for i in page.context["page"]] == [revoked.pk, waiting.pk]
    assert "Withdrawn" in body
    assert "Waiting, until" in body
    assert f"/invitations/{waiting.pk}/resend/" in body
    assert f"/invitations/{revoked.pk}/resend/" not in body


def test_the_organisation_admin_lists_invitations_read_only(world: World) -> None:
    from domains.accounts.admin_site import OrganisationAdminSite
    from domains.invitations.admin import register

    site = OrganisationAdminSite(name="invitations_test")
    register(site)
    model_admin = site.get_model_admin(Invitation)
    request = type("Request", (), {"organisation": world.organisation, "user": world.staff})()
    assert not model_admin.has_add_permission(request)
    assert "secret_hash" not in model_admin.get_fields(request)
