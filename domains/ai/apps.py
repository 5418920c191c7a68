from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "domains.ai"
    label = "ai"
    verbose_name = "AI providers, usage and quotas"
