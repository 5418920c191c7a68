"""Notifications: what the product told one person, and how they want to be told by email.

A `Notification` is created only by `services.notify`, inside the caller's transaction; it reaches
the person live on their personal stream (a durable event, so no tab misses it) and, by their
preference for its kind, by email at once or in the daily digest.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from domains.notifications.kinds import Delivery

TITLE_MAX = 200
BODY_MAX = 2000
LINK_MAX = 500


class EmailState(models.TextChoices):
    PENDING = "pending", _("Pending")  # waiting for its email (immediate: queued; digest: the next digest)
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Not emailed")  # the person's preference, the kind, or no address


class LiveState(models.TextChoices):
    PENDING = "pending", _("Pending")  # written, not yet committed
    SENT = "sent", _("Sent")  # on the personal stream (durable: replayed to a tab that was away)


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # The organisation it is about; None for account notices (no tenant). Lists never filter by it:
    # a person sees their own notifications, whichever organisation they are in now.
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=64)
    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField(blank=True, max_length=BODY_MAX)
    link = models.CharField(max_length=LINK_MAX, blank=True, help_text=_("A path on this site."))
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    live_state = models.CharField(max_length=16, choices=LiveState.choices, default=LiveState.PENDING)
    email_state = models.CharField(max_length=16, choices=EmailState.choices, default=EmailState.PENDING)
    email = models.ForeignKey(
        "mail.OutboundEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notif_user_created"),
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notif_user_unread"),
            models.Index(
                fields=["email_state", "created_at"],
                condition=models.Q(email_state="pending", email__isnull=True),
                name="notif_digest_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """One person's choice for one kind. No row: the kind's default."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=64)
    delivery = models.CharField(max_length=16, choices=Delivery.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notifications_preference_user_kind_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.delivery}"


class DigestRun(models.Model):
    """When a person's last digest went out: at most one a day, at their morning."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"digest for {self.user_id} at {self.sent_at:%Y-%m-%d %H:%M}"
