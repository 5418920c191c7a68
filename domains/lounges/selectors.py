"""Reads for lounges. Every lookup is scoped by the caller's organisation; foreign ids are 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast, overload

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from domains.accounts.models import Organisation, User
from domains.compliance.models import AuditEvent
from domains.lounges.events import (
    AuthorKindName,
    AuthorPayload,
    MessagePayload,
    ReplyStatusName,
    ReportPayload,
    ReportStatusName,
)
from domains.lounges.models import (
    AuthorKind,
    Lounge,
    LoungeAccess,
    LoungeMembership,
    Message,
    MessageStatus,
    Report,
    ReportStatus,
)
from domains.lounges.rules import can_view

# The live text of a streaming reply (`domains.coach.lounge_reply.live_text`), passed in by the caller:
# the coach module builds on these selectors, so they cannot import it.
LiveTextLookup = Callable[[int], str | None]

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
    *, organisation: Organisation | None, user: User, slug: str
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


def lounge_get_viewable(
    *, organisation: Organisation | None, user: User, slug: str
) -> tuple[Lounge, LoungeMembership | None]:
    """`lounge_get_for_user`, and 404 unless the user may see the room (the socket answers 4404)."""
    lounge, membership = lounge_get_for_user(organisation=organisation, user=user, slug=slug)
    if not can_view(lounge=lounge, membership=membership):
        raise Http404("No such lounge.")
    return lounge, membership


def lounge_get_for_invite(*, organisation: Organisation, user: User, slug: str, invite_code: str) -> Lounge:
    """An invite-only lounge, found only together with its code: a wrong code, or a ban, answers
    exactly like a missing lounge."""
    invited = Lounge.objects.filter(organisation=organisation, slug=slug, access=LoungeAccess.INVITE).first()
    if invited is None or not invite_code or invite_code != invited.invite_code:
        raise Http404("No such lounge.")
    if LoungeMembership.objects.filter(lounge=invited, user=user, is_banned=True).exists():
        raise Http404("No such lounge.")
    return invited


def lounge_get(*, lounge_id: int) -> Lounge:
    """The lounge as it is now (with its organisation): sockets re-read it for every action."""
    return Lounge.objects.select_related("organisation").get(pk=lounge_id)


def lounge_membership_get(*, lounge: Lounge, user: User) -> LoungeMembership | None:
    return LoungeMembership.objects.filter(lounge=lounge, user=user).first()


def lounge_state_get(*, lounge_id: int, user: User) -> tuple[Lounge, LoungeMembership | None]:
    """The lounge and the user's membership, both as they are now."""
    lounge = lounge_get(lounge_id=lounge_id)
    return lounge, lounge_membership_get(lounge=lounge, user=user)


def organisation_member_get(*, organisation: Organisation, user_id: int) -> User | None:
    """A person of `organisation` by id; None for a stranger, exactly as for a missing id."""
    return User.objects.filter(pk=user_id, memberships__organisation=organisation).first()


def lounge_moderation_log(*, lounge: Lounge) -> QuerySet[AuditEvent]:
    """The lounge's moderation audit trail, newest first."""
    return AuditEvent.objects.filter(organisation=lounge.organisation, details__lounge=lounge.pk).order_by(
        "-created_at", "-pk"
    )


@overload
def author_payload(user: User) -> AuthorPayload: ...
@overload
def author_payload(user: User | None) -> AuthorPayload | None: ...
def author_payload(user: User | None) -> AuthorPayload | None:
    return AuthorPayload(id=user.pk, name=user.public_name) if user is not None else None


def message_payload(message: Message, *, for_moderator: bool = False, live_text: str | None = None) -> MessagePayload:
    """The wire form of a message. Hidden and deleted text is withheld from non-moderators, the
    author included (who gets `hidden` and `hidden_reason`, to say why it went)."""
    withheld = not message.is_visible and not for_moderator
    body = message.body if live_text is None else live_text
    payload = MessagePayload(
        id=message.pk,
        author=author_payload(message.author) if message.author_kind == AuthorKind.USER else None,
        author_kind=cast(AuthorKindName, message.author_kind),
        body="" if withheld else body,
        html="" if withheld or live_text is not None else message.body_html,
        status=cast(ReplyStatusName, message.status),
        reply_to=message.reply_to_id,
        client_msg_id=message.client_msg_id,
        summoned_by=message.summoned_by_id,
        created_at=message.created_at.isoformat(),
        edited_at=message.edited_at.isoformat() if message.edited_at else None,
        pinned=message.pinned_at is not None,
        hidden=message.hidden_at is not None,
        deleted=message.is_deleted,
        hidden_reason=message.hidden_reason,
        provider_label=message.provider_label,
        usage={"tokens_in": message.tokens_in, "tokens_out": message.tokens_out},
        error={"code": message.error_code, "message": message.error_message} if message.error_code else None,
        citations=[] if withheld else message.citations,
    )
    if message.author_kind == AuthorKind.COACH:
        payload["coach_name"] = message.lounge.coach_name
    return payload


def message_history(
    *, lounge: Lounge, for_moderator: bool, limit: int = HISTORY_LIMIT, author_id: int | None = None
) -> list[Message]:
    """The last `limit` messages, oldest first; moderators also see hidden ones (marked), and so
    does `author_id` for their own, whose text `message_payload` withholds: the author sees that a
    moderator hid it, and why, instead of it vanishing."""
    messages: QuerySet[Message] = Message.objects.filter(lounge=lounge, is_deleted=False).select_related(
        "author", "lounge"
    )
    if not for_moderator:
        shown = Q(hidden_at__isnull=True)
        if author_id is not None:
            shown |= Q(author_id=author_id, author_kind=AuthorKind.USER)
        messages = messages.filter(shown)
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


def message_text_get(
    *, lounge: Lounge, message_id: int, for_moderator: bool, live_text: LiveTextLookup
) -> tuple[int, str]:
    """A message's text now: a streaming reply's live text so far, else its body. A hidden or
    deleted message is not found, except by moderators."""
    message = message_get(lounge=lounge, message_id=message_id)
    if not message.is_visible and not for_moderator:
        raise Http404("No such message.")
    live = live_text(message.pk) if message.status == MessageStatus.STREAMING else None
    return message.pk, live if live is not None else message.body


def streaming_reply_ids(*, lounge: Lounge) -> list[int]:
    """The coach replies still streaming (a resume sends each one's text so far)."""
    return list(Message.objects.filter(lounge=lounge, status=MessageStatus.STREAMING).values_list("pk", flat=True))


def report_get(*, lounge: Lounge, report_id: int) -> Report:
    report = Report.objects.select_related("lounge").filter(lounge=lounge, pk=report_id).first()
    if report is None:
        raise Http404("No such report.")
    return report


def report_payload(report: Report) -> ReportPayload:
    return ReportPayload(
        id=report.pk,
        message_id=report.message_id,
        reporter=author_payload(report.reporter),
        reason=report.reason,
        reported_body=report.reported_body,
        status=cast(ReportStatusName, report.status),
        resolution=report.resolution,
        created_at=report.created_at.isoformat(),
    )


def report_queue(*, lounge: Lounge, status: str = ReportStatus.OPEN) -> QuerySet[Report]:
    return Report.objects.filter(lounge=lounge, status=status).select_related("message", "reporter", "handled_by")


def member_list(*, lounge: Lounge) -> QuerySet[LoungeMembership]:
    return LoungeMembership.objects.filter(lounge=lounge).select_related("user").order_by("-role", "joined_at")


def users_named(user_ids: list[int]) -> list[AuthorPayload]:
    return [author_payload(u) for u in User.objects.filter(pk__in=user_ids).order_by("display_name")]


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


REPORTS_IN_SNAPSHOT = 50


def room_snapshot(
    *, lounge: Lounge, membership: LoungeMembership | None, present_user_ids: list[int], live_text: LiveTextLookup
) -> dict[str, Any]:
    """The room's `snapshot` data (docs/realtime-protocol.md): the lounge, its recent history and
    pins, who is here, and for moderators the open reports and the members. A streaming reply
    carries its live text so far, so a joiner resumes mid-stream. A fixed number of queries
    (tests/domains/lounges/test_queries.py), whatever the history holds."""
    moderator = membership is not None and membership.is_moderator
    author_id = membership.user_id if membership is not None else None
    history = message_history(lounge=lounge, for_moderator=moderator, author_id=author_id)
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
        "messages": [
            message_payload(
                message,
                for_moderator=moderator,
                live_text=live_text(message.pk) if message.status == MessageStatus.STREAMING else None,
            )
            for message in history
        ],
        "pins": [message_payload(message) for message in message_pins(lounge=lounge)],
        "presence": users_named(present_user_ids),
        "reports": [report_payload(r) for r in report_queue(lounge=lounge)[:REPORTS_IN_SNAPSHOT]] if moderator else [],
        "members": member_rows(lounge=lounge) if moderator else [],
    }
