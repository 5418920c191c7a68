"""Reads for lounges. Every lookup is scoped by the caller's organisation; foreign ids are 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from domains.accounts.models import Organisation, User
from domains.lounges.models import AuthorKind, Lounge, LoungeAccess, LoungeMembership, Message, Report, ReportStatus

HISTORY_LIMIT = 50


def lounge_list_for_user(*, organisation: Organisation, user: User) -> list[tuple[Lounge, LoungeMembership | None]]:
    """The directory: open and members-only lounges, plus invite-only ones the user belongs to."""
    memberships = {
        m.lounge_id: m for m in LoungeMembership.objects.filter(user=user, lounge__organisation=organisation)
    }
    lounges = (
        Lounge.objects.filter(organisation=organisation)
        .filter(~Q(access=LoungeAccess.INVITE) | Q(pk__in=list(memberships)))
        .annotate(member_count=Count("memberships", filter=Q(memberships__is_banned=False)))
        .order_by("category", "title")
    )
    return [(lounge, memberships.get(lounge.pk)) for lounge in lounges]


def lounge_get_for_user(
    *, organisation: Organisation | None, user: Any, slug: str
) -> tuple[Lounge, LoungeMembership | None]:
    """The lounge and the user's membership. 404 for another organisation's lounge, a hidden one,
    or one the user is banned from: exactly like a missing one."""
    if organisation is None:
        raise Http404("No such lounge.")
    lounge = Lounge.objects.filter(organisation=organisation, slug=slug).first()
    if lounge is None:
        raise Http404("No such lounge.")
    membership = LoungeMembership.objects.filter(lounge=lounge, user=user).first()
    if membership is not None and membership.is_banned:
        raise Http404("No such lounge.")
    if lounge.access == LoungeAccess.INVITE and membership is None:
        raise Http404("No such lounge.")
    return lounge, membership


def author_payload(user: User | None) -> dict[str, Any] | None:
    return {"id": user.pk, "name": user.public_name} if user is not None else None


def message_payload(message: Message, *, for_moderator: bool = False, live_text: str | None = None) -> dict[str, Any]:
    """The wire form of a message. Hidden and deleted text is withheld from non-moderators."""
    withheld = not message.is_visible and not for_moderator
    body = message.body if live_text is None else live_text
    payload: dict[str, Any] = {
        "id": message.pk,
        "author": author_payload(message.author) if message.author_kind == AuthorKind.USER else None,
        "author_kind": message.author_kind,
        "body": "" if withheld else body,
        "html": "" if withheld or live_text is not None else message.body_html,
        "status": message.status,
        "reply_to": message.reply_to_id,
        "client_msg_id": message.client_msg_id,
        "summoned_by": message.summoned_by_id,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "pinned": message.pinned_at is not None,
        "hidden": message.hidden_at is not None,
        "deleted": message.is_deleted,
        "hidden_reason": message.hidden_reason,
        "provider_label": message.provider_label,
        "usage": {"tokens_in": message.tokens_in, "tokens_out": message.tokens_out},
        "error": {"code": message.error_code, "message": message.error_message} if message.error_code else None,
        "citations": [] if withheld else message.citations,
    }
    if message.author_kind == AuthorKind.COACH:
        payload["coach_name"] = message.lounge.coach_name
    return payload


def message_history(*, lounge: Lounge, for_moderator: bool, limit: int = HISTORY_LIMIT) -> list[Message]:
    """The last `limit` messages, oldest first; moderators also see hidden ones (marked)."""
    messages: QuerySet[Message] = Message.objects.filter(lounge=lounge).select_related("author", "lounge")
    if not for_moderator:
        messages = messages.filter(hidden_at__isnull=True, is_deleted=False)
    else:
        messages = messages.filter(is_deleted=False)
    return list(reversed(messages.order_by("-created_at", "-pk")[:limit]))


def message_pins(*, lounge: Lounge) -> list[Message]:
    return list(
        Message.objects.filter(lounge=lounge, pinned_at__isnull=False, hidden_at__isnull=True, is_deleted=False)
        .select_related("author", "lounge")
        .order_by("-pinned_at")[:20]
    )


def message_get(*, lounge: Lounge, message_id: int) -> Message:
    message = Message.objects.select_related("author", "lounge").filter(lounge=lounge, pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    return message


def report_queue(*, lounge: Lounge, status: str = ReportStatus.OPEN) -> QuerySet[Report]:
    return Report.objects.filter(lounge=lounge, status=status).select_related("message", "reporter", "handled_by")


def member_list(*, lounge: Lounge) -> QuerySet[LoungeMembership]:
    return LoungeMembership.objects.filter(lounge=lounge).select_related("user").order_by("-role", "joined_at")


def users_named(user_ids: list[int]) -> list[dict[str, Any]]:
    return [{"id": u.pk, "name": u.public_name} for u in User.objects.filter(pk__in=user_ids).order_by("display_name")]


def lounge_rights(*, lounge: Lounge, membership: LoungeMembership | None) -> dict[str, Any]:
    """What a person may do in a lounge now: the page's first paint and the socket's `rights`."""
    now = timezone.now()
    moderator = membership is not None and membership.is_moderator
    muted_until = membership.muted_until if membership is not None and membership.muted_now() else None
    last_posted = membership.last_posted_at if membership is not None else None
    return {
        "member": membership is not None,
        "role": membership.role if membership is not None else None,
        "moderator": moderator,
        "muted_until": muted_until.isoformat() if muted_until else None,
        "locked": lounge.is_locked,
        "slow_mode_seconds": lounge.slow_mode_seconds,
        "last_posted_at": last_posted.isoformat() if last_posted else None,
        "can_post": membership is not None and (moderator or (not lounge.is_locked and not muted_until)),
        "now": now.isoformat(),
    }


def member_rows(*, lounge: Lounge) -> list[dict[str, Any]]:
    """The member list moderators act on."""
    now = timezone.now()
    return [
        {
            "id": m.user_id,
            "name": m.user.public_name,
            "role": m.role,
            "muted_until": m.muted_until.isoformat() if m.muted_until and m.muted_until > now else None,
            "banned": m.is_banned,
        }
        for m in member_list(lounge=lounge)
    ]
