"""Reads for private coach threads: a thread is its owner's alone, within one organisation;
anything else answers like a missing thread (404)."""

from __future__ import annotations

from typing import cast

from django.db.models import Count, QuerySet
from django.http import Http404

from domains.accounts.models import Organisation, User
from domains.coach.events import ErrorPayload, ReplyStatusName, ThreadMessagePayload, ThreadRoleName
from domains.coach.models import CoachThread, ThreadMessage, ThreadMessageStatus, ThreadRole


def thread_list_for_user(*, user: User, organisation: Organisation | None) -> QuerySet[CoachThread]:
    if organisation is None:
        return CoachThread.objects.none()
    return (
        CoachThread.objects.filter(owner=user, organisation=organisation)
        .annotate(message_count=Count("messages"))
        .order_by("-updated_at", "-pk")
    )


def thread_get_for_user(*, thread_id: int, user: User, organisation: Organisation | None) -> CoachThread:
    """The user's own thread in the session's organisation; anything else is a 404."""
    thread = CoachThread.objects.filter(pk=thread_id, owner=user, organisation=organisation).first()
    if organisation is None or thread is None:
        raise Http404("No such conversation.")
    return thread


def thread_message_payloads(
    messages: list[ThreadMessage], *, live: dict[int, str] | None = None
) -> list[ThreadMessagePayload]:
    """The wire form of thread messages, with each reply's version among its siblings."""
    versions: dict[int | None, list[int]] = {}
    for message in messages:
        if message.role == ThreadRole.COACH:
            versions.setdefault(message.parent_id, []).append(message.pk)
    payloads = []
    for message in messages:
        siblings = versions.get(message.parent_id, []) if message.role == ThreadRole.COACH else [message.pk]
        text = (live or {}).get(message.pk)
        payloads.append(
            ThreadMessagePayload(
                id=message.pk,
                role=cast(ThreadRoleName, message.role),
                body=message.body if text is None else text,
                html=message.body_html if text is None else "",
                status=cast(ReplyStatusName, message.status),
                client_msg_id=message.client_msg_id,
                parent_id=message.parent_id,
                version=siblings.index(message.pk) + 1 if message.pk in siblings else 1,
                versions=len(siblings) or 1,
                current=not siblings or siblings[-1] == message.pk,
                provider_label=message.provider_label,
                citations=message.citations,
                error=ErrorPayload(code=message.error_code, message=message.error_message)
                if message.error_code
                else None,
                created_at=message.created_at.isoformat(),
            )
        )
    return payloads


def thread_message_payload(message: ThreadMessage) -> ThreadMessagePayload:
    """One message's wire form, its version counted among the replies to the same question."""
    if message.role == ThreadRole.COACH:
        family = list(ThreadMessage.objects.filter(thread_id=message.thread_id, parent_id=message.parent_id))
    else:
        family = [message]
    return next(p for p in thread_message_payloads(family) if p["id"] == message.pk)


def thread_messages(*, thread: CoachThread) -> list[ThreadMessage]:
    return list(ThreadMessage.objects.filter(thread=thread).order_by("created_at", "pk"))


def thread_replies_streaming(*, thread: CoachThread) -> list[ThreadMessage]:
    """The thread's replies still streaming (a resume sends each one's text so far)."""
    return list(ThreadMessage.objects.filter(thread=thread, status=ThreadMessageStatus.STREAMING).order_by("pk"))


def thread_reply_get(*, thread: CoachThread, message_id: int) -> ThreadMessage:
    """One coach reply of this thread; any other id raises `ThreadMessage.DoesNotExist`."""
    return ThreadMessage.objects.select_related("thread").get(pk=message_id, thread=thread, role=ThreadRole.COACH)


def _error(message: ThreadMessage) -> ErrorPayload | None:
    if not message.error_code:
        return None
    return ErrorPayload(code=message.error_code, message=message.error_message)
