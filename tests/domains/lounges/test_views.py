"""Lounge pages over HTTP: the room shell, the moderation log, the directory, join and leave.

Everything another organisation owns, every invite-only lounge a person is not in, and every lounge
a person is banned from answers 404, exactly like a lounge that does not exist (as the socket's 4404).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from domains.accounts.models import Membership, Role
from domains.compliance.models import AuditEvent
from domains.lounges.models import LoungeAccess, LoungeMembership, LoungeRole
from domains.lounges.services import lounge_settings_set, member_mute
from tests.factories import OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory

pytestmark = pytest.mark.django_db


def person(organisation: Any, role: str = Role.LEARNER) -> Any:
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


def member_of(lounge: Any, role: str = LoungeRole.MEMBER, **fields: Any) -> Any:
    user = person(lounge.organisation, Role.MENTOR if role != LoungeRole.MEMBER else Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=role, **fields)
    return user


def room_config(response: Any) -> dict[str, Any]:
    """The JSON the room page hands to lounge.js (via json_script)."""
    html = response.content.decode()
    start = html.index('<script id="lounge-config" type="application/json">') + len(
        '<script id="lounge-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def lounge() -> Any:
    return LoungeFactory.create(title="Interview practice", topic="Mock interviews & feedback")


# ------------------------------------------------------------------------------------------ the room
def test_a_member_gets_the_room_shell_with_their_rights(client: Client, lounge: Any) -> None:
    """The room page renders the title, the topic and the member's rights for lounge.js."""
    user = member_of(lounge)
    client.force_login(user)

    response = client.get(f"/lounges/{lounge.slug}/")

    assert response.status_code == 200
    assert b"Interview practice" in response.content
    assert b"Mock interviews &amp; feedback" in response.content
    assert b"js/lounge.js" in response.content
    assert b"css/lounges.css" in response.content
    config = room_config(response)
    assert config["socket"] == f"/ws/lounges/{lounge.slug}/"
    assert config["me"] == {"id": user.pk, "name": user.public_name}
    assert config["rights"]["member"] is True
    assert config["rights"]["moderator"] is False
    assert config["rights"]["can_post"] is True
    assert config["members"] == []  # the member list is for moderators only
    assert config["moderation_url"] == ""
    assert b"/moderation/" not in response.content


def test_a_muted_member_sees_the_mute_in_the_first_paint(client: Client, lounge: Any) -> None:
    """Rights are computed from the database for the first paint, before the socket's snapshot."""
    user = member_of(lounge)
    moderator = member_of(lounge, LoungeRole.MODERATOR)
    member_mute(lounge=lounge, moderator=moderator, member=user, minutes=15)
    client.force_login(user)

    rights = room_config(client.get(f"/lounges/{lounge.slug}/"))["rights"]

    assert rights["muted_until"]
    assert rights["can_post"] is False


def test_a_moderator_gets_the_member_list_and_the_log_link(client: Client, lounge: Any) -> None:
    moderator = member_of(lounge, LoungeRole.MODERATOR)
    learner = member_of(lounge)
    client.force_login(moderator)

    response = client.get(f"/lounges/{lounge.slug}/")

    assert response.status_code == 200
    config = room_config(response)
    assert config["rights"]["moderator"] is True
    assert {m["id"] for m in config["members"]} == {moderator.pk, learner.pk}
    assert config["moderation_url"] == f"/lounges/{lounge.slug}/moderation/"
    assert "email" not in json.dumps(config["members"])  # names only, never addresses


def test_an_open_lounge_is_readable_by_the_organisation_with_a_join_button(client: Client, lounge: Any) -> None:
    outsider_in_org = person(lounge.organisation)
    client.force_login(outsider_in_org)

    response = client.get(f"/lounges/{lounge.slug}/")

    assert response.status_code == 200
    assert room_config(response)["rights"]["member"] is False
    assert f'action="/lounges/{lounge.slug}/join/"'.encode() in response.content


@pytest.mark.parametrize("case", ["foreign_org", "invite_non_member", "members_only_non_member", "banned", "missing"])
def test_the_room_is_not_found_for_whoever_may_not_see_it(client: Client, case: str) -> None:
    """Another organisation's lounge, a hidden one and a banned member all look like a missing lounge."""
    organisation = OrganisationFactory.create()
    user = person(organisation)
    if case == "foreign_org":
        lounge = LoungeFactory.create(organisation=OrganisationFactory.create())
        LoungeFactory.create(organisation=organisation, slug="not-" + lounge.slug)
    elif case == "invite_non_member":
        lounge = LoungeFactory.create(organisation=organisation, access=LoungeAccess.INVITE, invite_code="secret")
    elif case == "members_only_non_member":
        lounge = LoungeFactory.create(organisation=organisation, access=LoungeAccess.MEMBERS)
    elif case == "banned":
        lounge = LoungeFactory.create(organisation=organisation)
        LoungeMembership.objects.create(lounge=lounge, user=user, is_banned=True)
    else:
        lounge = LoungeFactory.build(slug="no-such-lounge")
    client.force_login(user)

    assert client.get(f"/lounges/{lounge.slug}/").status_code == 404
    assert client.get(f"/lounges/{lounge.slug}/moderation/").status_code == 404


def test_the_room_needs_a_login(client: Client, lounge: Any) -> None:
    response = client.get(f"/lounges/{lounge.slug}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# ------------------------------------------------------------------------------------------ moderation log
def test_the_moderation_log_is_not_found_for_members_who_do_not_moderate(client: Client, lounge: Any) -> None:
    member = member_of(lounge)
    other_lounge = LoungeFactory.create(organisation=lounge.organisation)
    moderator_elsewhere = member_of(other_lounge, LoungeRole.MODERATOR)
    LoungeMembership.objects.create(lounge=lounge, user=moderator_elsewhere)
    for user in (member, moderator_elsewhere, person(lounge.organisation, Role.STAFF)):
        client.force_login(user)
        assert client.get(f"/lounges/{lounge.slug}/moderation/").status_code == 404


def test_the_moderation_log_lists_only_this_lounges_events_newest_first(client: Client, lounge: Any) -> None:
    moderator = member_of(lounge, LoungeRole.OWNER)
    learner = member_of(lounge)
    member_mute(lounge=lounge, moderator=moderator, member=learner, minutes=5, reason="cool off")
    lounge_settings_set(lounge=lounge, moderator=moderator, locked=True)
    sibling = LoungeFactory.create(organisation=lounge.organisation)
    sibling_owner = member_of(sibling, LoungeRole.OWNER)
    lounge_settings_set(lounge=sibling, moderator=sibling_owner, slow_mode_seconds=30)
    foreign = LoungeFactory.create(organisation=OrganisationFactory.create(), slug=lounge.slug)
    AuditEvent.objects.create(
        organisation=foreign.organisation, action="lounge.member_banned", details={"lounge": lounge.pk}
    )
    client.force_login(moderator)

    response = client.get(f"/lounges/{lounge.slug}/moderation/")

    assert response.status_code == 200
    actions = [event.action for event in response.context["page"]]
    assert actions == ["lounge.settings_changed", "lounge.member_muted"]
    assert b"cool off" in response.content
    assert b"lounge.member_banned" not in response.content


def test_the_moderation_log_is_paginated_with_constant_queries(
    client: Client, lounge: Any, django_assert_max_num_queries: Any
) -> None:
    moderator = member_of(lounge, LoungeRole.MODERATOR)
    for n in range(60):
        AuditEvent.objects.create(
            organisation=lounge.organisation, action=f"lounge.thing_{n}", details={"lounge": lounge.pk}
        )
    client.force_login(moderator)

    with django_assert_max_num_queries(14):
        first = client.get(f"/lounges/{lounge.slug}/moderation/")
    second = client.get(f"/lounges/{lounge.slug}/moderation/?page=2")

    assert len(first.context["page"]) == 50
    assert first.context["page"][0].action == "lounge.thing_59"
    assert len(second.context["page"]) == 10
    assert b"Older" in first.content


# ------------------------------------------------------------------------------------------ directory
def test_the_directory_lists_this_organisations_lounges_and_hides_invite_only_ones(client: Client) -> None:
    organisation = OrganisationFactory.create()
    user = person(organisation)
    open_lounge = LoungeFactory.create(organisation=organisation, title="Open room")
    members_only = LoungeFactory.create(organisation=organisation, title="Members room", access=LoungeAccess.MEMBERS)
    hidden = LoungeFactory.create(organisation=organisation, title="Secret room", access=LoungeAccess.INVITE)
    invited = LoungeFactory.create(organisation=organisation, title="Invited room", access=LoungeAccess.INVITE)
    LoungeMembership.objects.create(lounge=invited, user=user)
    foreign = LoungeFactory.create(organisation=OrganisationFactory.create(), title="Foreign room")
    client.force_login(user)

    response = client.get("/lounges/")

    assert response.status_code == 200
    listed = {lounge.pk for lounge, _ in response.context["lounges"]}
    assert listed == {open_lounge.pk, members_only.pk, invited.pk}
    assert hidden.pk not in listed
    assert foreign.pk not in listed
    assert b"Secret room" not in response.content
    assert b"Foreign room" not in response.content
    # Cards link to the rooms the person can open (not to a members-only room they are not in).
    assert f'href="/lounges/{open_lounge.slug}/"'.encode() in response.content
    assert f'href="/lounges/{invited.slug}/"'.encode() in response.content
    assert f'href="/lounges/{members_only.slug}/"'.encode() not in response.content


# ------------------------------------------------------------------------------------------ join / leave
def test_joining_and_leaving_an_open_lounge(client: Client, lounge: Any) -> None:
    user = person(lounge.organisation)
    client.force_login(user)

    joined = client.post(f"/lounges/{lounge.slug}/join/", {"next": f"/lounges/{lounge.slug}/"})
    assert joined.status_code == 302
    assert joined["Location"] == f"/lounges/{lounge.slug}/"
    assert LoungeMembership.objects.filter(lounge=lounge, user=user, role=LoungeRole.MEMBER).exists()

    left = client.post(f"/lounges/{lounge.slug}/leave/")
    assert left.status_code == 302
    assert left["Location"] == "/lounges/"
    assert not LoungeMembership.objects.filter(lounge=lounge, user=user).exists()


def test_join_ignores_a_next_url_on_another_host(client: Client, lounge: Any) -> None:
    client.force_login(person(lounge.organisation))
    response = client.post(f"/lounges/{lounge.slug}/join/", {"next": "https://evil.example/"})
    assert response["Location"] == "/lounges/"


def test_join_and_leave_refuse_get(client: Client, lounge: Any) -> None:
    user = person(lounge.organisation)
    client.force_login(user)
    assert client.get(f"/lounges/{lounge.slug}/join/").status_code == 405
    assert not LoungeMembership.objects.filter(user=user).exists()


def test_a_bad_invite_code_changes_nothing_and_looks_like_a_missing_lounge(client: Client) -> None:
    organisation = OrganisationFactory.create()
    user = person(organisation)
    invite = LoungeFactory.create(organisation=organisation, access=LoungeAccess.INVITE, invite_code="right-code")
    client.force_login(user)

    for code in ("wrong-code", "", "RIGHT-CODE"):
        response = client.post(f"/lounges/{invite.slug}/join/", {"invite_code": code})
        assert response.status_code == 404
    assert client.post("/lounges/no-such-lounge/join/", {"invite_code": "right-code"}).status_code == 404
    assert not LoungeMembership.objects.filter(user=user).exists()

    joined = client.post(f"/lounges/{invite.slug}/join/", {"invite_code": "right-code"})
    assert joined.status_code == 302
    assert LoungeMembership.objects.filter(lounge=invite, user=user).exists()


def test_a_banned_person_cannot_rejoin_even_with_the_code(client: Client) -> None:
    organisation = OrganisationFactory.create()
    user = person(organisation)
    invite = LoungeFactory.create(organisation=organisation, access=LoungeAccess.INVITE, invite_code="right-code")
    open_lounge = LoungeFactory.create(organisation=organisation)
    for lounge in (invite, open_lounge):
        LoungeMembership.objects.create(lounge=lounge, user=user, is_banned=True)
    client.force_login(user)

    assert client.post(f"/lounges/{invite.slug}/join/", {"invite_code": "right-code"}).status_code == 404
    assert client.post(f"/lounges/{open_lounge.slug}/join/").status_code == 404
    assert client.post(f"/lounges/{open_lounge.slug}/leave/").status_code == 404
    assert LoungeMembership.objects.filter(user=user, is_banned=True).count() == 2


def test_a_members_only_lounge_cannot_be_joined_by_oneself(client: Client) -> None:
    organisation = OrganisationFactory.create()
    user = person(organisation)
    lounge = LoungeFactory.create(organisation=organisation, access=LoungeAccess.MEMBERS)
    client.force_login(user)

    response = client.post(f"/lounges/{lounge.slug}/join/", follow=True)

    assert response.status_code == 200
    assert b"a moderator can add you" in response.content
    assert not LoungeMembership.objects.filter(user=user).exists()


def test_another_organisations_lounge_cannot_be_joined(client: Client) -> None:
    user = person(OrganisationFactory.create())
    foreign = LoungeFactory.create(organisation=OrganisationFactory.create())
    client.force_login(user)
    assert client.post(f"/lounges/{foreign.slug}/join/").status_code == 404
    assert not LoungeMembership.objects.filter(user=user).exists()


def test_the_owner_cannot_leave_and_the_list_says_how_to_hand_over(client: Client, lounge: Any) -> None:
    """The lounge list offers the owner no Leave button but says how to hand the lounge over; a
    leave posted anyway is refused, the list shows why, and the owner is still the owner."""
    owner = member_of(lounge, LoungeRole.OWNER)
    client.force_login(owner)

    listed = client.get("/lounges/").content.decode()
    assert f'action="/lounges/{lounge.slug}/leave/"' not in listed
    assert "hand it to another member" in listed

    response = client.post(f"/lounges/{lounge.slug}/leave/", follow=True)

    assert response.redirect_chain == [("/lounges/", 302)]
    page = response.content.decode()
    assert "You own this lounge, so you cannot leave it yet" in page
    assert "Make owner" in page
    assert "You left" not in page
    assert LoungeMembership.objects.get(lounge=lounge, user=owner).role == LoungeRole.OWNER


def test_leaving_asks_for_confirmation_first(client: Client, lounge: Any) -> None:
    """The Leave buttons of the list and the room carry a confirmation (a <dialog> opened by
    frontend/static/js/confirm.js; no inline script), and the list loads that module."""
    user = member_of(lounge)
    client.force_login(user)

    for url in ("/lounges/", f"/lounges/{lounge.slug}/"):
        page = client.get(url).content.decode()
        form_at = page.index(f'action="/lounges/{lounge.slug}/leave/"')
        form = page[page.rindex("<form", 0, form_at) : page.index("</form>", form_at)]
        assert "data-confirm=" in form, url
        assert "Leave Interview practice?" in form, url
        assert "/static/js/confirm.js" in page, url


def test_the_list_shows_each_lounges_access_in_full(client: Client) -> None:
    """Badges say "Open", "Members only" and "Invite only", whole words, with or without a category."""
    organisation = OrganisationFactory.create()
    user = person(organisation)
    LoungeFactory.create(organisation=organisation, title="Open room", category="")
    LoungeFactory.create(
        organisation=organisation, title="Members room", category="Careers", access=LoungeAccess.MEMBERS
    )
    invited = LoungeFactory.create(organisation=organisation, title="Invited room", access=LoungeAccess.INVITE)
    LoungeMembership.objects.create(lounge=invited, user=user)
    client.force_login(user)

    page = client.get("/lounges/").content.decode()

    shown = re.findall(r'<span class="badge"[^>]*>([^<]*)</span>', page)
    assert {"Open", "Members only", "Invite only", "Careers"} <= set(shown)
    assert not any("…" in text or text.endswith(":") for text in shown)
