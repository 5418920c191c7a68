"""Django's admin (/admin/, platform operators only): personal access tokens, read only. Their
owners create and revoke them at /account/tokens/ (audited); the hash is not shown."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from domains.tokens.models import PersonalAccessToken


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "organisation", "scope", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix", "user__email"]
    fields = (
        "name",
        "prefix",
        "user",
        "organisation",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = fields
    list_select_related = ["user", "organisation"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PersonalAccessToken | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PersonalAccessToken | None = None) -> bool:
        return False
