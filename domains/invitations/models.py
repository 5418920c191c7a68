"""Invitations: a person asked by email to join an organisation with a role.

The link's secret is stored only as its SHA-256, so reading the table cannot forge a link; the link
itself is signed as well (`services.invitation_token`), so it also needs SECRET_KEY.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from domains.accounts.models import Role


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REVOKED = "revoked", _("Revoked")


class Invitation(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(_("email address"), help_text=_("Stored in lower case."))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    secret_hash = models.CharField(max_length=64, help_text=_("SHA-256 of the link's secret, hex."))
    # Work waiting for the invitee: [{"kind": <registered in assignments.py>, "data": {...}}].
    pending = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    sent_count = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(status="pending"),
                name="invitations_one_pending_per_email",
            ),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitations_role_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=InvitationStatus.values), name="invitations_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="invitations_email_lower"),
        ]
        indexes = [models.Index(fields=["organisation", "status", "-created_at"], name="invitations_org_status")]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.status == InvitationStatus.PENDING and self.expires_at <= timezone.now()
