from django.urls import path

from domains.tokens import views

app_name = "tokens"

urlpatterns = [
    path("", views.list_view, name="list"),
    path("<str:token_id>/revoke/", views.revoke_view, name="revoke"),
]
