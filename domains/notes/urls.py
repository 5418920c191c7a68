from django.urls import path

from domains.notes import views

app_name = "notes"

urlpatterns = [
    path("", views.note_list, name="list"),
    path("search/", views.note_search, name="search"),
    path("new/", views.note_create, name="create"),
    path("preview/", views.note_preview, name="preview"),
    path("<int:note_id>/", views.note_detail, name="detail"),
    path("<int:note_id>/edit/", views.note_edit, name="edit"),
    path("<int:note_id>/delete/", views.note_delete, name="delete"),
]
