from django.urls import path

from domains.coach import views

app_name = "coach"

urlpatterns = [
    path("", views.thread_list, name="thread_list"),
    path("new/", views.thread_create, name="thread_create"),
    path("<int:thread_id>/", views.thread_page, name="thread"),
    path("<int:thread_id>/rename/", views.thread_rename, name="thread_rename"),
    path("<int:thread_id>/delete/", views.thread_delete, name="thread_delete"),
]
