"""`/ws/lounges/<slug>/`: a lounge room. Validates each message and calls one lounge service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.http import Http404
from pydantic import Field

from domains.accounts.models import User
from domains.coach.lounge_reply import live_text
from domains.lounges import services
from domains.lounges.events import PresenceJoined, PresenceLeft, Typing, UserRef
from domains.lounges.models import Lounge, LoungeMembership
from domains.lounges.rules import can_view
from domains.lounges.selectors import (
    author_payload,
    lounge_get,
    lounge_get_viewable,
    lounge_rights,
    lounge_state_get,
    message_get,
    message_text_get,
    report_get,
    room_snapshot,
    streaming_reply_ids,
)
from domains.lounges.services import CoachStart, MessagePosted
from realtime.consumers.base import ClientMessage, CloseCode, NotAllowed, PingMessage, StreamConsumer
from realtime.presence import presence_enter, presence_leave, presence_touch, presence_user_ids
from realtime.pressure import UnderLoad
from realtime.publish import apublish_ephemeral
from realtime.ratelimit import Bucket, atake

log = structlog.get_logger(__name__)

Id = Field(ge=1, le=2**62)
OptionalId = Field(default=None, ge=1, le=2**62)


class PostMessage(ClientMessage):
    client_msg_id: str = Field(min_length=1, max_length=64)
    body: str = Field(max_length=20_000)  # the 4 KB cap is in UTF-8 bytes, checked by the service
    reply_to: int | None = OptionalId
    summon_coach: bool = False  # "Ask the coach" with text: as if the body mentioned @coach


class EditMessage(ClientMessage):
    message_id: int = Id
    body: str = Field(max_length=20_000)


class TypingMessage(ClientMessage):
    pass


class SummonMessage(ClientMessage):
    request_id: str = Field(min_length=1, max_length=64)
    reply_to: int | None = OptionalId


class CoachRefMessage(ClientMessage):
    message_id: int = Id


class ModerateMessage(ClientMessage):
    action: services.ModerationAction  # the actions `moderation_apply` dispatches, and no other
    message_id: int | None = OptionalId
    user_id: int | None = OptionalId
    minutes: int | None = Field(default=None, ge=1, le=services.MAX_MUTE_MINUTES)
    seconds: int | None = Field(default=None, ge=0, le=3600)
    reason: str = Field(default="", max_length=500)


class ReportMessage(ClientMessage):
    message_id: int = Id
    reason: str = Field(min_length=1, max_length=500)


class ResolveReportMessage(ClientMessage):
    report_id: int = Id
    action: Literal["dismiss", "hide", "delete"]
    note: str = Field(default="", max_length=500)


class LoungeConsumer(StreamConsumer):
    messages = {
        "message.post": PostMessage,
        "message.edit": EditMessage,
        "typing": TypingMessage,
        "coach.summon": SummonMessage,
        "coach.stop": CoachRefMessage,
        "coach.text": CoachRefMessage,
        "moderate": ModerateMessage,
        "report": ReportMessage,
        "report.resolve": ResolveReportMessage,
    }

    lounge: Lounge
    is_moderator: bool = False
    is_member: bool = False

    # ------------------------------------------------------------------ lifecycle
    async def authorise(self) -> str:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.lounge = await database_sync_to_async(self._load)(slug)
        return self.lounge.stream

    def _load(self, slug: str) -> Lounge:
        try:
            lounge, membership = lounge_get_viewable(organisation=self.organisation, user=self.user, slug=slug)
        except Http404 as missing:
            raise NotAllowed from missing
        self._remember(membership)
        return lounge

    def _remember(self, membership: LoungeMembership | None) -> None:
        """Cache the person's standing for event filtering; every action re-checks it in its service."""
        self.is_moderator = membership is not None and membership.is_moderator
        self.is_member = membership is not None

    async def connected(self) -> None:
        if await presence_enter(self.lounge.stream, self.user.pk, ttl=settings.PRESENCE_TTL_SECONDS):
            joined = PresenceJoined(type="presence.joined", user=author_payload(self.user))
            await apublish_ephemeral(self.lounge.stream, joined, under_load=UnderLoad.DROP)

    async def disconnected(self) -> None:
        if await presence_leave(self.lounge.stream, self.user.pk):
            left = PresenceLeft(type="presence.left", user=UserRef(id=self.user.pk))
            await apublish_ephemeral(self.lounge.stream, left, under_load=UnderLoad.DROP)

    # ------------------------------------------------------------------ state
    def snapshot_data(self, stream: str) -> dict[str, Any]:
        if stream != self.primary:
            return {}
        self.lounge, membership = lounge_state_get(lounge_id=self.lounge.pk, user=self.user)
        return room_snapshot(
            lounge=self.lounge,
            membership=membership,
            present_user_ids=presence_user_ids(self.lounge.stream),
            live_text=live_text,
        )

    def rights_data(self) -> dict[str, Any]:
        lounge, membership = lounge_state_get(lounge_id=self.lounge.pk, user=self.user)
        if not can_view(lounge=lounge, membership=membership):
            raise NotAllowed
        self._remember(membership)
        return lounge_rights(lounge=lounge, membership=membership)

    def visible(self, envelope: dict[str, Any]) -> bool:
        return envelope.get("audience") != "moderators" or self.is_moderator

    async def after_event(self, envelope: dict[str, Any]) -> None:
        if envelope.get("stream") != self.primary or envelope.get("about") != self.user.pk:
            return
        if envelope["event"] in ("member.kicked", "member.banned"):
            reason = "kicked" if envelope["event"] == "member.kicked" else "banned"
            await self.send_json({"type": "force_close", "reason": reason, "code": CloseCode.NOT_FOUND})
            await self.close(code=CloseCode.NOT_FOUND)
        elif envelope["event"] in (
            "member.muted",
            "member.unmuted",
            "member.joined",
            "member.left",
            "member.role_changed",
        ):
            await self.send_json({"type": "rights", "rights": await database_sync_to_async(self.rights_data)()})

    async def after_resume(self) -> None:
        """Deltas are not replayed: send each streaming reply's text so far instead."""
        for frame in await database_sync_to_async(self._live_texts)():
            await self.send_json(frame)

    def _live_texts(self) -> list[dict[str, Any]]:
        return [
            {"type": "coach.text", "id": pk, "offset": 0, "text": live_text(pk) or ""}
            for pk in streaming_reply_ids(lounge=self.lounge)
        ]

    # ------------------------------------------------------------------ handlers
    async def _call(self, message: ClientMessage, action: Callable[[Lounge, User], dict[str, Any] | None]) -> None:
        """Run one service call in the database thread, with a fresh lounge."""
        await self.run_action(message, lambda: action(lounge_get(lounge_id=self.lounge.pk), self.user))

    async def handle_message_post(self, message: PostMessage) -> None:
        def post(lounge: Lounge, user: User) -> dict[str, Any]:
            posted = services.message_post(
                lounge=lounge,
                author=user,
                body=message.body,
                client_msg_id=message.client_msg_id,
                reply_to_id=message.reply_to,
                summon_coach=message.summon_coach,
            )
            return _post_ack(posted)

        await self._call(message, post)

    async def handle_message_edit(self, message: EditMessage) -> None:
        def edit(lounge: Lounge, user: User) -> dict[str, Any]:
            target = message_get(lounge=lounge, message_id=message.message_id)
            return {
                "type": "ack",
                "message_id": services.message_edit(message=target, editor=user, body=message.body).pk,
            }

        await self._call(message, edit)

    async def handle_typing(self, message: TypingMessage) -> None:
        if not self.is_member:
            return
        # At most one typing event per person per 2 s: typing is chatty and nobody needs more.
        decision = await atake(f"typing:{self.primary}:{self.user.pk}", Bucket(1, 0.5))
        if decision.allowed:
            await presence_touch(self.lounge.stream, self.user.pk, ttl=settings.PRESENCE_TTL_SECONDS)
            typing = Typing(type="typing", user=author_payload(self.user))
            await apublish_ephemeral(self.lounge.stream, typing, under_load=UnderLoad.DROP)

    async def handle_ping(self, message: PingMessage) -> None:
        await presence_touch(self.lounge.stream, self.user.pk, ttl=settings.PRESENCE_TTL_SECONDS)
        await super().handle_ping(message)

    async def handle_coach_summon(self, message: SummonMessage) -> None:
        def summon(lounge: Lounge, user: User) -> dict[str, Any]:
            reply, created = services.coach_summon(
                lounge=lounge, user=user, request_id=message.request_id, reply_to_id=message.reply_to
            )
            return {"type": "ack", "message_id": reply.pk, "request_id": message.request_id, "duplicate": not created}

        await self._call(message, summon)

    async def handle_coach_stop(self, message: CoachRefMessage) -> None:
        def stop(lounge: Lounge, user: User) -> dict[str, Any]:
            target = message_get(lounge=lounge, message_id=message.message_id)
            return {"type": "ack", "message_id": services.coach_stop(message=target, user=user).pk}

        await self._call(message, stop)

    async def handle_coach_text(self, message: CoachRefMessage) -> None:
        def text(lounge: Lounge, user: User) -> dict[str, Any]:
            pk, so_far = message_text_get(
                lounge=lounge, message_id=message.message_id, for_moderator=self.is_moderator, live_text=live_text
            )
            return {"type": "coach.text", "id": pk, "offset": 0, "text": so_far}

        await self._call(message, text)

    async def handle_moderate(self, message: ModerateMessage) -> None:
        def moderate(lounge: Lounge, user: User) -> dict[str, Any]:
            action = services.moderation_apply(
                lounge=lounge,
                moderator=user,
                action=message.action,
                message_id=message.message_id,
                user_id=message.user_id,
                minutes=message.minutes,
                seconds=message.seconds,
                reason=message.reason,
            )
            return {"type": "ack", "action": action}

        await self._call(message, moderate)

    async def handle_report(self, message: ReportMessage) -> None:
        def report(lounge: Lounge, user: User) -> dict[str, Any]:
            target = message_get(lounge=lounge, message_id=message.message_id)
            return {
                "type": "ack",
                "report_id": services.report_create(message=target, reporter=user, reason=message.reason).pk,
            }

        await self._call(message, report)

    async def handle_report_resolve(self, message: ResolveReportMessage) -> None:
        def resolve(lounge: Lounge, user: User) -> dict[str, Any]:
            target = report_get(lounge=lounge, report_id=message.report_id)
            resolved = services.report_resolve(report=target, moderator=user, action=message.action, note=message.note)
            return {"type": "ack", "report_id": resolved.pk, "status": resolved.status}

        await self._call(message, resolve)


def _post_ack(posted: MessagePosted) -> dict[str, Any]:
    """`message.post`'s ack. `coach` says what an `@coach` mention did; a refused summons (the AI
    quota) still acks the post, which stands (docs/realtime-protocol.md, "Client → server")."""
    return {
        "type": "ack",
        "message_id": posted.message.pk,
        "client_msg_id": posted.message.client_msg_id,
        "duplicate": not posted.created,
        "coach_message_id": posted.coach.reply.pk if posted.coach and posted.coach.reply else None,
        "coach": _coach_outcome(posted.coach),
        "last_posted_at": posted.last_posted_at.isoformat() if posted.last_posted_at else None,
    }


def _coach_outcome(start: CoachStart | None) -> dict[str, Any] | None:
    if start is None:
        return None
    if start.refusal is not None:
        refused: dict[str, Any] = {"refused": start.refusal.code, "message": start.refusal.message}
        if start.refusal.retry_after is not None:
            refused["retry_after"] = round(start.refusal.retry_after, 1)
        return refused
    return {"message_id": start.reply.pk if start.reply else None, "duplicate": not start.created}
