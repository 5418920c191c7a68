from django import forms


class ConsentForm(forms.Form):
    accept_policies = forms.BooleanField(
        required=True,
        label="I have read and accept these documents.",
        error_messages={"required": "Tick the box to accept, or sign out."},
    )
