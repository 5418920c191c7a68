"""What interviews tell people (domains.notifications): a member hears when an assessment is
assigned to them (an invitee learns it from the invitation mail instead, which carries the .ics)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from domains.accounts.models import User
from domains.interviews.models import InterviewAssignment
from domains.notifications.kinds import Priority, notification_kind
from domains.notifications.services import notify

ASSIGNED = notification_kind(
    "interviews.assigned", gettext_lazy("An interview was assigned to you"), priority=Priority.HIGH
)


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def notice_assigned(*, assignment: InterviewAssignment, candidate: User) -> None:
    """Tell the candidate the template, the window (in their time zone) and the attempts."""
    zone = _zone(candidate)
    opens = timezone.localtime(assignment.opens_at, zone).strftime("%d %b %Y, %H:%M")
    closes = timezone.localtime(assignment.closes_at, zone).strftime("%d %b %Y, %H:%M")
    notify(
        user=candidate,
        kind=ASSIGNED,
        title=gettext("Interview assessment: %(title)s") % {"title": assignment.template.title},
        body=gettext("Open from %(opens)s to %(closes)s (%(zone)s); %(attempts)d attempt(s) allowed.")
        % {"opens": opens, "closes": closes, "zone": zone.key, "attempts": assignment.attempts_allowed},
        link=f"{reverse('interviews:assignments')}#assignment-{assignment.pk}",
        organisation=assignment.organisation,
    )
