from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from domains.ai.models import AIFeatureConfig, AIUsage
from domains.common.scoped_admin import OrganisationModelAdmin


@admin.register(AIFeatureConfig)
class AIFeatureConfigAdmin(admin.ModelAdmin):
    list_display = (
        "organisation",
        "feature_label",
        "provider",
        "model",
        "temperature",
        "max_tokens",
        "requests_per_hour_per_user",
        "tokens_per_day_per_org",
        "updated_at",
    )
    list_filter = ("provider", "feature")
    search_fields = ("organisation__name", "organisation__slug", "model")
    autocomplete_fields = ("organisation",)
    fieldsets = (
        (None, {"fields": ("organisation", "feature")}),
        ("Provider", {"fields": ("provider", "model", "temperature", "max_tokens")}),
        (
            "Quotas",
            {
                "fields": ("requests_per_hour_per_user", "tokens_per_day_per_org"),
                "description": "Empty inherits (feature → organisation default → environment); 0 means unlimited.",
            },
        ),
    )

    @admin.display(description="feature", ordering="feature")
    def feature_label(self, obj: AIFeatureConfig) -> str:
        return obj.get_feature_display() if obj.feature else "all features (default)"


@admin.register(AIUsage)
class AIUsageAdmin(admin.ModelAdmin):
    """Read-only: usage rows are an append-only ledger."""

    list_display = (
        "created_at",
        "organisation",
        "user",
        "feature",
        "provider",
        "model",
        "tokens_in",
        "tokens_out",
        "ttft_ms",
        "total_ms",
        "attempts",
        "outcome",
    )
    list_filter = ("outcome", "feature", "provider")
    search_fields = ("organisation__name", "user__email", "model", "detail")
    date_hierarchy = "created_at"
    list_select_related = ("organisation", "user")
    raw_id_fields = ("organisation", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AIUsage | None = None) -> bool:
        return False


# ------------------------------------------------------------------ the organisation admin (/manage/)
class OrganisationAIFeatureConfigAdmin(OrganisationModelAdmin, AIFeatureConfigAdmin):
    """The session's organisation's AI settings and quotas, read-only: providers, models and quotas
    spend the installation's keys, so the operator (and later the billing plan) sets them."""

    staff_add = staff_change = staff_delete = False

    autocomplete_fields = ()  # type: ignore[assignment]  # no organisation to choose
    search_fields = ("model",)  # type: ignore[assignment]


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(AIFeatureConfig, OrganisationAIFeatureConfigAdmin)
