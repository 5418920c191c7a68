"""An organisation's look where people meet it: the header of its pages and the mail it sends."""

from __future__ import annotations

from django.urls import reverse

from domains.accounts.models import Organisation
from domains.accounts.selectors import organisation_settings_get
from domains.mail.services import site_url


def organisation_brand(organisation: Organisation | None) -> dict[str, str] | None:
    """The logo and theme stylesheet addresses for the header, versioned by the settings row's
    change time so browsers may cache them for long; None without an organisation."""
    if organisation is None:
        return None
    row = organisation_settings_get(organisation=organisation)
    if row.pk is None:
        return {"logo_url": "", "theme_url": ""}
    version = f"?v={int(row.updated_at.timestamp())}"
    return {
        "logo_url": reverse("accounts:organisation_logo", args=[organisation.slug]) + version if row.logo else "",
        "theme_url": reverse("accounts:organisation_theme", args=[organisation.slug]) + version
        if row.primary_colour or row.accent_colour
        else "",
    }


def organisation_mail_brand(organisation: Organisation | None) -> dict[str, str] | None:
    """What `mail/base.html` shows for mail sent on an organisation's behalf: its name, its logo (an
    absolute address: mail clients have no page to resolve a path against) and its primary colour
    as the header's rule. None without an organisation: the layout then shows the site's name."""
    if organisation is None:
        return None
    brand = organisation_brand(organisation) or {}
    row = organisation_settings_get(organisation=organisation)
    return {
        "name": organisation.name,
        "logo_url": site_url(brand["logo_url"]) if brand.get("logo_url") else "",
        "colour": row.primary_colour or "",
    }
