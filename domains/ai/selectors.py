"""Reads for the AI layer: the resolved configuration of a feature, its quota limits, usage so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Sum
from django.utils import timezone

from domains.accounts.models import Organisation
from domains.ai.models import AIFeatureConfig, AIUsage


@dataclass(frozen=True)
class FeatureSettings:
    """A feature's configuration for one organisation, with every inherited value filled in."""

    provider: str  # "" = choose by the keys that are set
    model: str  # "" = the provider's default
    temperature: float | None
    max_tokens: int
    requests_per_hour_per_user: int  # 0 = unlimited
    tokens_per_day_per_org: int  # 0 = unlimited


@dataclass(frozen=True)
class QuotaLimits:
    requests_per_hour_per_user: int  # 0 = unlimited
    tokens_per_day_per_org: int  # 0 = unlimited


def ai_feature_settings(*, organisation: Organisation | None, feature: str) -> FeatureSettings:
    """Feature row → the organisation's blank-feature row → settings (one query)."""
    rows: dict[str, AIFeatureConfig] = {}
    if organisation is not None:
        rows = {
            row.feature: row
            for row in AIFeatureConfig.objects.filter(organisation=organisation, feature__in=[feature, ""])
        }
    chain = [row for row in (rows.get(feature), rows.get("")) if row is not None]

    def pick(name: str, default: Any) -> Any:
        for row in chain:
            value = getattr(row, name)
            if value is not None and value != "":
                return value
        return default

    temperature = pick("temperature", settings.AI_TEMPERATURE)
    return FeatureSettings(
        provider=pick("provider", settings.AI_DEFAULT_PROVIDER or ""),
        model=pick("model", ""),
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=int(pick("max_tokens", settings.AI_MAX_TOKENS)),
        requests_per_hour_per_user=int(pick("requests_per_hour_per_user", settings.AI_QUOTA_REQUESTS_PER_HOUR)),
        tokens_per_day_per_org=int(pick("tokens_per_day_per_org", settings.AI_QUOTA_TOKENS_PER_DAY)),
    )


def ai_quota_limits(*, organisation: Organisation | None, feature: str) -> QuotaLimits:
    """The one place quota limits are looked up (billing plans will hook in here)."""
    resolved = ai_feature_settings(organisation=organisation, feature=feature)
    return QuotaLimits(
        requests_per_hour_per_user=resolved.requests_per_hour_per_user,
        tokens_per_day_per_org=resolved.tokens_per_day_per_org,
    )


def utc_day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start of today and of tomorrow, in UTC (quota days are UTC days)."""
    now = now or timezone.now()
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def ai_tokens_used_today(*, organisation: Organisation, now: datetime | None = None) -> int:
    """Tokens in + out recorded for the organisation since UTC midnight, every feature together."""
    start, _ = utc_day_bounds(now)
    total = AIUsage.objects.filter(organisation=organisation, created_at__gte=start).aggregate(
        total=Sum(F("tokens_in") + F("tokens_out"))
    )["total"]
    return int(total or 0)
