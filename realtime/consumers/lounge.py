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
from domains.lounges import services
from domains.lounges.coach import live_text
from domains.lounges.models import Lounge, LoungeMembership, Message, MessageStatus, Report
from domains.lounges.rules import can_view
from domains.lounges.selectors import (
    lounge_get_for_user,
    lounge_rights,
    member_rows,
    message_get,
    message_history,
    message_payload,
    message_pins,
    report_queue,
    users_named,
)
from domains.lounges.services import COACH_MENTION, LoungeError, report_payload
from realtime.consumers.base import ClientMessage, CloseCode, NotAllowed, PingMessage, StreamConsumer
from realtime.presence import presence_enter, presence_leave, presence_touch, presence_user_ids
from realtime.publish import apublish_ephemeral
from realtime.ratelimit import Bucket, atake

log = structlog.get_logger(__name__)

Id = Field(ge=1, le=2**62)
OptionalId = Field(default=None, ge=1, le=2**62)


class PostMessage(ClientMessage):
    client_msg_id: str = Field(min_length=1, max_length=64)
    body: str = Field(max_length=20_000)  # the 4 KB cap is in UTF-8 bytes, checked by the service
    reply_to: int | None = OptionalId


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
    action: Literal[
        "hide",
        "unhide",
        "delete",
        "pin",
        "unpin",
        "mute",
        "unmute",
        "kick",
        "ban",
        "unban",
        "lock",
        "unlock",
        "slow_mode",
    ]
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
            lounge, membership = lounge_get_for_user(organisation=self.organisation, user=self.user, slug=slug)
        except Http404 as missing:
            raise NotAllowed from missing
        if not can_view(lounge=lounge, membership=membership):
            raise NotAllowed
        self.is_moderator = membership is not None and membership.is_moderator
        self.is_member = membership is not None
        return lounge

    async def connected(self) -> None:
        if await presence_enter(self.lounge.stream, self.user.pk, ttl=settings.PRESENCE_TTL_SECONDS):
            joined = {"type": "presence.joined", "user": {"id": self.user.pk, "name": self.user.public_name}}
            await apublish_ephemeral(self.lounge.stream, joined)

    async def disconnected(self) -> None:
        if await presence_leave(self.lounge.stream, self.user.pk):
            await apublish_ephemeral(self.lounge.stream, {"type": "presence.left", "user": {"id": self.user.pk}})

    # ------------------------------------------------------------------ state
    def _membership(self) -> LoungeMembership | None:
        return LoungeMembership.objects.filter(lounge=self.lounge, user=self.user).first()

    def snapshot_data(self, stream: str) -> dict[str, Any]:
        if stream != self.primary:
            return {}
        lounge = Lounge.objects.get(pk=self.lounge.pk)
        self.lounge = lounge
        membership = self._membership()
        moderator = membership is not None and membership.is_moderator
        history = message_history(lounge=lounge, for_moderator=moderator)
        return {
            "lounge": {
                "id": lounge.pk,
                "slug": lounge.slug,
                "title": lounge.title,
                "topic": lounge.topic,
                "access": lounge.access,
                "locked": lounge.is_locked,
                "slow_mode_seconds": lounge.slow_mode_seconds,
                "coach_name": lounge.coach_name,
            },
            "messages": [self._payload(message, moderator) for message in history],
            "pins": [message_payload(message) for message in message_pins(lounge=lounge)],
            "presence": users_named(presence_user_ids(self.lounge.stream)),
            "reports": [report_payload(r) for r in report_queue(lounge=lounge)[:50]] if moderator else [],
            "members": member_rows(lounge=lounge) if moderator else [],
        }

    @staticmethod
    def _payload(message: Message, moderator: bool) -> dict[str, Any]:
        """A streaming reply carries its live text so far (from Redis), so a joiner resumes mid-stream."""
        text = live_text(message.pk) if message.status == MessageStatus.STREAMING else None
        return message_payload(message, for_moderator=moderator, live_text=text)

    def rights_data(self) -> dict[str, Any]:
        lounge = Lounge.objects.get(pk=self.lounge.pk)
        membership = self._membership()
        if not can_view(lounge=lounge, membership=membership):
            raise NotAllowed
        self.is_moderator = membership is not None and membership.is_moderator
        self.is_member = membership is not None
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
        elif envelope["event"] in ("member.muted", "member.unmuted", "member.joined", "member.left"):
            await self.send_json({"type": "rights", "rights": await database_sync_to_async(self.rights_data)()})

    async def after_resume(self) -> None:
        """Deltas are not replayed: send each streaming reply's text so far instead."""
        for frame in await database_sync_to_async(self._live_texts)():
            await self.send_json(frame)

    def _live_texts(self) -> list[dict[str, Any]]:
        streaming = Message.objects.filter(lounge=self.lounge, status=MessageStatus.STREAMING).values_list(
            "pk", flat=True
        )
        return [{"type": "coach.text", "id": pk, "offset": 0, "text": live_text(pk) or ""} for pk in streaming]

    # ------------------------------------------------------------------ handlers
    async def _call(self, message: ClientMessage, action: Callable[[Lounge, User], dict[str, Any] | None]) -> None:
        """Run one service call in the database thread, with a fresh lounge."""

        def run() -> dict[str, Any] | None:
            lounge = Lounge.objects.select_related("organisation").get(pk=self.lounge.pk)
            return action(lounge, self.user)

        await self.run_action(message, run)

    async def handle_message_post(self, message: PostMessage) -> None:
        def post(lounge: Lounge, user: User) -> dict[str, Any]:
            posted, created = services.message_post(
                lounge=lounge,
                author=user,
                body=message.body,
                client_msg_id=message.client_msg_id,
                reply_to_id=message.reply_to,
            )
            summoned = None
            if created and COACH_MENTION in message.body.lower():
                reply, _ = services.coach_summon(
                    lounge=lounge, user=user, request_id=f"mention-{message.client_msg_id}"[:64], reply_to_id=posted.pk
                )
                summoned = reply.pk
            membership = LoungeMembership.objects.filter(lounge=lounge, user=user).first()
            last_posted = membership.last_posted_at if membership else None
            return {
                "type": "ack",
                "message_id": posted.pk,
                "client_msg_id": posted.client_msg_id,
                "duplicate": not created,
                "coach_message_id": summoned,
                "last_posted_at": last_posted.isoformat() if last_posted else None,
            }

        await self._call(message, post)

    async def handle_message_edit(self, message: EditMessage) -> None:
        def edit(lounge: Lounge, user: User) -> dict[str, Any]:
            edited = services.message_edit(
                message=message_get(lounge=lounge, message_id=message.message_id), editor=user, body=message.body
            )
            return {"type": "ack", "message_id": edited.pk}

        await self._call(message, edit)

    async def handle_typing(self, message: TypingMessage) -> None:
        if not self.is_member:
            return
        # At most one typing event per person per 2 s: typing is chatty and nobody needs more.
        decision = await atake(f"typing:{self.primary}:{self.user.pk}", Bucket(1, 0.5))
        if decision.allowed:
            await presence_touch(self.lounge.stream, self.user.pk, ttl=settings.PRESENCE_TTL_SECONDS)
            await apublish_ephemeral(
                self.lounge.stream, {"type": "typing", "user": {"id": self.user.pk, "name": self.user.public_name}}
            )

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
            stopped = services.coach_stop(message=message_get(lounge=lounge, message_id=message.message_id), user=user)
            return {"type": "ack", "message_id": stopped.pk}

        await self._call(message, stop)

    async def handle_coach_text(self, message: CoachRefMessage) -> None:
        def text(lounge: Lounge, user: User) -> dict[str, Any]:
            found = message_get(lounge=lounge, message_id=message.message_id)
            if not found.is_visible and not self.is_moderator:
                raise Http404
            live = live_text(found.pk) if found.status == MessageStatus.STREAMING else None
            return {"type": "coach.text", "id": found.pk, "offset": 0, "text": live if live is not None else found.body}

        await self._call(message, text)

    async def handle_moderate(self, message: ModerateMessage) -> None:
        def moderate(lounge: Lounge, user: User) -> dict[str, Any]:
            act = message.action
            if act in ("hide", "unhide", "delete", "pin", "unpin"):
                if message.message_id is None:
                    raise LoungeError("invalid", "message_id is required.", field="message_id")
                target = message_get(lounge=lounge, message_id=message.message_id)
                if act == "hide":
                    services.message_hide(message=target, moderator=user, reason=message.reason)
                elif act == "unhide":
                    services.message_unhide(message=target, moderator=user)
                elif act == "delete":
                    services.message_delete(message=target, moderator=user, reason=message.reason)
                elif act == "pin":
                    services.message_pin(message=target, moderator=user)
                else:
                    services.message_unpin(message=target, moderator=user)
            elif act in ("mute", "unmute", "kick", "ban", "unban"):
                if message.user_id is None:
                    raise LoungeError("invalid", "user_id is required.", field="user_id")
                member = User.objects.filter(pk=message.user_id, memberships__organisation=lounge.organisation).first()
                if member is None:
                    raise LoungeError("not_found", "No such person here.", field="user_id")
                if act == "mute":
                    if message.minutes is None:
                        raise LoungeError("invalid", "minutes is required.", field="minutes")
                    services.member_mute(
                        lounge=lounge, moderator=user, member=member, minutes=message.minutes, reason=message.reason
                    )
                elif act == "unmute":
                    services.member_unmute(lounge=lounge, moderator=user, member=member)
                elif act == "kick":
                    services.member_kick(lounge=lounge, moderator=user, member=member, reason=message.reason)
                elif act == "ban":
                    services.member_ban(lounge=lounge, moderator=user, member=member, reason=message.reason)
                else:
                    services.member_unban(lounge=lounge, moderator=user, member=member)
            elif act in ("lock", "unlock"):
                services.lounge_settings_set(lounge=lounge, moderator=user, locked=act == "lock")
            else:
                if message.seconds is None:
                    raise LoungeError("invalid", "seconds is required.", field="seconds")
                services.lounge_settings_set(lounge=lounge, moderator=user, slow_mode_seconds=message.seconds)
            return {"type": "ack", "action": act}

        await self._call(message, moderate)

    async def handle_report(self, message: ReportMessage) -> None:
        def report(lounge: Lounge, user: User) -> dict[str, Any]:
            target = message_get(lounge=lounge, message_id=message.message_id)
            created = services.report_create(message=target, reporter=user, reason=message.reason)
            return {"type": "ack", "report_id": created.pk}

        await self._call(message, report)

    async def handle_report_resolve(self, message: ResolveReportMessage) -> None:
        def resolve(lounge: Lounge, user: User) -> dict[str, Any]:
            report = Report.objects.get(pk=message.report_id, lounge=lounge)
            resolved = services.report_resolve(report=report, moderator=user, action=message.action, note=message.note)
            return {"type": "ack", "report_id": resolved.pk, "status": resolved.status}

        await self._call(message, resolve)
