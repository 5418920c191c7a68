"""`/ws/interviews/<session_id>/`: one interview session, for its candidate and its watchers.

The candidate gets a snapshot (the clock: `deadline` and `server_now`; the current question; its
saved answer; the progress) on connect and a `clock` frame after every resume, and sends
`answer.save`, `question.open`, `session.submit` and `integrity.signal`. Watchers (the
organisation's mentors, the assignment's reviewer) follow the same stream read-only and may send
`time.grant`. Anyone else is closed with 4404. docs/realtime-protocol.md, "Interview sessions".
"""

from __future__ import annotations

from typing import Any, Literal

from channels.db import database_sync_to_async
from django.http import Http404
from django.utils import timezone
from pydantic import Field

from domains.interviews import rules, selectors, services
from domains.interviews.models import InterviewSession
from realtime.consumers.base import ClientMessage, NotAllowed, StreamConsumer
from realtime.streams import interview_session_stream

Id = Field(ge=1, le=2**62)


class AnswerSaveMessage(ClientMessage):
    question_id: int = Id
    revision: int = Field(ge=1, le=services.REVISION_MAX)
    text: str | None = Field(default=None, max_length=200_000)  # the real cap is the service's
    choice_ids: list[str] | None = Field(default=None, max_length=16)


class QuestionOpenMessage(ClientMessage):
    position: int = Field(ge=1, le=50)


class SubmitMessage(ClientMessage):
    pass


class IntegrityMessage(ClientMessage):
    kind: Literal["paste", "focus_loss"]


class TimeGrantMessage(ClientMessage):
    seconds: int = Field(ge=1, le=24 * 3600)
    reason: str = Field(max_length=500)


CANDIDATE_ONLY = frozenset({"answer.save", "question.open", "session.submit", "integrity.signal"})


class InterviewConsumer(StreamConsumer):
    messages = {
        "answer.save": AnswerSaveMessage,
        "question.open": QuestionOpenMessage,
        "session.submit": SubmitMessage,
        "integrity.signal": IntegrityMessage,
        "time.grant": TimeGrantMessage,
    }

    session: InterviewSession
    is_candidate: bool

    async def authorise(self) -> str:
        session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        try:
            self.session, self.is_candidate = await database_sync_to_async(selectors.session_get_for_user)(
                user=self.user, session_id=session_id
            )
        except Http404 as missing:
            raise NotAllowed from missing
        return interview_session_stream(self.session.pk)

    def _fresh(self) -> InterviewSession:
        session, _ = selectors.session_get_for_user(user=self.user, session_id=self.session.pk)
        return session

    def snapshot_data(self, stream: str) -> dict[str, Any]:
        if stream != self.primary:
            return {}
        return selectors.session_snapshot(self._fresh())

    def rights_data(self) -> dict[str, Any]:
        try:
            session = self._fresh()
        except Http404 as missing:
            raise NotAllowed from missing
        candidate = rules.is_candidate(user=self.user, session=session)
        return {
            "role": "candidate" if candidate else "watcher",
            "may_answer": candidate and session.state == "in_progress",
            "may_grant": not candidate and rules.may_grant_time(user=self.user, session=session),
        }

    async def after_resume(self) -> None:
        """A replay carries events, not the time: send the clock again so the countdown re-syncs."""
        await self.send_json(await database_sync_to_async(self._clock)())

    def _clock(self) -> dict[str, Any]:
        session = self._fresh()
        return {
            "type": "clock",
            "session_id": session.pk,
            "state": session.state,
            "deadline": session.deadline.isoformat(),
            "server_now": timezone.now().isoformat(),
        }

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        if content.get("type") in CANDIDATE_ONLY and not self.is_candidate:
            await self.send_error("not_allowed", "Watchers follow this session read-only.", ref=content.get("ref"))
            return
        if content.get("type") == "time.grant" and self.is_candidate:
            await self.send_error("not_allowed", "Only a mentor or the reviewer grants time.", ref=content.get("ref"))
            return
        await super().receive_json(content, **kwargs)

    async def handle_answer_save(self, message: AnswerSaveMessage) -> None:
        def save() -> dict[str, Any]:
            try:
                answer, stored = services.answer_save(
                    session_id=self.session.pk,
                    user=self.user,
                    question_id=message.question_id,
                    revision=message.revision,
                    text=message.text,
                    choice_ids=message.choice_ids,
                )
            except services.SaveRefused as refused:
                # Not a bare error: the reply says what the server keeps, so no text is lost.
                return {
                    "type": "error",
                    "code": refused.code,
                    "message": refused.message,
                    "question_id": message.question_id,
                    "stored": refused.stored,
                }
            return {
                "type": "ack",
                "question_id": message.question_id,
                "revision": answer.revision,
                "saved_at": answer.saved_at.isoformat() if answer.saved_at else None,
                "duplicate": not stored,
            }

        await self.run_action(message, save)

    async def handle_question_open(self, message: QuestionOpenMessage) -> None:
        def open_question() -> dict[str, Any]:
            snapshot = services.session_navigate(session_id=self.session.pk, user=self.user, position=message.position)
            return {"type": "question", **snapshot}

        await self.run_action(message, open_question)

    async def handle_session_submit(self, message: SubmitMessage) -> None:
        def submit() -> dict[str, Any]:
            session = services.interview_session_submit(session_id=self.session.pk, user=self.user)
            return {
                "type": "ack",
                "state": session.state,
                "finished_at": session.finished_at.isoformat() if session.finished_at else None,
            }

        await self.run_action(message, submit)

    async def handle_integrity_signal(self, message: IntegrityMessage) -> None:
        def signal() -> dict[str, Any]:
            session = services.integrity_signal(session_id=self.session.pk, user=self.user, kind=message.kind)
            return {"type": "ack", "paste_count": session.paste_count, "focus_loss_count": session.focus_loss_count}

        await self.run_action(message, signal)

    async def handle_time_grant(self, message: TimeGrantMessage) -> None:
        def grant() -> dict[str, Any]:
            session = services.extra_time_grant(
                session_id=self.session.pk, user=self.user, seconds=message.seconds, reason=message.reason
            )
            return {"type": "ack", "deadline": session.deadline.isoformat(), "extra_seconds": session.extra_seconds}

        await self.run_action(message, grant)
