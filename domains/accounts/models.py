from __future__ import annotations

import zoneinfo

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    LEARNER = "learner", "Learner"
    CANDIDATE = "candidate", "Candidate"
    MENTOR = "mentor", "Mentor"
    STAFF = "staff", "Staff"
    CASHIER = "cashier", "Cashier"
    REGISTRAR = "registrar", "Registrar"


TIME_ZONE_CHOICES = sorted((tz, tz) for tz in zoneinfo.available_timezones())


class OrganisationPlan(models.TextChoices):
    """The flag until billing: billing's plans will add their values and set it."""

    FREE = "free", "Free"


class SignupPolicy(models.TextChoices):
    OPEN = "open", "Open: anyone may sign up"
    INVITE_ONLY = "invite_only", "Invite only"
    EMAIL_DOMAIN = "email_domain", "Only addresses at our email domain"


COLOUR_PATTERN = r"^#[0-9a-f]{6}$"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person. Logs in by email; `is_staff` only opens the Django admin."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]

    objects = UserManager()  # type: ignore[misc,assignment]

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def public_name(self) -> str:
        """What other people see: never the email address."""
        return self.display_name or self.email.split("@", 1)[0]


class Organisation(models.Model):
    """A school, company or team: the tenant every owned row belongs to."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(default=True)
    plan = models.CharField(max_length=16, choices=OrganisationPlan.choices, default=OrganisationPlan.FREE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(plan__in=OrganisationPlan.values), name="accounts_org_plan_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OrganisationSettings(models.Model):
    """The organisation's own settings, one row each, created on first use. Accounts' fields are here;
    other domains keep theirs in their own tables and join the one settings page as sections
    (domains/accounts/settings_sections.py). Blank colours mean the product's own."""

    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="settings")
    logo = models.FileField(max_length=200, blank=True)  # named by domains.common.uploads.store_upload
    primary_colour = models.CharField(max_length=7, blank=True)
    accent_colour = models.CharField(max_length=7, blank=True)
    signup_policy = models.CharField(max_length=16, choices=SignupPolicy.choices, default=SignupPolicy.OPEN)
    signup_email_domain = models.CharField(max_length=253, blank=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation"]
        verbose_name = "organisation settings"
        verbose_name_plural = "organisation settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(signup_policy__in=SignupPolicy.values), name="accounts_orgsettings_policy_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(signup_policy=SignupPolicy.EMAIL_DOMAIN) | ~models.Q(signup_email_domain=""),
                name="accounts_orgsettings_domain_required",
            ),
            models.CheckConstraint(
                condition=models.Q(primary_colour="") | models.Q(primary_colour__regex=COLOUR_PATTERN),
                name="accounts_orgsettings_primary_colour_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(accent_colour="") | models.Q(accent_colour__regex=COLOUR_PATTERN),
                name="accounts_orgsettings_accent_colour_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Settings of {self.organisation_id}"


class Membership(models.Model):
    """One role a user holds in an organisation; a user may hold several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "user", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="accounts_membership_unique_role"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="accounts_membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} @ {self.organisation}"


class MemberSuspension(models.Model):
    """A member staff deactivated: their roles are taken away (so no access check anywhere needs to
    know about suspensions) and kept here, so reactivating gives back exactly what they held."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="suspensions")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="suspensions")
    roles = ArrayField(models.CharField(max_length=16, choices=Role.choices), size=len(Role.values))
    suspended_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="Who deactivated them."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="accounts_suspension_one_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user} deactivated @ {self.organisation}"
