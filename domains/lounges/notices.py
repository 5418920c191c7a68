"""What lounges tell people (domains.notifications): the kinds, one line each, and the notices."""

from __future__ import annotations

import re

from django.urls import reverse

from domains.accounts.models import User
from domains.lounges.models import Lounge, LoungeMembership, Message, Report, ReportStatus
from domains.notifications.kinds import Delivery, Priority, notification_kind
from domains.notifications.services import notify

LOUNGE_MENTION = notification_kind("lounge.mention", "Someone mentions you in a lounge", priority=Priority.HIGH)
LOUNGE_MUTED = notification_kind("lounge.muted", "You are muted in a lounge", priority=Priority.HIGH)
LOUNGE_REMOVED = notification_kind(
    "lounge.removed", "You are removed or banned from a lounge", priority=Priority.HIGH, default=Delivery.IMMEDIATE
)
LOUNGE_REPORT_RESOLVED = notification_kind("lounge.report_resolved", "A report you made was reviewed")

MENTIONS_MAX = 20  # people notified by one post, at most
_AT_WORD = re.compile(r"(?<![\w@])@([\w.\-]+)")


def lounge_path(lounge: Lounge, message: Message | None = None) -> str:
    path = reverse("lounges:room", args=[lounge.slug])
    return f"{path}#msg-{message.pk}" if message is not None else path


def mentioned_members(lounge: Lounge, text: str, *, author: User) -> list[User]:
    """The lounge's members (not banned, not the author) whose public name follows an `@` in `text`,
    matched case-insensitively and whole: "@Ada Lovelace", "@ada" (an email's local part)."""
    words = {match.group(1).lower() for match in _AT_WORD.finditer(text)} - {"coach"}
    if not words:
        return []
    memberships = (
        LoungeMembership.objects.filter(lounge=lounge, is_banned=False)
        .exclude(user=author)
        .select_related("user")
        .only("user__id", "user__display_name", "user__email", "user__is_active")
    )
    lowered = text.lower()
    found: list[User] = []
    for membership in memberships.iterator(chunk_size=500):
        user = membership.user
        name = user.public_name.lower()
        if name.split(" ", 1)[0].rstrip(".-") not in words and name not in words:
            continue
        if re.search(rf"(?<![\w@])@{re.escape(name)}(?![\w])", lowered) and user.is_active:
            found.append(user)
            if len(found) >= MENTIONS_MAX:
                break
    return found


def notice_mentions(lounge: Lounge, message: Message, author: User) -> None:
    for user in mentioned_members(lounge, message.body, author=author):
        notify(
            user=user,
            kind=LOUNGE_MENTION,
            title=f"{author.public_name} mentioned you in {lounge.title}",
            body=message.body,
            link=lounge_path(lounge, message),
            organisation=lounge.organisation,
        )


def notice_muted(lounge: Lounge, member: User, *, minutes: int, reason: str) -> None:
    body = f"For {minutes} minute{'s' if minutes != 1 else ''}." + (f" Reason: {reason}" if reason else "")
    notify(
        user=member,
        kind=LOUNGE_MUTED,
        title=f"You are muted in {lounge.title}",
        body=body,
        link=lounge_path(lounge),
        organisation=lounge.organisation,
    )


def notice_removed(lounge: Lounge, member: User, *, banned: bool, reason: str) -> None:
    verb = "banned from" if banned else "removed from"
    notify(
        user=member,
        kind=LOUNGE_REMOVED,
        title=f"You were {verb} {lounge.title}",
        body=f"Reason: {reason}" if reason else "",
        link="" if banned else reverse("lounges:directory"),
        organisation=lounge.organisation,
    )


def notice_report_resolved(report: Report) -> None:
    if report.reporter is None:  # the reporter's account is gone
        return
    lounge = report.lounge
    dismissed = report.status == ReportStatus.DISMISSED
    outcome = "The moderators found nothing to act on." if dismissed else "The moderators acted on the message."
    notify(
        user=report.reporter,
        kind=LOUNGE_REPORT_RESOLVED,
        title=f"Your report in {lounge.title} was reviewed",
        body=outcome,
        link=lounge_path(lounge),
        organisation=lounge.organisation,
    )
