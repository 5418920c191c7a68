from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from domains.tokens.models import TokenScope
from domains.tokens.services import PAT_NAME_MAX

EXPIRY_CHOICES = [(7, _("7 days")), (30, _("30 days")), (90, _("90 days")), (366, _("1 year"))]


class TokenCreateForm(forms.Form):
    """Shape only; the service (`pat_check`) holds the rules and their messages."""

    name = forms.CharField(
        label=_("Name"), max_length=PAT_NAME_MAX, help_text=_("What it is for, e.g. the script that uses it.")
    )
    scope = forms.ChoiceField(label=_("Access"), choices=TokenScope.choices, initial=TokenScope.READ)
    expires_in_days = forms.TypedChoiceField(label=_("Expires after"), choices=EXPIRY_CHOICES, coerce=int, initial=30)
