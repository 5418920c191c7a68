"""Telling people things: `notify` is the only way a notification is created.

    notify(user=member, kind=LOUNGE_MUTED, title=f"You are muted in {lounge.title}",
           body=reason, link=lounge_path, organisation=lounge.organisation)

Call it inside your service's transaction. Nothing reaches anyone unless that transaction commits:
the row, the live event on the person's personal stream (`notification.created`, durable) and, by
the person's preference for the kind, an email at once (queued through `domains.mail`, sent by a
Celery task) or a place in the next daily digest (`digest_send_due`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from domains.accounts.branding import organisation_mail_brand
from domains.accounts.models import Organisation, User
from domains.common.errors import Refusal
from domains.mail.models import OutboundEmail
from domains.mail.services import mail_queue, mail_render, site_url
from domains.notifications.events import NotificationCreated, NotificationsRead
from domains.notifications.kinds import Delivery, NotificationKind, Priority, kind_find, kind_get
from domains.notifications.models import (
    BODY_MAX,
    LINK_MAX,
    TITLE_MAX,
    DigestRun,
    EmailState,
    LiveState,
    Notification,
    NotificationPreference,
)
from domains.notifications.selectors import (
    delivery_for,
    notification_get_for_user,
    notification_payload,
    preferences_for_user,
    unread_count,
)
from realtime.publish import publish_on_commit
from realtime.streams import user_stream

log = structlog.get_logger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
# What the daily digest's own unsubscribe link names: not a kind, but every kind sent by digest.
DIGEST = NotificationKind(
    name="digest", label=gettext_lazy("The daily digest"), priority=Priority.NORMAL, email=True, default=Delivery.DIGEST
)


class NotificationError(Refusal):
    pass


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _checked_link(link: str) -> str:
    """A link is a path on this site: never another host (a notification must not send people off)."""
    if link and (not link.startswith("/") or link.startswith("//") or "\\" in link or len(link) > LINK_MAX):
        raise ValueError(f"a notification link is a path on this site, not {link!r}")
    return link


def unsubscribe_token(*, user: User, kind: str) -> str:
    """A signed token that turns off email for one kind for one person, and nothing else."""
    return signing.dumps({"u": user.pk, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, user: User, kind: str) -> str:
    return site_url(reverse("notifications:unsubscribe", args=[unsubscribe_token(user=user, kind=kind)]))


@transaction.atomic
def notify(
    *,
    user: User,
    kind: NotificationKind | str,
    title: str,
    body: str = "",
    link: str = "",
    organisation: Organisation | None = None,
) -> Notification:
    """Tell `user` something (see the module docstring). `kind` must be registered (`kinds.py`);
    `link` is a path on this site. Over-long text is shortened, never refused: a notice must not
    break the action that sends it."""
    spec = kind_get(str(kind))
    delivery = delivery_for(user=user, kind=spec)
    emailable = delivery != Delivery.OFF and bool(user.email) and user.is_active
    notification = Notification.objects.create(
        user=user,
        organisation=organisation,
        kind=spec.name,
        title=_clip(title, TITLE_MAX) or str(spec.label),
        body=_clip(body, BODY_MAX),
        link=_checked_link(link),
        live_state=LiveState.SENT,  # the durable event below commits with the row
        email_state=EmailState.PENDING if emailable else EmailState.SUPPRESSED,
    )
    publish_on_commit(
        user_stream(user.pk),
        NotificationCreated(
            type="notification.created",
            notification=notification_payload(notification),
            unread=unread_count(user=user),
        ),
    )
    if emailable and delivery == Delivery.IMMEDIATE:
        _email_one(notification, spec)
    return notification


def _email_one(notification: Notification, kind: NotificationKind) -> None:
    user = notification.user
    unsubscribe = unsubscribe_url(user=user, kind=kind.name)
    subject, text, html = mail_render(
        "notifications/email/notification",
        {
            "notification": notification,
            "kind": kind,
            "user": user,
            "brand": organisation_mail_brand(notification.organisation),
            "link_url": site_url(notification.link) if notification.link else "",
            "preferences_url": site_url("/notifications/preferences/"),
            "unsubscribe_url": unsubscribe,
        },
    )
    email = mail_queue(
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        tag=f"notification.{kind.name}",
        user=user,
        organisation=notification.organisation,
        headers=_unsubscribe_headers(unsubscribe),
    )
    notification.email = email
    notification.save(update_fields=["email"])


def _unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: mail clients POST to the link."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


@transaction.atomic
def notification_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again: no change); every tab updates."""
    notification = notification_get_for_user(user=user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _published_read(user, ids=[notification.pk], everything=False)
    return notification


@transaction.atomic
def notifications_read_all(*, user: User) -> int:
    """Mark all the user's notifications read; returns how many were unread."""
    count = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    if count:
        _published_read(user, ids=[], everything=True)
    return count


def _published_read(user: User, *, ids: list[int], everything: bool) -> None:
    publish_on_commit(
        user_stream(user.pk),
        NotificationsRead(type="notification.read", ids=ids, all=everything, unread=unread_count(user=user)),
    )


def _checked_choice(kind: str, delivery: str) -> NotificationKind:
    spec = kind_find(kind)
    if spec is None:
        raise NotificationError("invalid", gettext("No such kind of notification."), field="kind")
    if delivery not in Delivery.values:
        raise NotificationError("invalid", gettext("Choose off, immediate or digest."), field="delivery")
    if not spec.email and delivery != Delivery.OFF:
        raise NotificationError("invalid", gettext("This kind of notification is never emailed."), field="delivery")
    return spec


@transaction.atomic
def preference_set(*, user: User, kind: str, delivery: str) -> NotificationPreference:
    """Choose how one kind's email reaches the user. Refused: an unknown kind, an unknown delivery,
    or email for a kind that is never emailed."""
    spec = _checked_choice(kind, delivery)
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, kind=spec.name, defaults={"delivery": delivery}
    )
    return preference


class PreferencesRefusedError(NotificationError):
    """Some of several choices were refused, so none was saved: `refusals` by the choice's position."""

    def __init__(self, refusals: dict[int, NotificationError]) -> None:
        super().__init__("invalid", gettext("Nothing was saved: some choices are not valid."))
        self.refusals = refusals


@transaction.atomic
def preferences_set(*, user: User, choices: Sequence[tuple[str, str]]) -> None:
    """Save several (kind, delivery) choices: all of them, or, if any is refused, none
    (`PreferencesRefusedError`, naming each refused choice by its position). A kind chosen twice keeps
    the last choice."""
    refusals: dict[int, NotificationError] = {}
    for position, (kind, delivery) in enumerate(choices):
        try:
            _checked_choice(kind, delivery)
        except NotificationError as refusal:
            refusals[position] = refusal
    if refusals:
        raise PreferencesRefusedError(refusals)
    for kind, delivery in choices:
        NotificationPreference.objects.update_or_create(user=user, kind=kind, defaults={"delivery": delivery})


def unsubscribe_read(token: str) -> tuple[User, NotificationKind]:
    """The person and kind an unsubscribe token names; NotificationError for a forged or altered one."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user = User.objects.get(pk=int(data["u"]), is_active=True)
        kind = DIGEST if data["k"] == DIGEST.name else kind_find(str(data["k"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, User.DoesNotExist):
        raise NotificationError("invalid", gettext("This unsubscribe link is not valid.")) from None
    if kind is None:
        raise NotificationError("invalid", gettext("This unsubscribe link is not valid."))
    return user, kind


@transaction.atomic
def unsubscribe(token: str) -> tuple[User, NotificationKind]:
    """Turn off email for the one kind and person the token names (logged out; the token is the proof)."""
    user, kind = unsubscribe_read(token)
    if kind == DIGEST:  # every kind that reaches this person by digest: no more digests
        names = [spec.name for spec, delivery in preferences_for_user(user=user) if delivery == Delivery.DIGEST]
    else:
        names = [kind.name]
    for name in names:
        preference_set(user=user, kind=name, delivery=Delivery.OFF)
    Notification.objects.filter(user=user, kind__in=names, email_state=EmailState.PENDING, email__isnull=True).update(
        email_state=EmailState.SUPPRESSED
    )
    log.info("notifications.unsubscribed", user=user.pk, kind=kind.name)
    return user, kind


def email_settled(sender: object, email: OutboundEmail, **kwargs: object) -> None:
    """`domains.mail` settled a mail: the notifications it carried are now `sent` or `failed`."""
    Notification.objects.filter(email=email).update(email_state=email.state)


# ------------------------------------------------------------------ the daily digest
def _local_now(user: User, now: datetime) -> datetime:
    try:
        zone = ZoneInfo(user.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone)


def digest_due(user: User, now: datetime, last_sent: datetime | None) -> bool:
    """Is it `user`'s digest hour (NOTIFICATIONS_DIGEST_HOUR, their time zone) with no digest in the
    last 20 hours? The hourly task asks this of everyone with something waiting."""
    if _local_now(user, now).hour != settings.NOTIFICATIONS_DIGEST_HOUR:
        return False
    return last_sent is None or now - last_sent >= timedelta(hours=20)


def digest_send_due(now: datetime | None = None) -> int:
    """Send each person whose digest hour it is one email with what waits for the digest; returns how
    many digests were queued. A notification read meanwhile, or whose kind was turned off, is left out."""
    now = now or timezone.now()
    waiting = (
        Notification.objects.filter(email_state=EmailState.PENDING, email__isnull=True, user__is_active=True)
        .values_list("user_id", flat=True)
        .distinct()
    )
    people = list(User.objects.filter(pk__in=list(waiting)))
    last_sent = dict(DigestRun.objects.filter(user__in=people).values_list("user_id", "sent_at"))
    # Asked again under a lock in `_digest_one`; this first look skips everyone not due, unlocked.
    return sum(1 for user in people if digest_due(user, now, last_sent.get(user.pk)) and _digest_one(user, now))


@transaction.atomic
def _digest_one(user: User, now: datetime) -> bool:
    # Two overlapping runs must not both send: lock the person, then ask again.
    User.objects.select_for_update().filter(pk=user.pk).first()
    last = DigestRun.objects.filter(user=user).values_list("sent_at", flat=True).first()
    if not digest_due(user, now, last):
        return False
    pending = list(
        Notification.objects.select_for_update()
        .filter(user=user, email_state=EmailState.PENDING, email__isnull=True)
        .order_by("created_at", "id")
    )
    include: list[Notification] = []
    for notification in pending:
        kind = kind_find(notification.kind)
        wanted = kind is not None and delivery_for(user=user, kind=kind) != Delivery.OFF
        if notification.read_at is None and wanted:
            include.append(notification)
        else:
            notification.email_state = EmailState.SUPPRESSED
            notification.save(update_fields=["email_state"])
    DigestRun.objects.update_or_create(user=user, defaults={"sent_at": now})
    if not include:
        return False
    unsubscribe = unsubscribe_url(user=user, kind=DIGEST.name)
    subject, text, html = mail_render(
        "notifications/email/digest",
        {
            "user": user,
            "notifications": include,
            "count": len(include),
            "local_date": _local_now(user, now).date(),
            "items": [(n, site_url(n.link) if n.link else "") for n in include],
            "preferences_url": site_url("/notifications/preferences/"),
            "notifications_url": site_url("/notifications/"),
            "unsubscribe_url": unsubscribe,
        },
    )
    email = mail_queue(
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        tag="notification.digest",
        user=user,
        headers=_unsubscribe_headers(unsubscribe),
    )
    Notification.objects.filter(pk__in=[n.pk for n in include]).update(email=email)
    return True
