"""What lounges tell people (domains.notifications): the kinds, one line each, and the notices."""

from __future__ import annotations

import re

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from domains.accounts.models import User
from domains.lounges.models import Lounge, LoungeMembership, Message, Report, ReportStatus
from domains.notifications.kinds import Delivery, Priority, notification_kind
from domains.notifications.services import notify

LOUNGE_MENTION = notification_kind("lounge.mention", _("Someone mentions you in a lounge"), priority=Priority.HIGH)
LOUNGE_MUTED = notification_kind("lounge.muted", _("You are muted in a lounge"), priority=Priority.HIGH)
LOUNGE_REMOVED = notification_kind(
    "lounge.removed", _("You are removed or banned from a lounge"), priority=Priority.HIGH, default=Delivery.IMMEDIATE
)
LOUNGE_REPORT_RESOLVED = notification_kind("lounge.report_resolved", _("A report you made was reviewed"))

MENTIONS_MAX = 20  # people notified by one post, at most
EXCERPT_MAX = 280  # of the post, in the notification (the link shows the message as it is now)
_AT_WORD = re.compile(r"(?<![\w@])@([\w.'+\-]+)")


def lounge_path(lounge: Lounge, message: Message | None = None) -> str:
    path = reverse("lounges:room", args=[lounge.slug])
    return f"{path}#msg-{message.pk}" if message is not None else path


def mentioned_members(lounge: Lounge, text: str, *, author: User) -> list[User]:
    """The lounge's members (not banned, not the author) whose public name follows an `@` in `text`,
    case-insensitively and whole: "@Ada Lovelace", "@ada" (an email's local part), "@ada." at the
    end of a sentence. At each `@` the longest name that fits wins, so "@Ada Lovelace" is Ada
    Lovelace and not also a member called "Ada". Candidates are found in SQL by the words after
    the `@`s, so a big lounge costs one bounded query, not a scan of its members."""
    lowered = text.lower()
    words = {match.group(1).rstrip(".'-").lower() for match in _AT_WORD.finditer(text)} - {"coach", ""}
    if not words:
        return []
    by_word = Q()
    for word in sorted(words)[:MENTIONS_MAX]:
        by_word |= Q(user__display_name__istartswith=word) | Q(user__email__istartswith=f"{word}@")
    candidates = [
        membership.user
        for membership in LoungeMembership.objects.filter(by_word, lounge=lounge, is_banned=False, user__is_active=True)
        .exclude(user=author)
        .select_related("user")
        .only("user__id", "user__display_name", "user__email", "user__is_active")[: MENTIONS_MAX * 10]
    ]
    names = sorted(((user.public_name.lower(), user) for user in candidates), key=lambda pair: -len(pair[0]))
    found: dict[int, User] = {}
    for at in re.finditer(r"(?<![\w@])@", lowered):
        rest = lowered[at.end() :]
        for name, user in names:
            if rest.startswith(name) and not re.match(r"\w", rest[len(name) : len(name) + 1]):
                found.setdefault(user.pk, user)
                break
        if len(found) >= MENTIONS_MAX:
            break
    return list(found.values())


def notice_mentions(lounge: Lounge, message: Message, author: User) -> None:
    for user in mentioned_members(lounge, message.body, author=author):
        notify(
            user=user,
            kind=LOUNGE_MENTION,
            title=f"{author.public_name} mentioned you in {lounge.title}",
            body=message.body[:EXCERPT_MAX],
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
