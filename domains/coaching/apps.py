from django.apps import AppConfig


class CoachingConfig(AppConfig):
    name = "domains.coaching"
    label = "coaching"
    verbose_name = "Coaching: notes, retrieval and private coach threads"
