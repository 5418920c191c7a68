from django.urls import path

from domains.lounges import views

app_name = "lounges"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("<slug:slug>/join/", views.join, name="join"),
    path("<slug:slug>/leave/", views.leave, name="leave"),
]
