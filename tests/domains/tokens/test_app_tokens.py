"""App clients through allauth headless: login gives a JWT access token and a refresh token; the
access token works on /api/v1 without CSRF; a refresh rotates (the used refresh token is refused);
logout refuses the access token at once; cookie requests still need CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from domains.accounts.selectors import ORGANISATION_SESSION_KEY
from domains.accounts.services import user_deactivate
from tests.domains.tokens.helpers import LOGIN, REFRESH, SESSION, World, app_login, bearer, post_json
from tests.factories import MembershipFactory
from tests.factories.accounts import PASSWORD
from tests.helpers import session_for

pytestmark = pytest.mark.django_db

NOTES = "/api/v1/notes"


def _note(title: str = "From the app") -> dict[str, Any]:
    return {"title": title, "body": "written with a bearer token"}


def test_login_gives_an_access_and_a_refresh_token_that_read_the_api(world: World) -> None:
    """Given a member, when they sign in as the app client, then the answer carries an access token,
    a refresh token and its lifetime, and the access token reads /api/v1/notes as them."""
    client = Client()
    answer = post_json(client, LOGIN, {"email": world.learner.email, "password": PASSWORD})
    body = answer.json()

    assert answer.status_code == 200
    assert dict(answer.cookies) == {}  # no cookie: the tokens are the credential
    meta = body["meta"]
    assert body["status"] == 200
    assert meta["is_authenticated"] is True
    assert set(meta) >= {"access_token", "refresh_token", "session_token"}
    response = Client().get(NOTES, headers=bearer(meta["access_token"]))
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0


def test_a_bearer_write_needs_no_csrf_token(world: World) -> None:
    """Given an access token, when the app POSTs a note without any CSRF token, then it is created
    for that person in their organisation."""
    access = app_login(world.learner)["meta"]["access_token"]

    client = Client(enforce_csrf_checks=True)
    response = post_json(client, NOTES, _note(), **bearer(access))

    assert response.status_code == 201, response.content
    note = client.get(f"{NOTES}/{response.json()['id']}", headers=bearer(access)).json()
    assert note["title"] == "From the app"


def test_a_cookie_write_still_needs_its_csrf_token(world: World) -> None:
    """Given a browser session cookie, when it POSTs without the CSRF token, then 403 and nothing
    is written; with the token, it works as before."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.learner)

    refused = post_json(client, NOTES, _note())
    client.get("/")  # sets the CSRF cookie
    allowed = post_json(client, NOTES, _note("With CSRF"), **{"X-CSRFToken": client.cookies["csrftoken"].value})

    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF check Failed", "errors": []}
    assert allowed.status_code == 201, allowed.content
    assert client.get(NOTES).json()["count"] == 1


def test_refresh_rotates_and_the_used_refresh_token_is_refused(world: World) -> None:
    """Given a refresh token, when the app refreshes, then it gets a new access token and a new
    refresh token; the used one is refused (400) from then on, and the new access token works."""
    meta = app_login(world.learner)["meta"]

    first = post_json(Client(), REFRESH, {"refresh_token": meta["refresh_token"]})
    again = post_json(Client(), REFRESH, {"refresh_token": meta["refresh_token"]})

    assert first.status_code == 200, first.content
    data = first.json()["data"]
    assert set(data) == {"access_token", "refresh_token"}
    assert data["refresh_token"] != meta["refresh_token"]
    assert Client().get(NOTES, headers=bearer(data["access_token"])).status_code == 200
    assert again.status_code == 400
    assert again.json() == {
        "status": 400,
        "errors": [
            {
                "message": "This refresh token is unknown, expired or already used: sign in again.",
                "code": "invalid_refresh_token",
            }
        ],
    }
    assert post_json(Client(), REFRESH, {"refresh_token": data["refresh_token"]}).status_code == 200


def test_logout_refuses_the_access_token_at_once(world: World) -> None:
    """Given a signed-in app, when it logs out (DELETE auth/session with its access token), then the
    same, unexpired access token is refused (401) and so is its refresh token."""
    meta = app_login(world.learner)["meta"]
    headers = bearer(meta["access_token"])
    assert Client().get(NOTES, headers=headers).status_code == 200

    logout = Client().delete(SESSION, headers=headers)

    assert logout.status_code == 401  # allauth: "not authenticated any more"
    assert logout.json()["meta"]["is_authenticated"] is False
    after = Client().get(NOTES, headers=headers)
    assert after.status_code == 401
    assert after.json() == {"detail": "Unauthorized", "errors": []}
    assert post_json(Client(), REFRESH, {"refresh_token": meta["refresh_token"]}).status_code == 400


def test_allauth_s_own_app_endpoints_know_the_person_by_the_access_token(world: World) -> None:
    """GET auth/session with the access token answers 200 for that person (allauth's authenticated
    app endpoints see the token's session), and the logout it then does is audited as theirs."""
    from domains.compliance.models import AuditEvent

    headers = bearer(app_login(world.learner)["meta"]["access_token"])

    current = Client().get(SESSION, headers=headers)
    Client().delete(SESSION, headers=headers)

    assert current.status_code == 200
    assert current.json()["data"]["user"]["email"] == world.learner.email
    assert AuditEvent.objects.filter(action="auth.logout", actor=world.learner).count() == 1


def test_a_bad_or_foreign_signed_token_is_401(world: World) -> None:
    """A token that is not ours, or garbage, authenticates nobody: 401 in the API's error shape."""
    for token in ("garbage", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", ""):
        response = Client().get(NOTES, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.json() == {"detail": "Unauthorized", "errors": []}


def test_a_deactivated_person_s_access_token_is_refused(world: World) -> None:
    """Given an access token, when the person is deactivated, then the token is refused at once."""
    access = app_login(world.learner)["meta"]["access_token"]
    staff = MembershipFactory.create(organisation=world.organisation, role="staff").user

    user_deactivate(user=world.learner, actor=staff)

    assert Client().get(NOTES, headers=bearer(access)).status_code == 401


def test_the_bearer_request_is_bound_to_the_session_s_organisation_rechecked(world: World) -> None:
    """The access token's session names the organisation (ORGANISATION_SESSION_KEY); the API binds
    it only while the person is still a member, as the cookie middleware does."""
    second = MembershipFactory.create(user=world.learner, organisation=world.other_organisation).organisation
    meta = app_login(world.learner)["meta"]
    session = _token_session(meta["session_token"])
    session[ORGANISATION_SESSION_KEY] = second.pk
    session.save()
    headers = bearer(meta["access_token"])

    created = post_json(Client(), NOTES, _note("In the second"), **headers)
    assert created.status_code == 201
    from domains.notes.models import Note

    assert Note.objects.get(pk=created.json()["id"]).organisation_id == second.pk

    # Not a member any more: the first organisation is bound instead, and the note is not visible.
    from domains.accounts.models import Membership

    Membership.objects.filter(user=world.learner, organisation=second).delete()
    assert Client().get(f"{NOTES}/{created.json()['id']}", headers=headers).status_code == 404


def _token_session(session_key: str) -> Any:
    from allauth.headless.internal.sessionkit import lookup_session

    session = lookup_session(session_key)
    assert session is not None
    return session


def test_a_cookie_session_is_unaffected_by_a_bearer_header_it_does_not_send(world: World) -> None:
    """The cookie path is unchanged: a signed-in browser reads the API with no header at all."""
    client = Client()
    client.cookies["sessionid"] = session_for(world.learner).session_key
    assert client.get(NOTES).status_code == 200
