from __future__ import annotations

from typing import Any

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.http import HttpRequest

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

    def clean_display_name(self) -> str:
        name = " ".join(self.cleaned_data["display_name"].split())
        if not name:
            raise forms.ValidationError("Please enter your name.")
        return name

    def save(self, request: HttpRequest) -> User:
        user: User = super().save(request)
        user_signup_complete(user=user, display_name=self.cleaned_data["display_name"], request=request)
        consent_record(user=user, documents=policy_current_list(), request=request)
        return user


class OrganisationSwitchForm(forms.Form):
    organisation_id = forms.IntegerField(min_value=1)


class MemberRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=[], widget=forms.CheckboxSelectMultiple, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = Role.choices  # type: ignore[attr-defined]
