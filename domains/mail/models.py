"""Outbound email: one row per message, written in the sender's transaction, delivered by a task."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

SUBJECT_MAX = 255
TAG_MAX = 64


class MailState(models.TextChoices):
    PENDING = "pending", _("Pending: queued or waiting for a retry")
    SENT = "sent", _("Sent: the mail server accepted it")
    FAILED = "failed", _("Failed: retries used up, or refused for good")


class OutboundEmail(models.Model):
    """One email to one address. `organisation` is empty for account mail (verification, password
    reset), which belongs to the person, not to an organisation; `/manage/` shows only its own."""

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="outbound_emails"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbound_emails"
    )
    to = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX)
    text_body = models.TextField(_("text body"))
    html_body = models.TextField(_("HTML body"), blank=True)
    tag = models.CharField(
        _("tag"),
        max_length=TAG_MAX,
        help_text=_('What the mail is: "account.password_reset_key", "notification.<kind>", "notification.digest".'),
    )
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    attachments = models.JSONField(
        _("attachments"),
        default=list,
        blank=True,
        help_text=_(
            'Files sent with the mail, each {"filename", "content", "mimetype"} (text only, such as a calendar '
            "event). Kept after sending: an attachment must hold no secret."
        ),
    )
    holds_secret = models.BooleanField(
        _("holds a secret"),
        default=False,
        help_text=_("The body carries a key or code (password reset, verification): it is blanked once sent."),
    )
    state = models.CharField(_("state"), max_length=10, choices=MailState.choices, default=MailState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        indexes = [models.Index(fields=["state", "created_at"], name="mail_state_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(state=MailState.SENT) | models.Q(sent_at__isnull=False),
                name="mail_sent_has_sent_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tag} to {self.to}: {self.subject}"
