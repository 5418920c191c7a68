from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "domains.ai"
    label = "ai"
    verbose_name = "AI providers, usage and quotas"

    def ready(self) -> None:
        from domains.accounts.settings_sections import settings_section
        from domains.ai.org_settings import AISettingsForm, ai_defaults_load, ai_defaults_save

        settings_section(
            key="ai", title="AI", form_class=AISettingsForm, load=ai_defaults_load, save=ai_defaults_save, order=20
        )
