from django.apps import AppConfig


class LoungesConfig(AppConfig):
    name = "domains.lounges"
    label = "lounges"
    verbose_name = "Lounges: live rooms with an AI coach"
