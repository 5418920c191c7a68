from django.urls import path

from domains.coaching import thread_views

app_name = "coach"

urlpatterns = [
    path("", thread_views.thread_list, name="thread_list"),
    path("new/", thread_views.thread_create, name="thread_create"),
    path("<int:thread_id>/", thread_views.thread_page, name="thread"),
    path("<int:thread_id>/rename/", thread_views.thread_rename, name="thread_rename"),
    path("<int:thread_id>/delete/", thread_views.thread_delete, name="thread_delete"),
]
