"""The organisation settings page is one page of sections, one per domain that has settings.

A domain adds its section in one line, from its `AppConfig.ready()` (domains/ai/apps.py does):

    settings_section(key="ai", title="AI", form_class=AISettingsForm, load=ai_defaults_load,
                     save=ai_defaults_save, order=20)

- `form_class` validates the section's fields (a plain Django form; field names are the section's own,
  the page prefixes them with the key).
- `load(organisation)` gives the form's initial values.
- `save(organisation=..., data=...)` is the domain's service: it writes `data` (the form's
  `cleaned_data`) and returns what changed, `{field: [old, new]}`, for the one audit event. It may
  raise `Refusal`; then no section's change is kept (`organisation_settings_update`).

Sections own their storage: accounts keeps `OrganisationSettings`, another domain its own table
(AI keeps `AIFeatureConfig`), so no domain edits another's model to add a field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django import forms

from domains.accounts.models import Organisation


class SectionSave(Protocol):
    def __call__(self, *, organisation: Organisation, data: Mapping[str, Any]) -> dict[str, list[Any]]: ...


@dataclass(frozen=True)
class SettingsSection:
    key: str
    title: str
    form_class: type[forms.Form]
    load: Callable[[Organisation], dict[str, Any]]
    save: SectionSave
    order: int


_SECTIONS: dict[str, SettingsSection] = {}


def settings_section(
    *,
    key: str,
    title: str,
    form_class: type[forms.Form],
    load: Callable[[Organisation], dict[str, Any]],
    save: SectionSave,
    order: int,
) -> SettingsSection:
    """Register a section (idempotent per key, so a reloaded app registers once)."""
    if not key.isidentifier():
        raise ValueError(f"a section key must be an identifier: {key!r}")
    section = SettingsSection(key=key, title=title, form_class=form_class, load=load, save=save, order=order)
    _SECTIONS[key] = section
    return section


def settings_sections() -> list[SettingsSection]:
    """Every registered section, in page order."""
    return sorted(_SECTIONS.values(), key=lambda section: (section.order, section.key))
