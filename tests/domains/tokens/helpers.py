"""Shared steps for the token tests: sign in as an app client, call the API with a bearer token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

from domains.accounts.models import Organisation, Role, User
from domains.compliance.services import consent_record, policy_current_list, policy_publish
from tests.factories import MembershipFactory, OrganisationFactory
from tests.factories.accounts import PASSWORD

LOGIN = "/_allauth/app/v1/auth/login"
SESSION = "/_allauth/app/v1/auth/session"
REFRESH = "/_allauth/app/v1/tokens/refresh"
SIGNUP = "/_allauth/app/v1/auth/signup"


@dataclass
class World:
    organisation: Organisation
    learner: User
    other: User  # a member of another organisation
    other_organisation: Organisation


def world_make() -> World:
    organisation = OrganisationFactory.create(name="Acme School")
    other_organisation = OrganisationFactory.create(name="Elsewhere Academy")
    policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy")
    policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms")
    learner = MembershipFactory.create(organisation=organisation, role=Role.LEARNER).user
    other = MembershipFactory.create(organisation=other_organisation, role=Role.LEARNER).user
    for user in (learner, other):
        consent_record(user=user, documents=policy_current_list(), request=None)
    return World(organisation=organisation, learner=learner, other=other, other_organisation=other_organisation)


def post_json(client: Client, path: str, body: dict[str, Any] | None = None, /, **headers: str) -> Any:
    return client.post(path, data=json.dumps(body or {}), content_type="application/json", headers=headers)


def app_login(user: User, password: str = PASSWORD) -> dict[str, Any]:
    """Sign in as the app client; the response body (`meta` holds the tokens)."""
    response = post_json(Client(), LOGIN, {"email": user.email, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
