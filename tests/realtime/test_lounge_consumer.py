"""The lounge room over WebsocketCommunicator: posting, limits, moderation and the coach."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from domains.accounts.models import Membership, Role
from domains.ai.models import AIFeatureConfig
from domains.compliance.models import AuditEvent
from domains.lounges.models import LoungeAccess, LoungeMembership, LoungeRole, Message, MessageStatus
from tests.factories import OrganisationFactory, UserFactory
from tests.factories.lounges import LoungeFactory
from tests.helpers import communicator, receive_event, receive_until, session_for

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _member(lounge: Any, role: str = LoungeRole.MEMBER, *, org_role: str = Role.LEARNER) -> tuple[Any, Any]:
    user = UserFactory.create()
    Membership.objects.create(user=user, organisation=lounge.organisation, role=org_role)
    LoungeMembership.objects.create(lounge=lounge, user=user, role=role)
    return user, session_for(user)


async def _join(lounge: Any, session: Any) -> tuple[Any, dict]:
    comm = communicator(f"/ws/lounges/{lounge.slug}/", session=session)
    connected, _ = await comm.connect()
    assert connected
    snapshot = await comm.receive_json_from()
    assert snapshot["type"] == "snapshot"
    return comm, snapshot


async def _reply_to(comm: Any, ref: str) -> dict:
    """The frame answering the message sent with `ref` (an `ack` or an `error`)."""
    while True:
        frame = await comm.receive_json_from(timeout=10)
        if frame.get("ref") == ref and frame["type"] in ("ack", "error"):
            return frame


@pytest.fixture
async def lounge() -> Any:
    return await database_sync_to_async(LoungeFactory.create)()


async def test_snapshot_has_history_rights_and_presence(lounge: Any) -> None:
    _user, session = await _member(lounge)
    comm, snapshot = await _join(lounge, session)
    assert snapshot["v"] == 1
    assert snapshot["stream"] == f"lounge.{lounge.pk}"
    assert snapshot["data"]["lounge"]["slug"] == lounge.slug
    assert snapshot["data"]["messages"] == []
    assert snapshot["rights"]["member"] is True
    assert snapshot["rights"]["can_post"] is True
    await comm.disconnect()


async def test_another_organisations_lounge_answers_4404(lounge: Any) -> None:
    outsider_org = await database_sync_to_async(OrganisationFactory.create)()
    user = await database_sync_to_async(UserFactory.create)()
    await database_sync_to_async(Membership.objects.create)(user=user, organisation=outsider_org, role=Role.LEARNER)
    session = await database_sync_to_async(session_for)(user)
    for path in (f"/ws/lounges/{lounge.slug}/", "/ws/lounges/no-such-lounge/"):
        comm = communicator(path, session=session)
        assert (await comm.connect())[0]
        assert (await comm.receive_output())["code"] == 4404


async def test_post_is_idempotent_by_client_msg_id_and_reaches_the_room(lounge: Any) -> None:
    _, session = await _member(lounge)
    _, other_session = await _member(lounge)
    me, _ = await _join(lounge, session)
    other, _ = await _join(lounge, other_session)
    for _ in range(2):
        await me.send_json_to({"type": "message.post", "client_msg_id": "c-1", "body": "Hello **room**", "ref": "p"})
    first_ack = await receive_until(me, "ack")
    assert first_ack["duplicate"] is False
    event = await receive_event(other, "message.created")
    assert event["data"]["message"]["html"] == "<p>Hello <strong>room</strong></p>\n"
    second_ack = await receive_until(me, "ack")
    assert second_ack["duplicate"] is True
    assert second_ack["message_id"] == first_ack["message_id"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    await me.disconnect()
    await other.disconnect()


async def test_body_cap_counts_utf8_bytes(lounge: Any) -> None:
    _, session = await _member(lounge)
    comm, _ = await _join(lounge, session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "big", "body": "€" * 1366})  # 4098 bytes
    error = await receive_until(comm, "error")
    assert error["code"] == "too_long"
    assert "body" in error["fields"]
    await comm.send_json_to({"type": "message.post", "client_msg_id": "ok", "body": "€" * 1365})  # 4095 bytes
    assert (await receive_until(comm, "ack"))["duplicate"] is False
    await comm.disconnect()


async def test_a_member_muted_while_connected_cannot_post_the_next_message(lounge: Any) -> None:
    member, session = await _member(lounge)
    moderator, mod_session = await _member(lounge, LoungeRole.MODERATOR, org_role=Role.MENTOR)
    comm, _ = await _join(lounge, session)
    mod, _ = await _join(lounge, mod_session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "a", "body": "before"})
    await receive_until(comm, "ack")
    await mod.send_json_to(
        {"type": "moderate", "action": "mute", "user_id": member.pk, "minutes": 10, "reason": "cool off"}
    )
    assert (await receive_until(mod, "ack"))["action"] == "mute"
    muted = await receive_until(comm, "rights")
    assert muted["rights"]["can_post"] is False
    assert muted["rights"]["muted_until"]
    await comm.send_json_to({"type": "message.post", "client_msg_id": "b", "body": "after"})
    error = await receive_until(comm, "error")
    assert error["code"] == "muted"
    assert 590 < error["retry_after"] <= 600
    assert not await database_sync_to_async(Message.objects.filter(client_msg_id="b").exists)()
    audit = await database_sync_to_async(AuditEvent.objects.get)(action="lounge.member_muted")
    assert (audit.actor_id, audit.target_id) == (moderator.pk, str(member.pk))
    await comm.disconnect()
    await mod.disconnect()


async def test_slow_mode_and_lock_are_enforced_with_clear_errors(lounge: Any) -> None:
    _, session = await _member(lounge)
    _, mod_session = await _member(lounge, LoungeRole.OWNER, org_role=Role.MENTOR)
    comm, _ = await _join(lounge, session)
    mod, _ = await _join(lounge, mod_session)
    await mod.send_json_to({"type": "moderate", "action": "slow_mode", "seconds": 30})
    await receive_until(mod, "ack")
    await comm.send_json_to({"type": "message.post", "client_msg_id": "1", "body": "one"})
    await receive_until(comm, "ack")
    await comm.send_json_to({"type": "message.post", "client_msg_id": "2", "body": "two"})
    error = await receive_until(comm, "error")
    assert error["code"] == "slow_mode"
    assert 0 < error["retry_after"] <= 30
    await mod.send_json_to({"type": "moderate", "action": "lock"})
    await receive_until(mod, "ack")
    await comm.send_json_to({"type": "message.post", "client_msg_id": "3", "body": "three"})
    assert (await receive_until(comm, "error"))["code"] == "locked"
    await mod.send_json_to({"type": "message.post", "client_msg_id": "m", "body": "moderators may"})
    assert (await receive_until(mod, "ack"))["duplicate"] is False
    await comm.disconnect()
    await mod.disconnect()


async def test_members_cannot_moderate_and_a_kick_closes_the_kicked_socket(lounge: Any) -> None:
    member, session = await _member(lounge)
    other, _other_session = await _member(lounge)
    _, mod_session = await _member(lounge, LoungeRole.MODERATOR, org_role=Role.MENTOR)
    comm, _ = await _join(lounge, session)
    mod, _ = await _join(lounge, mod_session)
    await comm.send_json_to({"type": "moderate", "action": "kick", "user_id": other.pk})
    assert (await receive_until(comm, "error"))["code"] == "not_allowed"
    await mod.send_json_to({"type": "moderate", "action": "kick", "user_id": member.pk, "reason": "spam"})
    closing = await receive_until(comm, "force_close")
    assert closing["code"] == 4404
    assert not await database_sync_to_async(LoungeMembership.objects.filter(user=member).exists)()
    await mod.disconnect()


async def test_reports_reach_moderators_and_others_get_a_redacted_seq(lounge: Any) -> None:
    _author, session = await _member(lounge)
    _, reporter_session = await _member(lounge)
    _, mod_session = await _member(lounge, LoungeRole.MODERATOR, org_role=Role.MENTOR)
    comm, _ = await _join(lounge, session)
    reporter, _ = await _join(lounge, reporter_session)
    mod, _ = await _join(lounge, mod_session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "x", "body": "something rude"})
    message_id = (await receive_until(comm, "ack"))["message_id"]
    await reporter.send_json_to({"type": "report", "message_id": message_id, "reason": "rude"})
    await receive_until(reporter, "ack")
    for_mod = await receive_event(mod, "report.created")
    assert for_mod["data"]["report"]["reported_body"] == "something rude"
    for_author = await receive_until(comm, "event")
    while for_author.get("seq", 0) < for_mod["seq"]:
        for_author = await receive_until(comm, "event")
    assert for_author["event"] == "redacted"
    assert for_author["data"] == {}
    await mod.send_json_to({"type": "report.resolve", "report_id": for_mod["data"]["report"]["id"], "action": "hide"})
    assert (await receive_until(mod, "ack"))["status"] == "actioned"
    hidden = await receive_event(comm, "message.hidden")
    assert hidden["data"]["id"] == message_id
    for c in (comm, reporter, mod):
        await c.disconnect()


async def test_summoning_the_offline_coach_streams_deltas_then_completes(lounge: Any) -> None:
    _user, session = await _member(lounge)
    comm, _ = await _join(lounge, session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "q", "body": "@coach how do I prepare?"})
    ack = await receive_until(comm, "ack")
    coach_id = ack["coach_message_id"]
    assert coach_id
    text = ""
    completed = None
    while completed is None:
        frame = await comm.receive_json_from(timeout=10)
        if frame["type"] == "event" and frame["event"] == "coach.delta":
            assert frame["data"]["offset"] == len(text)
            text += frame["data"]["text"]
        elif frame["type"] == "event" and frame["event"] == "message.completed":
            completed = frame["data"]["message"]
    assert completed["id"] == coach_id
    assert completed["status"] == "complete"
    assert completed["provider_label"] == "offline coach"
    assert completed["body"] == text
    assert completed["html"].startswith("<")
    stored = await database_sync_to_async(Message.objects.get)(pk=coach_id)
    assert (stored.status, stored.body) == (MessageStatus.COMPLETE, text)
    await comm.send_json_to({"type": "coach.summon", "request_id": "mention-q"})
    # the same request id as the mention: no second job
    await comm.disconnect()


@pytest.mark.parametrize(
    "asking",
    [{"body": "@coach help?"}, {"body": "help with this?", "summon_coach": True}],
    ids=["mention", "ask-the-coach-button"],
)
async def test_a_coach_mention_in_slow_mode_is_acked_with_the_reply_it_started(asking: dict[str, Any]) -> None:
    """In a slow-mode lounge, a post that mentions @coach (or carries `summon_coach`, as the "Ask
    the coach" button sends it) gets an ack carrying the coach reply it started, not a `slow_mode`
    error for a post that landed; the next post is still held back."""
    # given a member of a lounge in slow mode
    lounge = await database_sync_to_async(LoungeFactory.create)(slow_mode_seconds=30)
    _, session = await _member(lounge)
    comm, _ = await _join(lounge, session)
    # when they post a message that asks the coach
    await comm.send_json_to({"type": "message.post", "client_msg_id": "q", "ref": "p", **asking})
    # then the answer is an ack for the post and for the reply
    ack = await _reply_to(comm, "p")
    assert ack["type"] == "ack", ack
    assert ack["duplicate"] is False
    assert ack["coach_message_id"]
    assert ack["coach"] == {"message_id": ack["coach_message_id"], "duplicate": False}
    reply = await database_sync_to_async(Message.objects.get)(pk=ack["coach_message_id"])
    assert (reply.author_kind, reply.reply_to_id) == ("coach", ack["message_id"])
    # and slow mode still holds the next post back
    await comm.send_json_to({"type": "message.post", "client_msg_id": "q2", "body": "more", "ref": "p2"})
    error = await _reply_to(comm, "p2")
    assert (error["type"], error["code"]) == ("error", "slow_mode")
    await comm.disconnect()


async def test_a_refused_coach_mention_acks_the_post_with_the_refusal(lounge: Any) -> None:
    """When the AI quota refuses a mention's summons, the post is acked (it landed) and the ack's
    `coach` carries the refusal: code, message and retry_after."""
    # given a member whose one coach request this hour is spent
    user, session = await _member(lounge)
    await database_sync_to_async(AIFeatureConfig.objects.create)(
        organisation=lounge.organisation, feature="lounge", requests_per_hour_per_user=1
    )
    comm, _ = await _join(lounge, session)
    await comm.send_json_to({"type": "coach.summon", "request_id": "r", "ref": "s"})
    assert (await _reply_to(comm, "s"))["type"] == "ack"
    # when they mention the coach in a post
    await comm.send_json_to({"type": "message.post", "client_msg_id": "m", "body": "@coach again", "ref": "p"})
    # then the post is acked with the refusal, and it is stored
    ack = await _reply_to(comm, "p")
    assert ack["type"] == "ack", ack
    assert ack["coach_message_id"] is None
    assert ack["coach"]["refused"] == "quota"
    assert ack["coach"]["message"]
    assert 0 < ack["coach"]["retry_after"] <= 3600
    assert await database_sync_to_async(Message.objects.filter(pk=ack["message_id"], author=user).exists)()
    await comm.disconnect()


async def test_two_summons_with_one_request_id_start_one_generation(lounge: Any) -> None:
    _, session = await _member(lounge)
    comm, _ = await _join(lounge, session)
    for _ in range(2):
        await comm.send_json_to({"type": "coach.summon", "request_id": "r-1"})
    acks = [await receive_until(comm, "ack", timeout=10) for _ in range(2)]
    assert [a["duplicate"] for a in acks] == [False, True]
    assert acks[0]["message_id"] == acks[1]["message_id"]
    assert await database_sync_to_async(Message.objects.filter(author_kind="coach").count)() == 1
    await comm.disconnect()


async def test_invite_lounges_are_invisible_to_non_members(lounge: Any) -> None:
    hidden = await database_sync_to_async(LoungeFactory.create)(
        organisation=lounge.organisation, access=LoungeAccess.INVITE
    )
    user = await database_sync_to_async(UserFactory.create)()
    await database_sync_to_async(Membership.objects.create)(user=user, organisation=lounge.organisation, role="learner")
    session = await database_sync_to_async(session_for)(user)
    comm = communicator(f"/ws/lounges/{hidden.slug}/", session=session)
    await comm.connect()
    assert (await comm.receive_output())["code"] == 4404


@override_settings(REALTIME_RATE_CAPACITY=2, REALTIME_RATE_REFILL_PER_SECOND=0.001, REALTIME_RATE_STRIKES=3)
async def test_flooding_the_room_gets_an_error_frame_not_a_silent_drop(lounge: Any) -> None:
    _, session = await _member(lounge)
    comm, _ = await _join(lounge, session)
    for n in range(3):
        await comm.send_json_to({"type": "message.post", "client_msg_id": f"f{n}", "body": "spam"})
    assert (await receive_until(comm, "error"))["code"] == "rate_limited"
    assert await database_sync_to_async(Message.objects.count)() == 2


async def test_the_author_of_a_hidden_message_is_told_why_live_and_after_a_reload(lounge: Any) -> None:
    """A moderator hides a member's message: the author's socket gets `message.hidden` with the
    reason, and a fresh snapshot still lists the author's message, hidden, with the reason and no
    text. Another member's snapshot leaves it out."""
    author, session = await _member(lounge)
    _, other_session = await _member(lounge)
    _, mod_session = await _member(lounge, LoungeRole.MODERATOR, org_role=Role.MENTOR)
    comm, _ = await _join(lounge, session)
    mod, _ = await _join(lounge, mod_session)
    await comm.send_json_to({"type": "message.post", "client_msg_id": "h", "body": "Something unkind", "ref": "p"})
    posted = await _reply_to(comm, "p")
    await mod.send_json_to(
        {"type": "moderate", "action": "hide", "message_id": posted["message_id"], "reason": "Be kind", "ref": "m"}
    )
    assert (await _reply_to(mod, "m"))["action"] == "hide"

    hidden = await receive_event(comm, "message.hidden")
    assert hidden["data"] == {"id": posted["message_id"], "by": hidden["data"]["by"], "reason": "Be kind"}
    await comm.disconnect()
    again, snapshot = await _join(lounge, session)
    (mine,) = snapshot["data"]["messages"]
    assert (mine["id"], mine["author"]["id"]) == (posted["message_id"], author.pk)
    assert (mine["hidden"], mine["hidden_reason"], mine["body"], mine["html"]) == (True, "Be kind", "", "")
    other, other_snapshot = await _join(lounge, other_session)
    assert other_snapshot["data"]["messages"] == []
    for socket in (again, other, mod):
        await socket.disconnect()


async def test_an_ownership_transfer_changes_both_peoples_rights_live(lounge: Any) -> None:
    """The owner makes a member the owner (`moderate` `transfer_ownership`): the new owner's socket
    gets `member.role_changed` and then `rights` with role owner; the old owner's, role moderator."""
    _owner, owner_session = await _member(lounge, LoungeRole.OWNER, org_role=Role.MENTOR)
    member, member_session = await _member(lounge)
    old, _ = await _join(lounge, owner_session)
    new, _ = await _join(lounge, member_session)

    await old.send_json_to({"type": "moderate", "action": "transfer_ownership", "user_id": member.pk, "ref": "t"})

    assert (await _reply_to(old, "t"))["action"] == "transfer_ownership"
    changed = await receive_event(new, "member.role_changed")
    assert (changed["data"]["user"]["id"], changed["data"]["role"]) == (member.pk, "owner")
    rights = await receive_until(new, "rights")
    assert (rights["rights"]["role"], rights["rights"]["moderator"]) == ("owner", True)
    assert (await receive_until(old, "rights"))["rights"]["role"] == "moderator"
    await new.send_json_to({"type": "moderate", "action": "lock", "ref": "l"})
    assert (await _reply_to(new, "l"))["action"] == "lock"
    await old.disconnect()
    await new.disconnect()
