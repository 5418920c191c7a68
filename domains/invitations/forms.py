from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from domains.accounts.forms import clean_name, consent_label
from domains.accounts.models import Role, User


class InvitationForm(forms.Form):
    """Whom to invite, with one of the roles this inviter may give (`rules.roles_invitable`)."""

    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=[])

    def __init__(self, *args: Any, roles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(value, label) for value, label in Role.choices if value in roles]  # type: ignore[attr-defined]
        if len(roles) == 1:
            self.fields["role"].initial = roles[0]


class AcceptSignupForm(forms.Form):
    """A new person joining by invitation: their name, a password, and consent. The address is the
    invitation's, so it is not asked for."""

    display_name = forms.CharField(max_length=80, label=_("Your name"), help_text=_("Shown to others in lounges."))
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput(render_value=False))
    password2 = forms.CharField(
        label=_("Password (again)"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    accept_policies = forms.BooleanField(
        required=True,
        label=_("I have read and accept the privacy policy and the terms of use."),
        error_messages={"required": _("You need to accept the privacy policy and the terms to join.")},
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email
        self.fields["accept_policies"].label = consent_label()

    def clean_display_name(self) -> str:
        return clean_name(self.cleaned_data["display_name"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            try:
                password_validation.validate_password(first, User(email=self.email))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
