from django.urls import path

from domains.lounges import views

app_name = "lounges"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("<slug:slug>/", views.room, name="room"),
    path("<slug:slug>/moderation/", views.moderation_log, name="moderation_log"),
    path("<slug:slug>/join/", views.join, name="join"),
    path("<slug:slug>/leave/", views.leave, name="leave"),
]
