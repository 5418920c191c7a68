"""Personal access tokens: a named, scoped, expiring secret a person gives a script.

The secret is shown once, at creation, and stored only as its SHA-256 (`secret_hash`): the secret
has 256 bits of entropy, so a plain digest cannot be reversed or guessed, and reading the table
never yields a usable token. `prefix` (the token's first characters) is kept to recognise it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")


class PersonalAccessToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    scope = models.CharField(_("scope"), max_length=8, choices=TokenScope.choices)
    prefix = models.CharField(max_length=16, help_text=_("The token's first characters, to recognise it."))
    secret_hash = models.CharField(max_length=64, unique=True, help_text=_("SHA-256 of the whole token, hex."))
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=TokenScope.values), name="tokens_pat_scope_valid"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="tokens_pat_expires"
            ),
        ]
        indexes = [models.Index(fields=["user", "organisation", "-created_at"], name="tokens_pat_owner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired
