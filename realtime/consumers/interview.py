"""`/ws/interviews/<session_id>/`: one interview session, for its candidate and its watchers.

The candidate gets a snapshot (the clock: `deadline` and `server_now`; the current question; its
saved answer and the interviewer's follow-up on it; the progress; once the session is over, the
grading so far) on connect, and after every resume a `clock` frame and a `followup.text` frame per
follow-up still streaming. The candidate sends `answer.save`, `question.open`, `session.submit`,
`integrity.signal`, `followup.request` and `followup.save`. Watchers (the organisation's mentors,
the assignment's reviewer) follow the same stream read-only and may send `time.grant`; both may
send `followup.text`. Anyone else is closed with 4404. docs/realtime-protocol.md, "Interview
sessions".
"""

from __future__ import annotations

from typing import Any, Literal

from channels.db import database_sync_to_async
from django.http import Http404
from django.utils import timezone
from pydantic import ConfigDict, Field

from domains.interviews import evaluation, followups, rules, selectors, services
from domains.interviews.models import FollowUp, InterviewSession
from realtime.consumers.base import ClientMessage, NotAllowed, StreamConsumer
from realtime.streams import interview_session_stream

Id = Field(ge=1, le=2**62)


# An answer is stored as written: the kit's whitespace stripping would drop a trailing newline.
KEEP_WHITESPACE = ConfigDict(extra="forbid", str_strip_whitespace=False)


class AnswerSaveMessage(ClientMessage):
    model_config = KEEP_WHITESPACE
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


class FollowUpRequestMessage(ClientMessage):
    question_id: int = Id


class FollowUpSaveMessage(ClientMessage):
    model_config = KEEP_WHITESPACE
    followup_id: int = Id
    revision: int = Field(ge=1, le=services.REVISION_MAX)
    text: str = Field(max_length=200_000)  # the real cap is the service's


class FollowUpTextMessage(ClientMessage):
    followup_id: int = Id


CANDIDATE_ONLY = frozenset(
    {"answer.save", "question.open", "session.submit", "integrity.signal", "followup.request", "followup.save"}
)


class InterviewConsumer(StreamConsumer):
    messages = {
        "answer.save": AnswerSaveMessage,
        "question.open": QuestionOpenMessage,
        "session.submit": SubmitMessage,
        "integrity.signal": IntegrityMessage,
        "time.grant": TimeGrantMessage,
        "followup.request": FollowUpRequestMessage,
        "followup.save": FollowUpSaveMessage,
        "followup.text": FollowUpTextMessage,
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
        session = self._fresh()
        return {**selectors.session_snapshot(session), "grading": evaluation.grading_snapshot(session)}

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
        """A replay carries events, not the time: send the clock again so the countdown re-syncs;
        and deltas are not replayed: send each streaming follow-up's text so far."""
        await self.send_json(await database_sync_to_async(self._clock)())
        for frame in await database_sync_to_async(self._live_texts)():
            await self.send_json(frame)

    def _live_texts(self) -> list[dict[str, Any]]:
        return [_followup_text(row) for row in selectors.followups_streaming(session=self.session)]

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
                return _save_refused(refused, question_id=message.question_id)
            return {
                "type": "ack",
                "question_id": message.question_id,
                "revision": answer.revision,
                "saved_at": answer.saved_at.isoformat() if answer.saved_at else None,
                "duplicate": not stored,
            }

        # Off the shared database thread: autosaves are the room's hot path (bench S4).
        await self.run_action(message, save, shared_thread=False)

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

    async def handle_followup_request(self, message: FollowUpRequestMessage) -> None:
        def request() -> dict[str, Any]:
            followup, created = followups.followup_request(
                session_id=self.session.pk, user=self.user, question_id=message.question_id
            )
            return {
                "type": "ack",
                "question_id": message.question_id,
                "followup_id": followup.pk,
                "status": followup.status,
                "duplicate": not created,
            }

        await self.run_action(message, request)

    async def handle_followup_save(self, message: FollowUpSaveMessage) -> None:
        def save() -> dict[str, Any]:
            try:
                followup, stored = followups.followup_save(
                    session_id=self.session.pk,
                    user=self.user,
                    followup_id=message.followup_id,
                    revision=message.revision,
                    text=message.text,
                )
            except services.SaveRefused as refused:
                return _save_refused(refused, followup_id=message.followup_id)
            return {
                "type": "ack",
                "followup_id": followup.pk,
                "revision": followup.response_revision,
                "saved_at": followup.response_saved_at.isoformat() if followup.response_saved_at else None,
                "duplicate": not stored,
            }

        # Off the shared database thread: autosaves are the room's hot path (bench S4).
        await self.run_action(message, save, shared_thread=False)

    async def handle_followup_text(self, message: FollowUpTextMessage) -> None:
        def text() -> dict[str, Any]:
            row = (
                FollowUp.objects.select_related("answer__question")
                .filter(pk=message.followup_id, session_id=self.session.pk)
                .first()
            )
            if row is None:
                raise Http404("No such follow-up in this session.")
            return _followup_text(row)

        await self.run_action(message, text)


def _save_refused(refused: services.SaveRefused, **ids: int) -> dict[str, Any]:
    """A refused autosave's reply. Not a bare error: it says what the server keeps (`stored`), so
    the client can keep the candidate's text instead of losing it."""
    return {"type": "error", "code": refused.code, "message": refused.message, **ids, "stored": refused.stored}


def _followup_text(followup: FollowUp) -> dict[str, Any]:
    """The follow-up's whole text so far (live while streaming): a client replaces its own with it and
    continues with the deltas from `offset` + its length."""
    return {"type": "followup.text", "id": followup.pk, "offset": 0, **_status(followup)}


def _status(followup: FollowUp) -> dict[str, Any]:
    payload = selectors.followup_payload(followup)
    return {"text": payload["body"], "status": payload["status"]}
