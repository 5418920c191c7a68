"""The AI section of the organisation settings page: the default provider and model for every AI
feature, kept where the AI layer reads them, the organisation's blank-feature `AIFeatureConfig` row
(per-feature rows, temperature and quotas stay on /manage/). Registered in `AiConfig.ready`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms

from domains.accounts.models import Organisation
from domains.ai.models import AIFeatureConfig, AIProviderName
from domains.common.errors import Refusal

MODEL_MAX = 100
# Model names as the providers and OpenAI-compatible servers spell them: gpt-4o-mini,
# claude-sonnet-4-5, meta-llama/Llama-3.1-8B-Instruct, llama3.1:8b.
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_PROVIDER_CHOICES = [("", "Automatic: by the keys that are set"), *AIProviderName.choices]


def check_model_name(value: str) -> str:
    model = value.strip()
    if model and (len(model) > MODEL_MAX or not _MODEL.match(model)):
        raise Refusal(
            "invalid_model",
            "Use the model's name as the provider spells it: letters, digits and . _ : / @ + -.",
            field="model",
        )
    return model


class AISettingsForm(forms.Form):
    provider = forms.ChoiceField(
        choices=_PROVIDER_CHOICES,
        required=False,
        label="Default AI provider",
        error_messages={"invalid_choice": "Choose a provider from the list."},
    )
    model = forms.CharField(
        max_length=MODEL_MAX, required=False, label="Default model", help_text="Empty: the provider's default model."
    )

    def clean_model(self) -> str:
        try:
            return check_model_name(self.cleaned_data["model"])
        except Refusal as refusal:
            raise forms.ValidationError(refusal.message, code=refusal.code) from None


def ai_defaults_load(organisation: Organisation) -> dict[str, Any]:
    row = AIFeatureConfig.objects.filter(organisation=organisation, feature="").first()
    return {"provider": row.provider if row else "", "model": row.model if row else ""}


def ai_defaults_save(*, organisation: Organisation, data: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Write the blank-feature row's provider and model (created on first change). The caller holds
    the transaction (organisation_settings_update). Returns `{field: [old, new]}`."""
    provider = str(data.get("provider") or "")
    if provider and provider not in AIProviderName.values:
        raise Refusal("invalid_provider", "Choose a provider from the list.", field="provider")
    model = check_model_name(str(data.get("model") or ""))
    row = AIFeatureConfig.objects.select_for_update().filter(organisation=organisation, feature="").first()
    old = {"provider": row.provider if row else "", "model": row.model if row else ""}
    changes = {name: [old[name], new] for name, new in (("provider", provider), ("model", model)) if old[name] != new}
    if not changes:
        return {}
    if row is None:
        AIFeatureConfig.objects.create(organisation=organisation, feature="", provider=provider, model=model)
    else:
        row.provider, row.model = provider, model
        row.save(update_fields=["provider", "model", "updated_at"])
    return changes
