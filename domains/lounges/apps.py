from django.apps import AppConfig


class LoungesConfig(AppConfig):
    name = "domains.lounges"
    label = "lounges"
    verbose_name = "Lounges: live rooms with an AI coach"

    def ready(self) -> None:
        from domains.lounges import notices  # noqa: F401 - registers the lounges' notification kinds
