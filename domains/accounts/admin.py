from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from domains.accounts.models import Membership, Organisation, User
from domains.accounts.services import membership_grant, membership_revoke
from domains.common.scoped_admin import OrganisationModelAdmin, OrganisationTabularInline

# Social providers are configured in settings (project/settings/social.py, docs/social-login.md): a
# database SocialApp beside a settings one makes that provider's login fail, and provider tokens are
# not stored (SOCIALACCOUNT_STORE_TOKENS is off). Linked accounts (SocialAccount) stay visible.
admin.site.unregister(SocialApp)
admin.site.unregister(SocialToken)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["organisation", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_active", "is_staff", "created_at"]
    search_fields = ["email", "display_name"]
    list_filter = ["is_active", "is_staff", "memberships__role"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "time_zone")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ["name", "slug"]


class MembershipServiceMixin:
    """Role changes made in an admin go through the services, so they are audited and reach open sockets."""

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            previous = Membership.objects.get(pk=obj.pk)
            membership_revoke(
                organisation=previous.organisation,
                user=previous.user,
                role=previous.role,
                actor=request.user,
                request=request,
            )
        saved = membership_grant(
            organisation=obj.organisation, user=obj.user, role=obj.role, actor=request.user, request=request
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_revoke(
            organisation=obj.organisation, user=obj.user, role=obj.role, actor=request.user, request=request
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for membership in queryset:
            self.delete_model(request, membership)


@admin.register(Membership)
class MembershipAdmin(MembershipServiceMixin, admin.ModelAdmin):
    """The operator's view: every organisation's memberships."""

    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["organisation", "role"]
    search_fields = ["user__email", "user__display_name"]
    autocomplete_fields = ["user", "organisation"]


# ------------------------------------------------------------------ the organisation admin (/manage/)
class OrganisationMembershipInline(OrganisationTabularInline):
    """A member's roles in this organisation only (never their other organisations'). Read-only
    here: roles change in Memberships, through the services."""

    model = Membership
    extra = 0
    fields = ["role", "created_at"]
    readonly_fields = ["role", "created_at"]
    staff_add = staff_change = staff_delete = False


class OrganisationMemberAdmin(OrganisationModelAdmin):
    """The organisation's members. Read-only: a person's identity is theirs and may span several
    organisations, so staff change roles (Memberships), not accounts."""

    organisation_path = "memberships__organisation"
    staff_add = staff_change = staff_delete = False
    ordering = ["display_name", "email"]
    list_display = ["email", "display_name", "is_active", "created_at"]
    search_fields = ["email", "display_name"]
    list_filter = ["is_active"]
    fields = ["email", "display_name", "time_zone", "is_active", "last_login", "date_joined"]
    inlines = [OrganisationMembershipInline]


class OrganisationMembershipAdmin(MembershipServiceMixin, OrganisationModelAdmin):
    """Roles in the session's organisation. A member can be given another role; people outside the
    organisation are not offered (sign-up or an invitation brings them in)."""

    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__display_name"]
    autocomplete_fields = ["user"]
    fields = ["user", "role"]


def register(site: admin.AdminSite) -> None:
    """Register the organisation admins on /manage/'s site (project/admin_site.py builds it)."""
    site.register(User, OrganisationMemberAdmin)
    site.register(Membership, OrganisationMembershipAdmin)
