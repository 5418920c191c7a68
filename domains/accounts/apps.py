from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "domains.accounts"
    label = "accounts"
    verbose_name = "Accounts and organisations"

    def ready(self) -> None:
        from domains.accounts import (
            signals,  # noqa: F401  (connects the identity receivers)
            social,  # noqa: F401  (connects the social-login audit receivers)
        )
        from domains.accounts.forms import OrganisationGeneralForm
        from domains.accounts.services import organisation_general_load, organisation_general_save
        from domains.accounts.settings_sections import settings_section

        settings_section(
            key="general",
            title="General",
            form_class=OrganisationGeneralForm,
            load=organisation_general_load,
            save=organisation_general_save,
            order=10,
        )
