from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "domains.notes"
    label = "notes"
    verbose_name = "Notes: Markdown notes, their passages and retrieval"
