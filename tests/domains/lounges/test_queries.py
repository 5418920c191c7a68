"""Query counts: the lounge directory and the room snapshot cost a fixed number of queries, however
many lounges, members, messages, pins and reports there are (no query per row)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from domains.accounts.models import Membership, Role
from domains.coach.lounge_reply import live_text
from domains.lounges.models import AuthorKind, LoungeAccess, LoungeMembership, LoungeRole, Message, MessageStatus
from domains.lounges.selectors import lounge_state_get, room_snapshot
from domains.lounges.services import report_create
from tests.factories import OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory, MessageFactory

pytestmark = pytest.mark.django_db

# The directory, once the session's first page is behind it: the signed-in user, their organisation
# and roles (the page chrome), then the user's lounge memberships and the lounges with their counts.
DIRECTORY_QUERIES = 6  # with the notifications badge every page shows
# The snapshot: history, pins and the people present; for moderators also reports and members.
SNAPSHOT_QUERIES_MEMBER = 3
SNAPSHOT_QUERIES_MODERATOR = 5


def _person(organisation: Any, role: str = Role.LEARNER) -> Any:
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


def _busy_room(lounge: Any, people: int) -> tuple[list[Any], Any]:
    """`people` members who each post, reply, get pinned and reported, and one streaming coach reply."""
    members = [_person(lounge.organisation) for _ in range(people)]
    moderator = _person(lounge.organisation, Role.MENTOR)
    LoungeMembership.objects.create(lounge=lounge, user=moderator, role=LoungeRole.MODERATOR)
    previous = None
    for member in members:
        LoungeMembership.objects.create(lounge=lounge, user=member)
        message = MessageFactory.create(lounge=lounge, author=member, reply_to=previous, pinned_at=timezone.now())
        report_create(message=message, reporter=moderator, reason="check this")
        previous = message
    Message.objects.create(
        lounge=lounge, author_kind=AuthorKind.COACH, status=MessageStatus.STREAMING, summoned_by=members[0]
    )
    MessageFactory.create(lounge=lounge, author=members[-1], hidden_at=timezone.now(), hidden_reason="off topic")
    return members, moderator


@pytest.mark.parametrize("lounges", [1, 6])
def test_the_directory_costs_a_fixed_number_of_queries(
    client: Client, django_assert_num_queries: Any, lounges: int
) -> None:
    """The lounge directory runs the same queries for one lounge as for many, with their members."""
    # given an organisation with lounges of every access kind, some with members
    organisation = OrganisationFactory.create()
    user = _person(organisation)
    for n in range(lounges):
        access = [LoungeAccess.OPEN, LoungeAccess.MEMBERS, LoungeAccess.INVITE][n % 3]
        lounge = LoungeFactory.create(organisation=organisation, access=access, category=f"c{n % 2}")
        LoungeMembership.objects.create(lounge=lounge, user=user, role=LoungeRole.MEMBER)
        for _ in range(2):
            LoungeMembership.objects.create(lounge=lounge, user=_person(organisation))
    client.force_login(user)
    client.get("/lounges/")  # a session's first page also checks the policies and saves the session
    # when the user opens the directory, then it costs a fixed number of queries
    with django_assert_num_queries(DIRECTORY_QUERIES):
        response = client.get("/lounges/")
    assert response.status_code == 200
    assert response.content.count(b"data-lounge=") == lounges
    assert b"3 members" in response.content


@pytest.mark.parametrize("people", [1, 5])
def test_the_room_snapshot_costs_a_fixed_number_of_queries(django_assert_num_queries: Any, people: int) -> None:
    """The room snapshot a moderator or a member gets runs the same queries whatever the room holds:
    messages, replies, pins, a streaming coach reply, reports, members and the people present."""
    # given a busy room
    lounge = LoungeFactory.create()
    members, moderator = _busy_room(lounge, people)
    present = [m.pk for m in members] + [moderator.pk]
    for viewer, expected, moderating in (
        (moderator, SNAPSHOT_QUERIES_MODERATOR, True),
        (members[0], SNAPSHOT_QUERIES_MEMBER, False),
    ):
        fresh, membership = lounge_state_get(lounge_id=lounge.pk, user=viewer)
        # when the snapshot is built, then it costs a fixed number of queries
        with django_assert_num_queries(expected):
            data = room_snapshot(lounge=fresh, membership=membership, present_user_ids=present, live_text=live_text)
        # the hidden message is shown to moderators and to its author (members[-1]), text withheld
        sees_hidden = moderating or viewer == members[-1]
        assert len(data["messages"]) == people + 1 + (1 if sees_hidden else 0)
        assert len(data["pins"]) == people
        assert len(data["presence"]) == people + 1
        assert len(data["reports"]) == (people if moderating else 0)
        assert len(data["members"]) == (people + 1 if moderating else 0)
        assert data["messages"][-2 if sees_hidden else -1]["coach_name"] == lounge.coach_name
