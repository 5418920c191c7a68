"""The invitations page costs a fixed number of queries, however many invitations it lists."""

from __future__ import annotations

import pytest
from django.test import Client

from domains.accounts.models import Role
from domains.invitations import services
from tests.domains.invitations.helpers import World

pytestmark = pytest.mark.django_db

# The user; the session's organisation and roles (middleware); the roles again for the view's check
# and for the selector's scope (rights are read on every call); the page's count and its rows
# (inviter and acceptor joined); the header's unread count. The session and the consent check are
# cached.
LIST_QUERIES = 8


@pytest.mark.parametrize("count", [1, 6])
def test_the_invitation_list_costs_a_fixed_number_of_queries(
    client: Client, world: World, django_assert_num_queries: object, count: int
) -> None:
    for n in range(count):
        invitation = services.invitation_create(
            organisation=world.organisation,
            inviter=world.mentor if n % 2 else world.staff,
            email=f"p{n}@example.test",
            role=Role.CANDIDATE,
        )
        if n % 3 == 1:
            services.invitation_revoke(invitation=invitation, actor=world.staff)
    client.force_login(world.staff)
    client.get("/invitations/")  # warm the per-session caches (the consent check's)
    with django_assert_num_queries(LIST_QUERIES):  # type: ignore[operator]
        response = client.get("/invitations/")
    assert response.status_code == 200
