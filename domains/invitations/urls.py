from django.urls import path

from domains.invitations import views

app_name = "invitations"

urlpatterns = [
    path("", views.list_view, name="list"),
    path("accept/<str:token>/", views.accept_view, name="accept"),
    path("<str:invitation_id>/resend/", views.resend_view, name="resend"),
    path("<str:invitation_id>/revoke/", views.revoke_view, name="revoke"),
]
