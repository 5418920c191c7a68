from django.urls import path

from domains.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.list_view, name="list"),
    path("preferences/", views.preferences_view, name="preferences"),
    path("read-all/", views.read_all_view, name="read_all"),
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("<str:notification_id>/open/", views.open_view, name="open"),
    path("<str:notification_id>/read/", views.read_view, name="read"),
]
