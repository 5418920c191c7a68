from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from domains.accounts.models import TIME_ZONE_CHOICES, Role, SignupPolicy, User
from domains.accounts.selectors import organisation_settings_get, signup_allowed, signup_organisation
from domains.accounts.services import (
    NAME_MAX,
    SLUG_MAX,
    check_colour,
    check_email_domain,
    check_organisation_name,
    check_organisation_slug,
    check_time_zone,
    logo_max_bytes,
    user_signup_complete,
)
from domains.common.errors import Refusal
from domains.common.uploads import IMAGE_KINDS, validate_upload
from domains.compliance.services import consent_record, policy_current_list


class SignupForm(AllauthSignupForm):
    """allauth's sign-up, plus a display name and consent to the current privacy policy and terms."""

    display_name = forms.CharField(
        max_length=80, required=True, label="Your name", help_text="Shown to others in lounges."
    )
    accept_policies = forms.BooleanField(
        required=True,
        label="I have read and accept the privacy policy and the terms of use.",
        error_messages={"required": "You need to accept the privacy policy and the terms to sign up."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accept_policies"].label = consent_label()

    def clean_display_name(self) -> str:
        return clean_name(self.cleaned_data["display_name"])

    def clean_email(self) -> str:
        """The sign-up organisation's policy (its settings page), before any account exists."""
        email: str = super().clean_email()
        organisation = signup_organisation()
        if organisation is not None and not signup_allowed(organisation=organisation, email=email):
            policy = organisation_settings_get(organisation=organisation)
            if policy.signup_policy == SignupPolicy.INVITE_ONLY:
                raise forms.ValidationError(
                    f"{organisation.name} is invite only: ask its staff for an invitation.", code="invite_only"
                )
            raise forms.ValidationError(
                f"{organisation.name} accepts sign-ups only from addresses at {policy.signup_email_domain}.",
                code="email_domain",
            )
        return email

    def save(self, request: HttpRequest) -> User:
        user: User = super().save(request)
        user_signup_complete(user=user, display_name=self.cleaned_data["display_name"], request=request)
        consent_record(user=user, documents=policy_current_list(), request=request)
        return user


def clean_name(value: str) -> str:
    """A person's name as typed, with runs of spaces collapsed; refused when nothing is left."""
    name = " ".join(value.split())
    if not name:
        raise forms.ValidationError("Please enter your name.")
    return name


def consent_label() -> str:
    """The consent box's label (sign-up, accepting an invitation): the documents it accepts, one
    click away; a new tab keeps what was typed."""
    return format_html(
        'I have read and accept the <a href="{}" target="_blank" rel="noopener">privacy policy</a>'
        ' and the <a href="{}" target="_blank" rel="noopener">terms of use</a>.',
        reverse("compliance:policy", args=["privacy"]),
        reverse("compliance:policy", args=["terms"]),
    )


class AccountSettingsForm(forms.ModelForm):
    """The person's own profile: the name others see and the time zone times are shown in."""

    class Meta:
        model = User
        fields = ["display_name", "time_zone"]
        labels = {"display_name": "Your name", "time_zone": "Time zone"}
        help_texts = {
            "display_name": "Shown to others in lounges.",
            "time_zone": "Where you are, e.g. Europe/Berlin.",
        }
        error_messages = {"time_zone": {"invalid_choice": "Choose a time zone from the list."}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["display_name"].required = True

    def clean_display_name(self) -> str:
        return clean_name(self.cleaned_data["display_name"])

    def save(self, commit: bool = True) -> User:
        user: User = super().save(commit=False)
        if commit:
            user.save(update_fields=["display_name", "time_zone", "updated_at"])
        return user


class OrganisationSwitchForm(forms.Form):
    organisation_id = forms.IntegerField(min_value=1)


class MemberRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=[], widget=forms.CheckboxSelectMultiple, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = Role.choices  # type: ignore[attr-defined]


def _checked(check: Callable[[str], str], value: str) -> str:
    """A service's check as a form field's validation: the same rule, the same message."""
    try:
        return check(value)
    except Refusal as refusal:
        raise forms.ValidationError(refusal.message, code=refusal.code) from None


class OrganisationCreateForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, label="Organisation name", help_text="Your school, company or team.")
    slug = forms.CharField(
        max_length=SLUG_MAX,
        label="Address",
        help_text="Lowercase letters, digits and hyphens; used in its public pages' addresses (/o/your-address/).",
    )

    def clean_name(self) -> str:
        return _checked(check_organisation_name, self.cleaned_data["name"])

    def clean_slug(self) -> str:
        return _checked(check_organisation_slug, self.cleaned_data["slug"])


class OrganisationGeneralForm(forms.Form):
    """The settings page's General section (accounts): what the organisation is called and looks like,
    who may sign up, and its time zone. Saved by `organisation_general_save`."""

    name = forms.CharField(max_length=NAME_MAX, label="Name")
    logo = forms.FileField(
        required=False,
        label="Logo",
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    logo_clear = forms.BooleanField(required=False, label="Remove the logo")
    primary_colour = forms.CharField(
        max_length=7, required=False, label="Primary colour", help_text="#rrggbb; empty: Coachwire's own."
    )
    accent_colour = forms.CharField(
        max_length=7,
        required=False,
        label="Accent colour",
        help_text="#rrggbb, links and buttons; empty: Coachwire's own.",
    )
    signup_policy = forms.ChoiceField(choices=SignupPolicy.choices, label="Who may sign up")
    signup_email_domain = forms.CharField(
        max_length=253, required=False, label="Email domain", help_text="For the email domain policy, e.g. example.org."
    )
    time_zone = forms.ChoiceField(
        choices=TIME_ZONE_CHOICES,
        label="Time zone",
        error_messages={"invalid_choice": "Choose a time zone from the list."},
    )

    def clean_name(self) -> str:
        return _checked(check_organisation_name, self.cleaned_data["name"])

    def clean_primary_colour(self) -> str:
        return _checked(lambda v: check_colour(v, field="primary_colour"), self.cleaned_data["primary_colour"])

    def clean_accent_colour(self) -> str:
        return _checked(lambda v: check_colour(v, field="accent_colour"), self.cleaned_data["accent_colour"])

    def clean_signup_email_domain(self) -> str:
        return _checked(check_email_domain, self.cleaned_data["signup_email_domain"])

    def clean_time_zone(self) -> str:
        return _checked(check_time_zone, self.cleaned_data["time_zone"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "logo"
        ].help_text = f"PNG, JPEG or WebP, at most {logo_max_bytes() // 1024} KiB. Shown in the header and in emails."

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if logo:
            try:
                validate_upload(logo, kinds=IMAGE_KINDS, max_bytes=logo_max_bytes())
            except Refusal as refusal:
                raise forms.ValidationError(refusal.message, code=refusal.code) from None
        return logo

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("signup_policy") == SignupPolicy.EMAIL_DOMAIN
            and not data.get("signup_email_domain")
            and "signup_email_domain" not in self.errors
        ):
            self.add_error("signup_email_domain", "Enter the email domain people must sign up with.")
        return data
