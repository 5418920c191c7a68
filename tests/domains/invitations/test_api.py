"""/api/v1/invitations: the page's rules over the API. Staff invite any role and mentors
candidates only; others get 403; another organisation's invitation is 404 like a missing one;
refusals come back at their field; sending is rate limited."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client, override_settings

from domains.accounts.models import Role, User
from domains.compliance.models import AuditEvent
from domains.invitations.models import Invitation, InvitationStatus
from domains.invitations.services import invitation_create
from tests.domains.invitations.helpers import World, mailed_link
from tests.factories import MembershipFactory, OrganisationFactory

URL = "/api/v1/invitations"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, path: str, data: Any = None) -> Any:
    body = json.dumps(data) if data is not None else ""
    return client.post(path, body, content_type="application/json")


def test_staff_invite_over_the_api_and_the_link_is_mailed(world: World) -> None:
    """201 with the invitation; the person gets the same signed link the page sends; audited."""
    response = _post(_client(world.staff), URL, {"email": " New.Mentor@Example.com ", "role": "mentor"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new.mentor@example.com"
    assert body["role"] == "mentor"
    assert body["status"] == "pending"
    assert body["expired"] is False
    assert body["invited_by"] == "Stella Staff"
    assert body["sent_count"] == 1
    path, _token = mailed_link("new.mentor@example.com")
    assert Client().get(path).status_code == 200
    assert AuditEvent.objects.filter(action="invitation.created", target_id=str(body["id"])).exists()


def test_mentors_invite_candidates_only_and_learners_not_at_all(world: World) -> None:
    mentor = _client(world.mentor)
    assert _post(mentor, URL, {"email": "cand@example.com", "role": "candidate"}).status_code == 201
    refused = _post(mentor, URL, {"email": "staff@example.com", "role": "staff"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "payload", "role"]
    learner = _client(world.learner)
    assert learner.get(URL).status_code == 403
    assert _post(learner, URL, {"email": "x@example.com", "role": "candidate"}).status_code == 403
    assert not Invitation.objects.filter(email__in=["staff@example.com", "x@example.com"]).exists()


def test_list_shows_what_the_caller_may_manage(world: World) -> None:
    """Staff see every invitation of their organisation; a mentor only candidates'."""
    invitation_create(organisation=world.organisation, inviter=world.staff, email="m@example.com", role=Role.MENTOR)
    invitation_create(organisation=world.organisation, inviter=world.staff, email="c@example.com", role=Role.CANDIDATE)
    other = OrganisationFactory.create()
    other_staff = MembershipFactory.create(organisation=other, role=Role.STAFF).user
    invitation_create(organisation=other, inviter=other_staff, email="far@example.com", role=Role.MENTOR)

    staff_page = _client(world.staff).get(URL).json()
    assert {item["email"] for item in staff_page["items"]} == {"m@example.com", "c@example.com"}
    mentor_page = _client(world.mentor).get(URL).json()
    assert [item["email"] for item in mentor_page["items"]] == ["c@example.com"]


def test_refusals_come_back_at_their_field_and_change_nothing(world: World) -> None:
    staff = _client(world.staff)
    member = _post(staff, URL, {"email": world.learner.email, "role": "mentor"})
    assert member.status_code == 422
    assert member.json()["errors"][0]["loc"] == ["body", "payload", "email"]
    assert _post(staff, URL, {"email": "twice@example.com", "role": "learner"}).status_code == 201
    again = _post(staff, URL, {"email": "twice@example.com", "role": "learner"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["type"] == "pending"
    assert _post(staff, URL, {"email": "not-an-address", "role": "learner"}).status_code == 422
    assert _post(staff, URL, {"email": "a@example.com", "role": "emperor"}).status_code == 422
    assert Invitation.objects.filter(organisation=world.organisation).count() == 1


def test_resend_revoke_and_foreign_ids(world: World) -> None:
    """Resend gives a new link (the old stops working); revoke withdraws; another organisation's
    invitation and a missing id are the same 404; an accepted or revoked one cannot be sent again."""
    staff = _client(world.staff)
    created = _post(staff, URL, {"email": "r@example.com", "role": "learner"}).json()
    old_path, _ = mailed_link("r@example.com")
    resent = _post(staff, f"{URL}/{created['id']}/resend")
    assert resent.status_code == 200
    assert resent.json()["sent_count"] == 2
    new_path, _ = mailed_link("r@example.com")
    assert new_path != old_path
    assert Client().get(old_path).status_code == 400

    revoked = _post(staff, f"{URL}/{created['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert _post(staff, f"{URL}/{created['id']}/revoke").json()["status"] == "revoked"  # again: no change
    assert _post(staff, f"{URL}/{created['id']}/resend").status_code == 422

    other = OrganisationFactory.create()
    other_staff = MembershipFactory.create(organisation=other, role=Role.STAFF).user
    foreign = invitation_create(organisation=other, inviter=other_staff, email="f@example.com", role=Role.MENTOR)
    for path in (f"{URL}/{foreign.pk}", f"{URL}/999999999"):
        assert staff.get(path).status_code == 404
    for verb in ("resend", "revoke"):
        foreign_answer = _post(staff, f"{URL}/{foreign.pk}/{verb}")
        missing_answer = _post(staff, f"{URL}/999999999/{verb}")
        assert foreign_answer.status_code == missing_answer.status_code == 404
        assert foreign_answer.json() == missing_answer.json()
    foreign.refresh_from_db()
    assert foreign.status == InvitationStatus.PENDING
    assert foreign.sent_count == 1


def test_cookie_calls_need_csrf(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.staff)
    response = _post(client, URL, {"email": "csrf@example.com", "role": "learner"})
    assert response.status_code == 403
    assert not Invitation.objects.filter(email="csrf@example.com").exists()


@override_settings(INVITATION_SEND_PER_HOUR=2)
def test_sending_is_rate_limited_per_person(world: World) -> None:
    """New invitations and resends share one hourly budget; over it, 429 with Retry-After."""
    staff = _client(world.staff)
    first = _post(staff, URL, {"email": "one@example.com", "role": "learner"}).json()
    assert _post(staff, f"{URL}/{first['id']}/resend").status_code == 200
    refused = _post(staff, URL, {"email": "three@example.com", "role": "learner"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert not Invitation.objects.filter(email="three@example.com").exists()
