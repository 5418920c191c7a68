from __future__ import annotations

from typing import Any

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from domains.accounts.models import Role, User
from domains.accounts.services import user_signup_complete
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
        # The documents the box accepts, one click away; a new tab keeps what was typed here.
        self.fields["accept_policies"].label = format_html(
            'I have read and accept the <a href="{}" target="_blank" rel="noopener">privacy policy</a>'
            ' and the <a href="{}" target="_blank" rel="noopener">terms of use</a>.',
            reverse("compliance:policy", args=["privacy"]),
            reverse("compliance:policy", args=["terms"]),
        )

    def clean_display_name(self) -> str:
        return _clean_name(self.cleaned_data["display_name"])

    def save(self, request: HttpRequest) -> User:
        user: User = super().save(request)
        user_signup_complete(user=user, display_name=self.cleaned_data["display_name"], request=request)
        consent_record(user=user, documents=policy_current_list(), request=request)
        return user


def _clean_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise forms.ValidationError("Please enter your name.")
    return name


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
        return _clean_name(self.cleaned_data["display_name"])

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
