"""`/ws/coach/<thread_id>/`: a learner's private thread with the coach. Only its owner connects."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.http import Http404
from pydantic import Field

from domains.ai.replies import reply_live_text
from domains.coach import services
from domains.coach.models import CoachThread, ThreadMessage, ThreadMessageStatus
from domains.coach.selectors import (
    thread_get_for_user,
    thread_message_payloads,
    thread_messages,
    thread_replies_streaming,
    thread_reply_get,
)
from realtime.consumers.base import ClientMessage, NotAllowed, StreamConsumer

Id = Field(ge=1, le=2**62)


class PostMessage(ClientMessage):
    client_msg_id: str = Field(min_length=1, max_length=64)
    body: str = Field(max_length=20_000)  # the 4 KB cap is in UTF-8 bytes, checked by the service


class RegenerateMessage(ClientMessage):
    request_id: str = Field(min_length=1, max_length=64)


class ReplyRefMessage(ClientMessage):
    message_id: int = Id


class RenameMessage(ClientMessage):
    title: str = Field(max_length=500)


class CoachThreadConsumer(StreamConsumer):
    messages = {
        "message.post": PostMessage,
        "coach.regenerate": RegenerateMessage,
        "coach.stop": ReplyRefMessage,
        "coach.text": ReplyRefMessage,
        "thread.rename": RenameMessage,
    }

    thread: CoachThread

    async def authorise(self) -> str:
        thread_id = int(self.scope["url_route"]["kwargs"]["thread_id"])
        try:
            self.thread = await database_sync_to_async(thread_get_for_user)(
                thread_id=thread_id, user=self.user, organisation=self.organisation
            )
        except Http404 as missing:
            raise NotAllowed from missing
        return self.thread.stream

    def _fresh_thread(self) -> CoachThread:
        return thread_get_for_user(thread_id=self.thread.pk, user=self.user, organisation=self.organisation)

    def snapshot_data(self, stream: str) -> dict[str, Any]:
        if stream != self.primary:
            return {}
        thread = self._fresh_thread()
        messages = thread_messages(thread=thread)
        live = {m.pk: reply_live_text(m).get() or m.body for m in messages if m.status == ThreadMessageStatus.STREAMING}
        return {
            "thread": {"id": thread.pk, "title": thread.title},
            "messages": thread_message_payloads(messages, live=live),
        }

    def rights_data(self) -> dict[str, Any]:
        try:
            self._fresh_thread()
        except Http404 as missing:
            raise NotAllowed from missing
        return {"owner": True}

    async def after_resume(self) -> None:
        for frame in await database_sync_to_async(self._live_texts)():
            await self.send_json(frame)

    def _live_texts(self) -> list[dict[str, Any]]:
        streaming = thread_replies_streaming(thread=self.thread)
        return [
            {"type": "coach.text", "id": reply.pk, "offset": 0, "text": reply_live_text(reply).get() or ""}
            for reply in streaming
        ]

    def _reply(self, message_id: int) -> ThreadMessage:
        return thread_reply_get(thread=self.thread, message_id=message_id)

    async def handle_message_post(self, message: PostMessage) -> None:
        def post() -> dict[str, Any]:
            question, reply, created = services.thread_message_post(
                thread=self._fresh_thread(), user=self.user, body=message.body, client_msg_id=message.client_msg_id
            )
            return {
                "type": "ack",
                "message_id": question.pk,
                "coach_message_id": reply.pk if reply else None,
                "client_msg_id": message.client_msg_id,
                "duplicate": not created,
            }

        await self.run_action(message, post)

    async def handle_coach_regenerate(self, message: RegenerateMessage) -> None:
        def regenerate() -> dict[str, Any]:
            reply, created = services.thread_regenerate(
                thread=self._fresh_thread(), user=self.user, request_id=message.request_id
            )
            return {"type": "ack", "message_id": reply.pk, "request_id": message.request_id, "duplicate": not created}

        await self.run_action(message, regenerate)

    async def handle_coach_stop(self, message: ReplyRefMessage) -> None:
        def stop() -> dict[str, Any]:
            reply = services.thread_reply_stop(reply=self._reply(message.message_id), user=self.user)
            return {"type": "ack", "message_id": reply.pk}

        await self.run_action(message, stop)

    async def handle_coach_text(self, message: ReplyRefMessage) -> None:
        def text() -> dict[str, Any]:
            reply = self._reply(message.message_id)
            live = reply_live_text(reply).get() if reply.status == ThreadMessageStatus.STREAMING else None
            return {"type": "coach.text", "id": reply.pk, "offset": 0, "text": live if live is not None else reply.body}

        await self.run_action(message, text)

    async def handle_thread_rename(self, message: RenameMessage) -> None:
        def rename() -> dict[str, Any]:
            thread = services.thread_rename(thread=self._fresh_thread(), user=self.user, title=message.title)
            return {"type": "ack", "title": thread.title}

        await self.run_action(message, rename)
