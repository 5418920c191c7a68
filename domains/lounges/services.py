"""Writes for lounges. Every service is atomic, checks rights from the database, audits moderation,
and publishes durable events on commit (`realtime.publish`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from django.db import transaction
from django.utils import timezone

from domains.accounts.models import Organisation, User
from domains.ai.services import ai_quota_admit, chat_cancel, provider_for, provider_named
from domains.common.errors import Refusal
from domains.common.markdown import render_markdown
from domains.compliance.services import audit_record
from domains.lounges import notices
from domains.lounges.events import (
    LoungeEvent,
    LoungeUpdated,
    MemberChanged,
    MemberMuted,
    MemberRemoved,
    MemberRoleChanged,
    MemberUnmuted,
    MessageCreated,
    MessageEdited,
    MessageModerated,
    MessageModeratedType,
    MessageUnhidden,
    ReportEvent,
)
from domains.lounges.models import (
    AuthorKind,
    Lounge,
    LoungeAccess,
    LoungeMembership,
    LoungeRole,
    Message,
    MessageRevision,
    MessageStatus,
    Report,
    ReportStatus,
)
from domains.lounges.selectors import (
    author_payload,
    message_get,
    message_payload,
    organisation_member_get,
    report_payload,
)
from realtime.publish import publish_on_commit

MAX_BODY_BYTES = 4096
MAX_REASON_CHARS = 300
MAX_MUTE_MINUTES = 7 * 24 * 60
COACH_MENTION = "@coach"

T = TypeVar("T")


class LoungeError(Refusal):
    """A refused lounge action."""


def _publish(lounge: Lounge, event: LoungeEvent) -> None:
    publish_on_commit(lounge.stream, event)


def _audit(actor: User, lounge: Lounge, action: str, target: Any, **details: Any) -> None:
    audit_record(
        actor=actor,
        organisation=lounge.organisation,
        action=f"lounge.{action}",
        target=target,
        details={"lounge": lounge.pk, "lounge_slug": lounge.slug, "lounge_title": lounge.title, **details},
    )


def _membership_locked(lounge: Lounge, user: User) -> LoungeMembership | None:
    return LoungeMembership.objects.select_for_update().filter(lounge=lounge, user=user).first()


def _require_moderator(lounge: Lounge, user: User) -> LoungeMembership:
    membership = LoungeMembership.objects.filter(lounge=lounge, user=user).first()
    if membership is None or not membership.is_moderator:
        raise LoungeError("not_allowed", "Only this lounge's moderators can do that.")
    return membership


def check_body(body: str) -> str:
    """A message body: trimmed, not empty, at most 4 KB in UTF-8."""
    text = body.strip()
    if not text:
        raise LoungeError("invalid", "Write something first.", field="body")
    size = len(text.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise LoungeError("too_long", f"Messages are at most {MAX_BODY_BYTES} bytes; this one is {size}.", field="body")
    return text


def check_reason(reason: str) -> str:
    return " ".join(reason.split())[:MAX_REASON_CHARS]


# ------------------------------------------------------------------------------------------ lounges
@transaction.atomic
def lounge_create(
    *,
    organisation: Organisation,
    creator: User,
    slug: str,
    title: str,
    topic: str = "",
    category: str = "",
    access: str = LoungeAccess.OPEN,
) -> Lounge:
    """Create a lounge; its creator owns it."""
    lounge = Lounge.objects.create(
        organisation=organisation,
        slug=slug,
        title=title,
        topic=topic,
        category=category,
        access=access,
        invite_code=secrets.token_urlsafe(12) if access == LoungeAccess.INVITE else "",
        created_by=creator,
    )
    LoungeMembership.objects.create(lounge=lounge, user=creator, role=LoungeRole.OWNER)
    _audit(creator, lounge, "created", lounge)
    return lounge


@transaction.atomic
def lounge_join(*, lounge: Lounge, user: User, invite_code: str = "") -> LoungeMembership:
    """Join an open lounge, or an invite-only one with its code. Idempotent for existing members."""
    membership = _membership_locked(lounge, user)
    if membership is not None:
        if membership.is_banned:
            raise LoungeError("not_found", "No such lounge.")
        return membership
    if lounge.access == LoungeAccess.MEMBERS:
        raise LoungeError("not_allowed", "This lounge is for members; a moderator can add you.")
    if lounge.access == LoungeAccess.INVITE and not (lounge.invite_code and invite_code == lounge.invite_code):
        raise LoungeError("not_allowed", "That invite code is not valid.", field="invite_code")
    membership = LoungeMembership.objects.create(lounge=lounge, user=user)
    _publish(lounge, MemberChanged(type="member.joined", user=author_payload(user), by=user.pk))
    return membership


OWNER_CANNOT_LEAVE = (
    "You own this lounge, so you cannot leave it yet: a lounge always has an owner. Open the room, "
    "make another member the owner from the member list (“Make owner…”), then leave."
)


@transaction.atomic
def lounge_leave(*, lounge: Lounge, user: User) -> bool:
    """Leave a lounge. The owner is refused (`owner_cannot_leave`): a lounge without an owner has
    nobody to change roles, so ownership is handed over first (`lounge_ownership_transfer`)."""
    membership = _membership_locked(lounge, user)
    if membership is None or membership.is_banned:
        return False  # a banned member stays recorded as banned
    if membership.role == LoungeRole.OWNER:
        raise LoungeError("owner_cannot_leave", OWNER_CANNOT_LEAVE)
    membership.delete()
    _publish(lounge, MemberChanged(type="member.left", user=author_payload(user), by=user.pk))
    return True


@transaction.atomic
def member_add(*, lounge: Lounge, moderator: User, user: User) -> LoungeMembership:
    """A moderator adds someone from the organisation (members-only and invite lounges)."""
    _require_moderator(lounge, moderator)
    if not user.memberships.filter(organisation=lounge.organisation).exists():
        raise LoungeError("not_found", "No such person in this organisation.")
    membership, created = LoungeMembership.objects.get_or_create(lounge=lounge, user=user)
    if created:
        _audit(moderator, lounge, "member_added", user)
        _publish(lounge, MemberChanged(type="member.joined", user=author_payload(user), by=moderator.pk))
    return membership


@transaction.atomic
def member_role_set(*, lounge: Lounge, owner: User, member: User, role: str) -> LoungeMembership:
    """The owner makes a member a moderator, or a moderator a member again; audited. It publishes
    no event: rights are re-read from the database on every action and in the next snapshot."""
    owner_membership = LoungeMembership.objects.filter(lounge=lounge, user=owner).first()
    if owner_membership is None or owner_membership.role != LoungeRole.OWNER or owner_membership.is_banned:
        raise LoungeError("not_allowed", "Only this lounge's owner can change roles.")
    if role not in (LoungeRole.MEMBER, LoungeRole.MODERATOR):
        raise LoungeError("invalid", "A role is member or moderator.", field="role")
    membership = _membership_locked(lounge, member)
    if membership is None or membership.is_banned:
        raise LoungeError("not_found", "That person is not in this lounge.")
    if membership.role == LoungeRole.OWNER:
        raise LoungeError("not_allowed", "The owner's role cannot change.")
    if membership.role != role:
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        _audit(owner, lounge, "member_role_changed", member, role=role, previous=previous)
    return membership


@transaction.atomic
def lounge_ownership_transfer(*, lounge: Lounge, owner: User, member: User) -> LoungeMembership:
    """The owner hands the lounge to another member, who becomes its owner; the old owner stays as a
    moderator. Audited, and published as two `member.role_changed` events, so both people's open
    pages get their new rights at once. Locks both membership rows, in primary-key order."""
    if member.pk == owner.pk:
        raise LoungeError("invalid", "You already own this lounge.", field="user_id")
    rows = {
        m.user_id: m
        for m in LoungeMembership.objects.select_for_update()
        .filter(lounge=lounge, user_id__in=[owner.pk, member.pk])
        .order_by("pk")
    }
    current = rows.get(owner.pk)
    if current is None or current.role != LoungeRole.OWNER or current.is_banned:
        raise LoungeError("not_allowed", "Only this lounge's owner can hand ownership over.")
    target = rows.get(member.pk)
    if target is None or target.is_banned:
        raise LoungeError("not_found", "That person is not in this lounge.", field="user_id")
    previous = target.role
    current.role = LoungeRole.MODERATOR
    current.save(update_fields=["role", "updated_at"])
    target.role = LoungeRole.OWNER
    target.save(update_fields=["role", "updated_at"])
    _audit(owner, lounge, "ownership_transferred", member, previous=previous, previous_owner=owner.pk)
    _publish(
        lounge, MemberRoleChanged(type="member.role_changed", user=author_payload(member), by=owner.pk, role="owner")
    )
    _publish(
        lounge, MemberRoleChanged(type="member.role_changed", user=author_payload(owner), by=owner.pk, role="moderator")
    )
    return target


@transaction.atomic
def lounge_settings_set(
    *, lounge: Lounge, moderator: User, locked: bool | None = None, slow_mode_seconds: int | None = None
) -> Lounge:
    """Lock/unlock and set slow mode. Locks the lounge row."""
    _require_moderator(lounge, moderator)
    lounge = Lounge.objects.select_for_update().get(pk=lounge.pk)
    changed: dict[str, Any] = {}
    if locked is not None and locked != lounge.is_locked:
        lounge.is_locked = locked
        changed["locked"] = locked
    if slow_mode_seconds is not None:
        if not 0 <= slow_mode_seconds <= 3600:
            raise LoungeError("invalid", "Slow mode is between 0 and 3600 seconds.", field="slow_mode_seconds")
        if slow_mode_seconds != lounge.slow_mode_seconds:
            lounge.slow_mode_seconds = slow_mode_seconds
            changed["slow_mode_seconds"] = slow_mode_seconds
    if changed:
        lounge.save(update_fields=["is_locked", "slow_mode_seconds", "updated_at"])
        _audit(moderator, lounge, "settings_changed", lounge, **changed)
        _publish(
            lounge,
            LoungeUpdated(
                type="lounge.updated",
                locked=lounge.is_locked,
                slow_mode_seconds=lounge.slow_mode_seconds,
                by=moderator.pk,
            ),
        )
    return lounge


# ------------------------------------------------------------------------------------------ messages
def check_can_post(*, lounge: Lounge, membership: LoungeMembership | None, now: datetime) -> LoungeMembership:
    """Bans, mutes, locks and slow mode, enforced on every message from the locked membership row.
    Returns the membership, which is then known to exist."""
    if membership is None:
        raise LoungeError("not_member", "Join the lounge to post.")
    if membership.is_banned:
        raise LoungeError("not_found", "No such lounge.")
    if membership.is_moderator:
        return membership
    if lounge.is_locked:
        raise LoungeError("locked", "The lounge is locked; only moderators can post.")
    if membership.muted_until is not None and membership.muted_until > now:
        raise LoungeError("muted", "You are muted.", retry_after=(membership.muted_until - now).total_seconds())
    if lounge.slow_mode_seconds and membership.last_posted_at is not None:
        ready_at = membership.last_posted_at + timedelta(seconds=lounge.slow_mode_seconds)
        if ready_at > now:
            raise LoungeError(
                "slow_mode",
                f"Slow mode: one message every {lounge.slow_mode_seconds} s.",
                retry_after=(ready_at - now).total_seconds(),
            )
    return membership


@dataclass(frozen=True)
class CoachStart:
    """What a `@coach` mention did: found or started a reply (`reply`, `created`), or was refused
    (`refusal`, e.g. the AI quota). A refused start leaves the post it came with in place."""

    reply: Message | None = None
    created: bool = False
    refusal: LoungeError | None = None


@dataclass(frozen=True)
class MessagePosted:
    """`message_post`'s outcome. `coach` is None when the body does not mention the coach, and for
    a repeat (which posts and summons nothing). `last_posted_at` is the author's, for slow mode."""

    message: Message
    created: bool
    last_posted_at: datetime | None
    coach: CoachStart | None = None


def mention_request_id(client_msg_id: str) -> str:
    """The coach request id of a post's `@coach` mention: a `coach.summon` with it is a repeat."""
    return f"mention-{client_msg_id}"[:64]


@transaction.atomic
def message_post(
    *,
    lounge: Lounge,
    author: User,
    body: str,
    client_msg_id: str,
    reply_to_id: int | None = None,
    summon_coach: bool = False,
) -> MessagePosted:
    """Post a message; idempotent by `client_msg_id` (a repeat returns the first, `created=False`).
    A body that mentions `@coach`, or `summon_coach` (the "Ask the coach" button), also starts a
    coach reply to it, in the same transaction.

    Locks the author's membership row before anything else, so two sockets (or two servers) of one
    person neither beat slow mode nor race one `client_msg_id` into the unique constraint.
    """
    text = check_body(body)
    if not client_msg_id:
        raise LoungeError("invalid", "client_msg_id is required.", field="client_msg_id")
    locked = _membership_locked(lounge, author)
    existing = Message.objects.filter(author=author, client_msg_id=client_msg_id).select_related("lounge").first()
    if existing is not None:
        if existing.lounge_id != lounge.pk:
            raise LoungeError("invalid", "That client_msg_id was used elsewhere.", field="client_msg_id")
        return MessagePosted(
            message=existing, created=False, last_posted_at=locked.last_posted_at if locked is not None else None
        )
    now = timezone.now()
    membership = check_can_post(lounge=lounge, membership=locked, now=now)
    reply_to = None
    if reply_to_id is not None:
        reply_to = Message.objects.filter(lounge=lounge, pk=reply_to_id).first()
        if reply_to is None:
            raise LoungeError("not_found", "The message you reply to is gone.", field="reply_to")
    message = Message.objects.create(
        lounge=lounge,
        author=author,
        author_kind=AuthorKind.USER,
        body=text,
        body_html=render_markdown(text),
        client_msg_id=client_msg_id,
        reply_to=reply_to,
    )
    membership.last_posted_at = now
    membership.save(update_fields=["last_posted_at", "updated_at"])
    _publish(lounge, MessageCreated(type="message.created", message=message_payload(message)))
    notices.notice_mentions(lounge, message, author)
    summoned = summon_coach or COACH_MENTION in text.lower()
    coach = _coach_mention(lounge=lounge, user=author, message=message) if summoned else None
    return MessagePosted(message=message, created=True, last_posted_at=now, coach=coach)


def _coach_mention(*, lounge: Lounge, user: User, message: Message) -> CoachStart:
    """Summon the coach for a post that mentions it, inside `message_post`'s transaction.

    The post passed `check_can_post` a moment ago under the same membership lock, so the summons is
    not checked again: the slow-mode window it would find is the one this very post opened. The AI
    quota still applies; its refusal is returned, not raised, so the post stands (and the refusal's
    usage row is kept, as `ai_quota_check` intends).
    """
    request_id = mention_request_id(message.client_msg_id)
    existing = _coach_reply_existing(lounge=lounge, user=user, request_id=request_id)
    if existing is not None:
        return CoachStart(reply=existing)
    try:
        _coach_admit(lounge=lounge, user=user)
    except LoungeError as refusal:
        return CoachStart(refusal=refusal)
    return CoachStart(
        reply=_coach_reply_create(lounge=lounge, user=user, request_id=request_id, reply_to=message), created=True
    )


@transaction.atomic
def message_edit(*, message: Message, editor: User, body: str) -> Message:
    """The author edits their message; the earlier text is kept as a revision."""
    if message.author_id != editor.pk or message.author_kind != AuthorKind.USER:
        raise LoungeError("not_allowed", "Only the author can edit a message.")
    if not message.is_visible:
        raise LoungeError("not_allowed", "This message was removed by a moderator.")
    text = check_body(body)
    message = Message.objects.select_for_update().get(pk=message.pk)
    if text == message.body:
        return message
    MessageRevision.objects.create(message=message, body=message.body, edited_by=editor)
    message.body = text
    message.body_html = render_markdown(text)
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "body_html", "edited_at", "updated_at"])
    _publish(message.lounge, MessageEdited(type="message.edited", message=message_payload(message)))
    return message


def _moderate(
    message: Message,
    moderator: User,
    event_type: MessageModeratedType | Literal["message.unhidden"],
    reason: str,
    **changes: Any,
) -> Message:
    lounge = message.lounge
    _require_moderator(lounge, moderator)
    locked = Message.objects.select_for_update().get(pk=message.pk)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.save(update_fields=[*changes, "updated_at"])
    _audit(moderator, lounge, event_type.replace(".", "_"), locked, reason=reason, author=locked.author_id)
    event: LoungeEvent
    if event_type == "message.unhidden":  # members never had the hidden text: send it back with the event
        event = MessageUnhidden(
            type=event_type, id=locked.pk, by=moderator.pk, reason=reason, message=message_payload(locked)
        )
    else:
        event = MessageModerated(type=event_type, id=locked.pk, by=moderator.pk, reason=reason)
    _publish(lounge, event)
    return locked


@transaction.atomic
def message_hide(*, message: Message, moderator: User, reason: str) -> Message:
    reason = check_reason(reason)
    if not reason:
        raise LoungeError("invalid", "Say why you hide it.", field="reason")
    if message.status == MessageStatus.STREAMING:
        _cancel_generation(message)
    return _moderate(
        message,
        moderator,
        "message.hidden",
        reason,
        hidden_at=timezone.now(),
        hidden_by=moderator,
        hidden_reason=reason,
    )


@transaction.atomic
def message_unhide(*, message: Message, moderator: User) -> Message:
    return _moderate(message, moderator, "message.unhidden", "", hidden_at=None, hidden_by=None, hidden_reason="")


@transaction.atomic
def message_delete(*, message: Message, moderator: User, reason: str) -> Message:
    """Soft delete: the row (and its revisions) stay for reports and audit; nobody sees the text."""
    reason = check_reason(reason)
    if not reason:
        raise LoungeError("invalid", "Say why you delete it.", field="reason")
    if message.status == MessageStatus.STREAMING:
        _cancel_generation(message)
    return _moderate(message, moderator, "message.deleted", reason, is_deleted=True, pinned_at=None)


@transaction.atomic
def message_pin(*, message: Message, moderator: User) -> Message:
    if not message.is_visible:
        raise LoungeError("invalid", "A hidden message cannot be pinned.")
    return _moderate(message, moderator, "message.pinned", "", pinned_at=timezone.now(), pinned_by=moderator)


@transaction.atomic
def message_unpin(*, message: Message, moderator: User) -> Message:
    return _moderate(message, moderator, "message.unpinned", "", pinned_at=None, pinned_by=None)


# ------------------------------------------------------------------------------------------ members
def _target_membership(lounge: Lounge, moderator: User, member: User) -> LoungeMembership:
    _require_moderator(lounge, moderator)
    membership = _membership_locked(lounge, member)
    if membership is None:
        raise LoungeError("not_found", "That person is not in this lounge.")
    if membership.role == LoungeRole.OWNER or (membership.is_moderator and member.pk != moderator.pk):
        raise LoungeError("not_allowed", "Moderators cannot act on other moderators or the owner.")
    if member.pk == moderator.pk:
        raise LoungeError("not_allowed", "You cannot do that to yourself.")
    return membership


@transaction.atomic
def member_mute(*, lounge: Lounge, moderator: User, member: User, minutes: int, reason: str = "") -> LoungeMembership:
    """Mute a member for `minutes`; the mute lifts itself. Locks the membership row."""
    if not 1 <= minutes <= MAX_MUTE_MINUTES:
        raise LoungeError("invalid", f"A mute lasts 1 to {MAX_MUTE_MINUTES} minutes.", field="minutes")
    membership = _target_membership(lounge, moderator, member)
    membership.muted_until = timezone.now() + timedelta(minutes=minutes)
    membership.save(update_fields=["muted_until", "updated_at"])
    reason = check_reason(reason)
    _audit(moderator, lounge, "member_muted", member, minutes=minutes, reason=reason)
    _publish(
        lounge,
        MemberMuted(
            type="member.muted",
            user=author_payload(member),
            by=moderator.pk,
            until=membership.muted_until.isoformat(),
            reason=reason,
        ),
    )
    notices.notice_muted(lounge, member, minutes=minutes, reason=reason)
    return membership


@transaction.atomic
def member_unmute(*, lounge: Lounge, moderator: User, member: User) -> LoungeMembership:
    membership = _target_membership(lounge, moderator, member)
    membership.muted_until = None
    membership.save(update_fields=["muted_until", "updated_at"])
    _audit(moderator, lounge, "member_unmuted", member)
    _publish(lounge, MemberUnmuted(type="member.unmuted", user=author_payload(member), by=moderator.pk, until=None))
    return membership


@transaction.atomic
def member_kick(*, lounge: Lounge, moderator: User, member: User, reason: str = "") -> None:
    """Remove a member; they may rejoin an open lounge. Their sockets in this lounge close (4404)."""
    membership = _target_membership(lounge, moderator, member)
    membership.delete()
    reason = check_reason(reason)
    _audit(moderator, lounge, "member_kicked", member, reason=reason)
    _publish(lounge, MemberRemoved(type="member.kicked", user=author_payload(member), by=moderator.pk, reason=reason))
    notices.notice_removed(lounge, member, banned=False, reason=reason)


@transaction.atomic
def member_ban(*, lounge: Lounge, moderator: User, member: User, reason: str = "") -> LoungeMembership:
    """Ban a member: they cannot see, join or post until unbanned. Their sockets close (4404)."""
    membership = _target_membership(lounge, moderator, member)
    membership.is_banned = True
    membership.save(update_fields=["is_banned", "updated_at"])
    reason = check_reason(reason)
    _audit(moderator, lounge, "member_banned", member, reason=reason)
    _publish(lounge, MemberRemoved(type="member.banned", user=author_payload(member), by=moderator.pk, reason=reason))
    notices.notice_removed(lounge, member, banned=True, reason=reason)
    return membership


@transaction.atomic
def member_unban(*, lounge: Lounge, moderator: User, member: User) -> None:
    """Lift a ban; the person is no longer a member and may join again."""
    _require_moderator(lounge, moderator)
    membership = _membership_locked(lounge, member)
    if membership is None or not membership.is_banned:
        raise LoungeError("not_found", "That person is not banned here.")
    membership.delete()
    _audit(moderator, lounge, "member_unbanned", member)
    _publish(lounge, MemberChanged(type="member.unbanned", user=author_payload(member), by=moderator.pk))


# ------------------------------------------------------------------------------------------ moderation
ModerationAction = Literal[
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
    "transfer_ownership",
    "lock",
    "unlock",
    "slow_mode",
]

# Each action by what it acts on; every entry calls the one service that does it (and checks rights).
_ON_MESSAGE: dict[str, Callable[[Message, User, str], object]] = {
    "hide": lambda message, moderator, reason: message_hide(message=message, moderator=moderator, reason=reason),
    "unhide": lambda message, moderator, _reason: message_unhide(message=message, moderator=moderator),
    "delete": lambda message, moderator, reason: message_delete(message=message, moderator=moderator, reason=reason),
    "pin": lambda message, moderator, _reason: message_pin(message=message, moderator=moderator),
    "unpin": lambda message, moderator, _reason: message_unpin(message=message, moderator=moderator),
}
_ON_MEMBER: dict[str, Callable[[Lounge, User, User, str, int | None], object]] = {
    "mute": lambda lounge, moderator, member, reason, minutes: member_mute(
        lounge=lounge, moderator=moderator, member=member, minutes=_required(minutes, "minutes"), reason=reason
    ),
    "unmute": lambda lounge, moderator, member, _reason, _minutes: member_unmute(
        lounge=lounge, moderator=moderator, member=member
    ),
    "kick": lambda lounge, moderator, member, reason, _minutes: member_kick(
        lounge=lounge, moderator=moderator, member=member, reason=reason
    ),
    "ban": lambda lounge, moderator, member, reason, _minutes: member_ban(
        lounge=lounge, moderator=moderator, member=member, reason=reason
    ),
    "unban": lambda lounge, moderator, member, _reason, _minutes: member_unban(
        lounge=lounge, moderator=moderator, member=member
    ),
    "transfer_ownership": lambda lounge, owner, member, _reason, _minutes: lounge_ownership_transfer(
        lounge=lounge, owner=owner, member=member
    ),
}
_ON_LOUNGE: dict[str, Callable[[Lounge, User, int | None], object]] = {
    "lock": lambda lounge, moderator, _seconds: lounge_settings_set(lounge=lounge, moderator=moderator, locked=True),
    "unlock": lambda lounge, moderator, _seconds: lounge_settings_set(lounge=lounge, moderator=moderator, locked=False),
    "slow_mode": lambda lounge, moderator, seconds: lounge_settings_set(
        lounge=lounge, moderator=moderator, slow_mode_seconds=_required(seconds, "seconds")
    ),
}


def _required(value: T | None, field: str) -> T:
    if value is None:
        raise LoungeError("invalid", f"{field} is required.", field=field)
    return value


@transaction.atomic
def moderation_apply(
    *,
    lounge: Lounge,
    moderator: User,
    action: ModerationAction,
    message_id: int | None = None,
    user_id: int | None = None,
    minutes: int | None = None,
    seconds: int | None = None,
    reason: str = "",
) -> ModerationAction:
    """One moderation action (the socket's `moderate`), dispatched to its service.

    The target is found first, in this lounge or organisation, so a foreign or missing id answers
    `not_found` whoever asks; the service then checks the moderator's rights and locks what it changes.
    """
    if action in _ON_MESSAGE:
        message = message_get(lounge=lounge, message_id=_required(message_id, "message_id"))
        _ON_MESSAGE[action](message, moderator, reason)
    elif action in _ON_MEMBER:
        member = organisation_member_get(organisation=lounge.organisation, user_id=_required(user_id, "user_id"))
        if member is None:
            raise LoungeError("not_found", "No such person here.", field="user_id")
        _ON_MEMBER[action](lounge, moderator, member, reason, minutes)
    elif action in _ON_LOUNGE:
        _ON_LOUNGE[action](lounge, moderator, seconds)
    else:
        raise LoungeError("invalid", f"Unknown moderation action {action!r}.", field="action")
    return action


# ------------------------------------------------------------------------------------------ reports
@transaction.atomic
def report_create(*, message: Message, reporter: User, reason: str) -> Report:
    """A member reports a message; moderators see it live. One open report per reporter and message."""
    lounge = message.lounge
    membership = LoungeMembership.objects.filter(lounge=lounge, user=reporter, is_banned=False).first()
    if membership is None:
        raise LoungeError("not_member", "Join the lounge to report messages.")
    reason = check_reason(reason)
    if not reason:
        raise LoungeError("invalid", "Say what is wrong with it.", field="reason")
    existing = Report.objects.filter(message=message, reporter=reporter, status=ReportStatus.OPEN).first()
    if existing is not None:
        return existing
    report = Report.objects.create(
        lounge=lounge, message=message, reporter=reporter, reason=reason, reported_body=message.body
    )
    _audit(reporter, lounge, "message_reported", message, reason=reason)
    _publish(lounge, ReportEvent(type="report.created", audience="moderators", report=report_payload(report)))
    return report


@transaction.atomic
def report_resolve(*, report: Report, moderator: User, action: str, note: str = "") -> Report:
    """Dismiss a report, or act on it (hide or delete the message). Locks the report row."""
    if action not in ("dismiss", "hide", "delete"):
        raise LoungeError("invalid", "The action is dismiss, hide or delete.", field="action")
    lounge = report.lounge
    _require_moderator(lounge, moderator)
    report = Report.objects.select_for_update().select_related("message__lounge").get(pk=report.pk)
    if report.status != ReportStatus.OPEN:
        return report
    note = check_reason(note) or f"report {report.pk}: {report.reason}"
    if action == "hide" and report.message.hidden_at is None:
        message_hide(message=report.message, moderator=moderator, reason=note)
    elif action == "delete" and not report.message.is_deleted:
        message_delete(message=report.message, moderator=moderator, reason=note)
    report.status = ReportStatus.DISMISSED if action == "dismiss" else ReportStatus.ACTIONED
    report.handled_by = moderator
    report.handled_at = timezone.now()
    report.resolution = action if action == "dismiss" else f"{action}: {note}"
    report.save(update_fields=["status", "handled_by", "handled_at", "resolution", "updated_at"])
    _audit(moderator, lounge, "report_resolved", report.message, report=report.pk, resolution=action)
    _publish(lounge, ReportEvent(type="report.resolved", audience="moderators", report=report_payload(report)))
    notices.notice_report_resolved(report)
    return report


# ------------------------------------------------------------------------------------------ the coach
def _cancel_generation(message: Message) -> None:
    transaction.on_commit(lambda: chat_cancel(cancel_key=message.cancel_key))


@transaction.atomic
def coach_summon(
    *, lounge: Lounge, user: User, request_id: str, reply_to_id: int | None = None
) -> tuple[Message, bool]:
    """Start a coach reply: a server-owned job on `worker-ai`. Idempotent by (`user`, `request_id`):
    a repeat returns the first reply and starts nothing. Checked like a post (`check_can_post`, but
    it does not start a slow-mode window), then `ai_quota_check`. Locks the summoner's membership row."""
    if not request_id or len(request_id) > 64:
        raise LoungeError("invalid", "request_id is required (at most 64 characters).", field="request_id")
    # Lock first: two servers racing one request_id queue here, and the second finds the first reply.
    membership = _membership_locked(lounge, user)
    existing = _coach_reply_existing(lounge=lounge, user=user, request_id=request_id)
    if existing is not None:
        return existing, False
    check_can_post(lounge=lounge, membership=membership, now=timezone.now())
    _coach_admit(lounge=lounge, user=user)
    reply_to = Message.objects.filter(lounge=lounge, pk=reply_to_id).first() if reply_to_id else None
    return _coach_reply_create(lounge=lounge, user=user, request_id=request_id, reply_to=reply_to), True


def _coach_reply_existing(*, lounge: Lounge, user: User, request_id: str) -> Message | None:
    return Message.objects.filter(lounge=lounge, summoned_by=user, coach_request_id=request_id).first()


def _coach_admit(*, lounge: Lounge, user: User) -> None:
    """The AI quota for one coach start, refused as a `LoungeError("quota")`."""
    ai_quota_admit(
        organisation=lounge.organisation,
        user=user,
        feature="lounge",
        refusal=LoungeError,
        message="You have summoned the coach too often; try again later.",
    )


def _coach_reply_create(*, lounge: Lounge, user: User, request_id: str, reply_to: Message | None) -> Message:
    """The streaming reply row, its `message.created` event and the job, enqueued on commit."""
    from workers import enqueue

    message = Message.objects.create(
        lounge=lounge,
        author=None,
        author_kind=AuthorKind.COACH,
        status=MessageStatus.STREAMING,
        summoned_by=user,
        coach_request_id=request_id,
        reply_to=reply_to,
        provider_label=_coach_label(lounge),
    )
    _publish(lounge, MessageCreated(type="message.created", message=message_payload(message)))
    enqueue("workers.tasks.coach.lounge_reply_task", message.pk)
    return message


def _coach_label(lounge: Lounge) -> str:
    """What the UI shows beside the reply while it streams ("offline coach" with no AI key)."""
    provider = provider_named(lounge.coach_provider) if lounge.coach_provider else None
    return (provider or provider_for(organisation=lounge.organisation, feature="lounge")).label


@transaction.atomic
def coach_stop(*, message: Message, user: User) -> Message:
    """The summoner or a moderator stops a streaming reply; the job closes the provider stream."""
    if message.author_kind != AuthorKind.COACH:
        raise LoungeError("invalid", "Only coach replies can be stopped.")
    if message.summoned_by_id != user.pk:
        _require_moderator(message.lounge, user)
    if message.status == MessageStatus.STREAMING:
        _cancel_generation(message)
    return message
