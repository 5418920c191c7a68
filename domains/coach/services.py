"""Writes for private coach threads: create, rename, delete, ask, regenerate, stop.

- A thread is its owner's alone; every write locks the thread row.
- Asking publishes the question and a streaming reply (`message.created` twice) and enqueues
  `thread_reply_task` after commit (domains/coach/thread_reply.py streams the answer).
- Every refusal is a `ThreadError` (a `domains.common.errors.Refusal`).
"""

from __future__ import annotations

from django.db import transaction

from domains.accounts.models import Organisation, User
from domains.ai.services import ai_quota_admit, chat_cancel, provider_for
from domains.coach.events import ThreadMessageCreated, ThreadRenamed
from domains.coach.models import CoachThread, ThreadMessage, ThreadMessageStatus, ThreadRole
from domains.coach.selectors import thread_message_payload
from domains.common.errors import Refusal
from domains.common.markdown import render_markdown
from domains.notes.models import TITLE_MAX, Note
from domains.notes.rules import is_organisation_member
from realtime.publish import control_send, publish_on_commit, stream_forget
from workers import enqueue

THREAD_REPLY_TASK = "workers.tasks.coach.thread_reply_task"
THREAD_TITLE_DEFAULT = "New conversation"
QUESTION_MAX_BYTES = 4096


class ThreadError(Refusal):
    """A refused action in a private coach thread."""


def _thread_check_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise ThreadError("invalid", "Write your question first.", field="body")
    size = len(text.encode("utf-8"))
    if size > QUESTION_MAX_BYTES:
        raise ThreadError(
            "too_long", f"Messages are at most {QUESTION_MAX_BYTES} bytes; this one is {size}.", field="body"
        )
    return text


def _thread_check_title(title: str) -> str:
    text = " ".join(title.split())
    if not text:
        raise ThreadError("invalid", "The title cannot be empty.", field="title")
    if len(text) > TITLE_MAX:
        raise ThreadError("invalid", f"Titles are at most {TITLE_MAX} characters.", field="title")
    return text


def _thread_quota(thread: CoachThread, user: User) -> None:
    ai_quota_admit(
        organisation=thread.organisation,
        user=user,
        feature="coach",
        refusal=ThreadError,
        message="You have asked the coach too often; try again later.",
    )


def _thread_label(thread: CoachThread) -> str:
    return provider_for(organisation=thread.organisation, feature="coach").label


def _thread_locked(thread: CoachThread, user: User) -> CoachThread:
    locked = CoachThread.objects.select_for_update().filter(pk=thread.pk, owner=user).first()
    if locked is None:
        raise ThreadError("not_found", "No such conversation.")
    return locked


def _reply_start(thread: CoachThread, question: ThreadMessage, request_id: str) -> ThreadMessage:
    reply = ThreadMessage.objects.create(
        thread=thread,
        role=ThreadRole.COACH,
        parent=question,
        status=ThreadMessageStatus.STREAMING,
        request_id=request_id,
        provider_label=_thread_label(thread),
    )
    publish_on_commit(
        thread.stream, ThreadMessageCreated(type="message.created", message=thread_message_payload(reply))
    )
    enqueue(THREAD_REPLY_TASK, reply.pk)
    return reply


@transaction.atomic
def thread_create(*, user: User, organisation: Organisation, title: str = "") -> CoachThread:
    if not is_organisation_member(user, organisation.pk):
        raise ThreadError("not_allowed", "Only members of the organisation talk to its coach.")
    return CoachThread.objects.create(
        organisation=organisation, owner=user, title=_thread_check_title(title or THREAD_TITLE_DEFAULT)
    )


@transaction.atomic
def thread_rename(*, thread: CoachThread, user: User, title: str) -> CoachThread:
    thread = _thread_locked(thread, user)
    thread.title = _thread_check_title(title)
    thread.save(update_fields=["title", "updated_at"])
    publish_on_commit(thread.stream, ThreadRenamed(type="thread.renamed", title=thread.title))
    return thread


@transaction.atomic
def thread_delete(*, thread: CoachThread, user: User) -> None:
    """Delete a thread with its messages and stream history; its open sockets close (4404)."""
    thread = _thread_locked(thread, user)
    stream = thread.stream
    for reply in thread.messages.filter(status=ThreadMessageStatus.STREAMING):
        _cancel_reply(reply)
    thread.delete()
    stream_forget(stream)
    control_send(stream, action="force_close", reason="deleted", code=4404)


@transaction.atomic
def thread_message_post(
    *, thread: CoachThread, user: User, body: str, client_msg_id: str
) -> tuple[ThreadMessage, ThreadMessage | None, bool]:
    """Ask the coach: the question and its streaming reply. Idempotent by `client_msg_id` (a repeat
    returns the first pair, `created=False`). Locks the thread row."""
    if not client_msg_id or len(client_msg_id) > 64:
        raise ThreadError("invalid", "client_msg_id is required (at most 64 characters).", field="client_msg_id")
    text = _thread_check_body(body)
    thread = _thread_locked(thread, user)
    existing = ThreadMessage.objects.filter(thread=thread, client_msg_id=client_msg_id).first()
    if existing is not None:
        return existing, existing.replies.order_by("created_at").first(), False
    if thread.messages.filter(status=ThreadMessageStatus.STREAMING).exists():
        raise ThreadError("busy", "The coach is still answering; wait or stop it first.")
    _thread_quota(thread, user)
    question = ThreadMessage.objects.create(
        thread=thread, role=ThreadRole.USER, body=text, body_html=render_markdown(text), client_msg_id=client_msg_id
    )
    publish_on_commit(
        thread.stream, ThreadMessageCreated(type="message.created", message=thread_message_payload(question))
    )
    reply = _reply_start(thread, question, request_id=client_msg_id)
    thread.save(update_fields=["updated_at"])
    return question, reply, True


@transaction.atomic
def thread_regenerate(*, thread: CoachThread, user: User, request_id: str) -> tuple[ThreadMessage, bool]:
    """Answer the last question again; the earlier answers stay as sibling versions. Idempotent by
    `request_id`. Locks the thread row."""
    if not request_id or len(request_id) > 64:
        raise ThreadError("invalid", "request_id is required (at most 64 characters).", field="request_id")
    thread = _thread_locked(thread, user)
    existing = ThreadMessage.objects.filter(thread=thread, request_id=request_id).first()
    if existing is not None:
        return existing, False
    question = thread.messages.filter(role=ThreadRole.USER).order_by("-created_at", "-pk").first()
    if question is None:
        raise ThreadError("invalid", "Ask a question first.")
    if thread.messages.filter(status=ThreadMessageStatus.STREAMING).exists():
        raise ThreadError("busy", "The coach is still answering; wait or stop it first.")
    _thread_quota(thread, user)
    reply = _reply_start(thread, question, request_id=request_id)
    thread.save(update_fields=["updated_at"])
    return reply, True


def _cancel_reply(reply: ThreadMessage) -> None:
    transaction.on_commit(lambda: chat_cancel(cancel_key=reply.cancel_key))


@transaction.atomic
def thread_reply_stop(*, reply: ThreadMessage, user: User) -> ThreadMessage:
    if reply.thread.owner_id != user.pk or reply.role != ThreadRole.COACH:
        raise ThreadError("not_found", "No such reply.")
    if reply.status == ThreadMessageStatus.STREAMING:
        _cancel_reply(reply)
    return reply


@transaction.atomic
def thread_start_about_note(*, user: User, organisation: Organisation, note: Note, client_msg_id: str) -> CoachThread:
    """ "Ask the coach about this note": a new thread whose first question is about `note`."""
    thread = thread_create(user=user, organisation=organisation, title=f"About: {note.title}"[:TITLE_MAX])
    question = f"Let's talk about my note “{note.title}”. What are its key points, and what should I do next?"
    thread_message_post(thread=thread, user=user, body=question, client_msg_id=client_msg_id)
    return thread
