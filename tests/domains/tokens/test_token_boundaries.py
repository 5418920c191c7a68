"""Where tokens stop: a personal access token never acts on the account, a bad bearer token is a
401 (never a CSRF 403), an app's password change keeps the app signed in, and removing a member
revokes their tokens for good."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from domains.accounts.models import Role
from domains.accounts.services import member_remove, membership_grant
from domains.compliance.models import AuditEvent
from domains.tokens import services
from domains.tokens.models import PersonalAccessToken
from tests.domains.tokens.helpers import World, app_login, bearer, post_json
from tests.factories import MembershipFactory
from tests.factories.accounts import PASSWORD

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
NOTES = "/api/v1/notes"
NEW_PASSWORD = "a-brand-new-passphrase-42"


def _pat(world: World, scope: str = "write") -> str:
    return services.pat_create(
        user=world.learner, organisation=world.organisation, name="script", scope=scope, expires_in_days=30
    ).secret


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", f"{ME}/password", {"current_password": "", "new_password": NEW_PASSWORD}),
        ("patch", ME, {"display_name": "Renamed by a script"}),
        ("post", f"{ME}/email/verification", {}),
        ("get", f"{ME}/activity", None),
        ("get", f"{ME}/sessions", None),
    ],
)
def test_a_personal_token_cannot_act_on_the_account(world: World, method: str, path: str, body: Any) -> None:
    """A leaked script token must not widen itself into a login (set a password) nor read what spans
    every organisation (sessions, activity): 403, and nothing changes."""
    token = _pat(world)
    client = Client()
    if body is None:
        response = client.get(path, headers=bearer(token))
    else:
        response = getattr(client, method)(path, data=body, content_type="application/json", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["detail"] == "A personal access token cannot act on the account: sign in instead."
    world.learner.refresh_from_db()
    assert world.learner.check_password(PASSWORD)
    assert world.learner.display_name != "Renamed by a script"


def test_a_personal_token_may_still_say_who_it_is(world: World) -> None:
    response = Client().get(ME, headers=bearer(_pat(world, scope="read")))
    assert response.status_code == 200
    assert response.json()["email"] == world.learner.email


@pytest.mark.parametrize("token", ["not-a-jwt", "cwp_" + "x" * 43])
def test_a_bad_bearer_token_on_a_write_is_401_not_a_csrf_403(world: World, token: str) -> None:
    """An app whose token expired must hear 401 (and refresh), on a POST as on a GET."""
    response = post_json(Client(), NOTES, {"title": "x"}, **bearer(token))
    assert response.status_code == 401
    assert Client().get(NOTES, headers=bearer(token)).status_code == 401


def test_a_revoked_token_on_a_write_is_401(world: World) -> None:
    created = services.pat_create(
        user=world.learner, organisation=world.organisation, name="gone", scope="write", expires_in_days=30
    )
    services.pat_revoke(token=created.token, user=world.learner)
    assert post_json(Client(), NOTES, {"title": "x"}, **bearer(created.secret)).status_code == 401


def test_an_app_changing_the_password_stays_signed_in(world: World) -> None:
    """The app's own login session gets the new password's hash in place: its access and refresh
    tokens keep working, the answer sets no cookie, and the new password signs in."""
    meta = app_login(world.learner)["meta"]
    response = post_json(
        Client(),
        f"{ME}/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        **bearer(meta["access_token"]),
    )
    assert response.status_code == 204, response.content
    assert "sessionid" not in response.cookies
    assert Client().get(ME, headers=bearer(meta["access_token"])).status_code == 200
    refreshed = post_json(Client(), "/_allauth/app/v1/tokens/refresh", {"refresh_token": meta["refresh_token"]})
    assert refreshed.status_code == 200
    app_login(world.learner, password=NEW_PASSWORD)


def test_removing_a_member_revokes_their_tokens_for_good(world: World) -> None:
    """Joining again does not bring a removed member's token back; the revocation is audited."""
    token = _pat(world)
    staff = MembershipFactory.create(organisation=world.organisation, role=Role.STAFF).user
    member_remove(organisation=world.organisation, user=world.learner, actor=staff)
    assert Client().get(NOTES, headers=bearer(token)).status_code == 401
    membership_grant(organisation=world.organisation, user=world.learner, role=Role.LEARNER, actor=staff)
    assert Client().get(NOTES, headers=bearer(token)).status_code == 401
    revoked = PersonalAccessToken.objects.get(user=world.learner)
    assert revoked.revoked_at is not None
    event = AuditEvent.objects.get(action="token.revoked", target_id=str(revoked.pk))
    assert event.details["reason"] == "member_removed"
