from django.urls import path

from domains.accounts import views

app_name = "accounts"

urlpatterns = [
    path("settings/", views.account_settings_view, name="settings"),
    path("organisation/switch/", views.organisation_switch_view, name="organisation_switch"),
    path("members/", views.member_list_view, name="members"),
    path("members/<int:user_id>/", views.member_detail_view, name="member_detail"),
]
