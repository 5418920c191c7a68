from django.urls import path

from domains.accounts import views

app_name = "accounts"

urlpatterns = [
    path("settings/", views.account_settings_view, name="settings"),
    path("organisation/switch/", views.organisation_switch_view, name="organisation_switch"),
    path("organisation/settings/", views.organisation_settings_view, name="organisation_settings"),
    path("organisations/new/", views.organisation_create_view, name="organisation_create"),
    path("o/<slug:slug>/logo", views.organisation_logo_view, name="organisation_logo"),
    path("o/<slug:slug>/theme.css", views.organisation_theme_view, name="organisation_theme"),
    path("members/", views.member_list_view, name="members"),
    path("members/<int:user_id>/", views.member_detail_view, name="member_detail"),
    path(
        "members/<int:user_id>/deactivate/",
        views.member_action_view,
        {"action": "deactivate"},
        name="member_deactivate",
    ),
    path(
        "members/<int:user_id>/reactivate/",
        views.member_action_view,
        {"action": "reactivate"},
        name="member_reactivate",
    ),
    path("members/<int:user_id>/remove/", views.member_action_view, {"action": "remove"}, name="member_remove"),
]
