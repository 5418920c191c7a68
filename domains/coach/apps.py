from django.apps import AppConfig


class CoachConfig(AppConfig):
    name = "domains.coach"
    label = "coach"
    verbose_name = "Coach: private coach threads"
