"""What lounges tell people goes through notify(): mentions, being muted, removed or banned, and a
report reviewed (domains/lounges/notices.py)."""

from __future__ import annotations

from typing import Any

import pytest

from domains.accounts.models import Membership, Role
from domains.lounges import services
from domains.lounges.models import LoungeMembership, LoungeRole
from domains.notifications.models import Notification
from tests.factories import UserFactory
from tests.factories.lounges import LoungeFactory

pytestmark = pytest.mark.django_db


def _member(lounge: Any, name: str, email: str = "", role: str = LoungeRole.MEMBER) -> Any:
    user = UserFactory.create(display_name=name, **({"email": email} if email else {}))
    Membership.objects.create(user=user, organisation=lounge.organisation, role=Role.LEARNER)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=role)
    return user


def _notices(user: Any) -> list[tuple[str, str, str]]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("kind", "title", "link"))


def _post(lounge: Any, author: Any, body: str, key: str = "m1") -> Any:
    return services.message_post(lounge=lounge, author=author, body=body, client_msg_id=key).message


def test_a_mention_by_name_notifies_that_member_with_a_link_to_the_message() -> None:
    lounge = LoungeFactory.create(title="Harbour")
    author = _member(lounge, "Grace Hopper")
    ada = _member(lounge, "Ada Lovelace")
    alan = _member(lounge, "Alan Turing")
    message = _post(lounge, author, "Thanks @Ada Lovelace, and @coach what next?")
    link = f"/lounges/{lounge.slug}/#msg-{message.pk}"
    assert _notices(ada) == [("lounge.mention", "Grace Hopper mentioned you in Harbour", link)]
    assert _notices(alan) == []
    assert _notices(author) == []


def test_a_mention_matches_an_email_name_whole_and_never_a_banned_member_or_an_outsider() -> None:
    lounge = LoungeFactory.create()
    author = _member(lounge, "Grace")
    bob = _member(lounge, "", email="bob@example.test")  # public name "bob"
    bobby = _member(lounge, "Bobby")
    banned = _member(lounge, "Mallory")
    LoungeMembership.objects.filter(user=banned).update(is_banned=True)
    outsider = UserFactory.create(display_name="Eve")
    _post(lounge, author, "ping @bob and @Mallory and @Eve; not @bobbyx", key="m2")
    assert [kind for kind, _, _ in _notices(bob)] == ["lounge.mention"]
    assert _notices(bobby) == []
    assert _notices(banned) == []
    assert _notices(outsider) == []


def test_a_repeat_post_or_an_edit_does_not_notify_again() -> None:
    lounge = LoungeFactory.create()
    author = _member(lounge, "Grace")
    ada = _member(lounge, "Ada")
    message = _post(lounge, author, "hi @Ada", key="same")
    _post(lounge, author, "hi @Ada", key="same")  # the client retried: the same post
    services.message_edit(message=message, editor=author, body="hi @Ada, welcome")
    assert len(_notices(ada)) == 1


def test_the_longest_name_wins_at_each_at_and_sentence_punctuation_is_not_part_of_a_name() -> None:
    lounge = LoungeFactory.create()
    author = _member(lounge, "Grace")
    ada_lovelace = _member(lounge, "Ada Lovelace")
    ada = _member(lounge, "Ada")
    jean_luc = _member(lounge, "Jean-Luc")
    _post(lounge, author, "Thanks @Ada Lovelace. And thank you, @jean-luc.", key="p1")
    assert [kind for kind, _, _ in _notices(ada_lovelace)] == ["lounge.mention"]
    assert _notices(ada) == []
    assert [kind for kind, _, _ in _notices(jean_luc)] == ["lounge.mention"]
    _post(lounge, author, "See you, @ada.", key="p2")
    assert [kind for kind, _, _ in _notices(ada)] == ["lounge.mention"]


def test_muted_removed_and_banned_members_are_told_why() -> None:
    lounge = LoungeFactory.create(title="Harbour")
    owner = _member(lounge, "Owner", role=LoungeRole.OWNER)
    muted, kicked, banned = _member(lounge, "Muted"), _member(lounge, "Kicked"), _member(lounge, "Banned")
    services.member_mute(lounge=lounge, moderator=owner, member=muted, minutes=5, reason="Calm down")
    services.member_kick(lounge=lounge, moderator=owner, member=kicked, reason="Off topic")
    services.member_ban(lounge=lounge, moderator=owner, member=banned)
    assert _notices(muted) == [("lounge.muted", "You are muted in Harbour", f"/lounges/{lounge.slug}/")]
    assert Notification.objects.get(user=muted).body == "For 5 minutes. Reason: Calm down"
    assert _notices(kicked) == [("lounge.removed", "You were removed from Harbour", "/lounges/")]
    assert _notices(banned) == [("lounge.removed", "You were banned from Harbour", "")]


def test_a_reporter_learns_their_report_was_reviewed() -> None:
    lounge = LoungeFactory.create(title="Harbour")
    owner = _member(lounge, "Owner", role=LoungeRole.OWNER)
    author, reporter = _member(lounge, "Author"), _member(lounge, "Reporter")
    message = _post(lounge, author, "something rude", key="r1")
    report = services.report_create(message=message, reporter=reporter, reason="Rude")
    services.report_resolve(report=report, moderator=owner, action="hide")
    ((kind, title, _),) = _notices(reporter)
    assert (kind, title) == ("lounge.report_resolved", "Your report in Harbour was reviewed")
    assert Notification.objects.get(user=reporter).body == "The moderators acted on the message."
